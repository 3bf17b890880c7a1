"""benchmarks.svd_solver reads a warehouse's feature table and reports the fit the dbt model would make."""
from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pytest

from benchmarks.svd_solver import main


def test_reports_the_time_requests_and_components_of_a_real_warehouse_table(tmp_path: Path, capsys) -> None:
    rng = np.random.default_rng(3)
    users, features = 400, 1_500  # more features than users and than the dense limit: the partial path
    rows = [(int(u), f"course-{int(f)}", float(rng.uniform(0.1, 1.0)))
            for u in range(1, users + 1) for f in rng.choice(features, size=12, replace=False)]
    warehouse = tmp_path / "dev.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create table int_course_view_features (user_handle bigint, feature varchar, value double)")
        con.executemany("insert into int_course_view_features values (?, ?, ?)", rows)
    main(["--warehouse", str(warehouse), "--target", "0.4"])
    line = capsys.readouterr().out
    assert line.startswith("course_views: ")
    assert f"{len(rows):,} feature rows" in line
    components = int(line.split(" components")[0].rsplit(" ", 1)[1])
    assert 0 < components < users
    assert "peak RSS" in line


def test_an_unknown_signal_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        main(["--warehouse", str(tmp_path / "x.duckdb"), "--signal", "ratings"])
