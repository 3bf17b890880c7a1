"""Makefile targets that touch the working tree."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.conftest import PROJECT_DIR


def test_make_clean_removes_outputs_but_keeps_tracked_files(tmp_path: Path) -> None:
    shutil.copy(PROJECT_DIR / "Makefile", tmp_path / "Makefile")
    warehouse = tmp_path / "data" / "warehouse"
    warehouse.mkdir(parents=True)
    (warehouse / ".gitkeep").write_text("")
    (warehouse / "dev.duckdb").write_text("x")
    (warehouse / "dbt_target").mkdir()
    (tmp_path / "data" / "sqlite3").mkdir()
    (tmp_path / "target").mkdir()
    done = subprocess.run(["make", "clean"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in warehouse.iterdir()) == [".gitkeep"]
    assert not (tmp_path / "data" / "sqlite3").exists() and not (tmp_path / "target").exists()
