"""The staging layer on a dirty fixture and on the real sample tables.

Each test runs the real pipeline (one dbt build) as a subprocess and then
queries the DuckDB warehouse it built.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from tests.conftest import FIXTURES, require_real_data

DIRTY_EXPECTED = {  # tests/raw_fixtures/dirty/EXPECTED.md, row by row
    "user_interests": (10, 5, {"duplicate": 1, "missing_tag": 1, "invalid_user_handle": 1,
                               "missing_user_handle": 1, "invalid_date": 1}),
    "user_assessment_scores": (8, 3, {"duplicate": 1, "invalid_score": 1, "score_out_of_range": 1, "invalid_date": 1,
                                      "missing_tag": 1}),
    "user_course_views": (10, 3, {"duplicate": 1, "negative_view_time": 1, "invalid_level": 1,
                                  "invalid_view_time": 1, "invalid_date": 1, "missing_course_id": 1,
                                  "invalid_user_handle": 1}),
    "course_tags": (6, 3, {"duplicate": 1, "missing_tag": 1, "missing_course_id": 1}),
}


def warehouse(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(tmp_path / "warehouse" / "dev.duckdb"), read_only=True)


def dropped(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, int]:
    rows = con.sql(
        f"select drop_reason, dropped_rows from audit_dropped_rows where source_table = '{table}'").fetchall()
    return dict(rows)


@pytest.mark.slow
def test_dirty_fixture_drops_exactly_the_documented_rows(tmp_path: Path, run_pipeline) -> None:
    # the fixture is mostly dirt: 7 of its 10 course views are dropped
    result = run_pipeline("--data-dir", str(FIXTURES / "dirty"), "--sqlite-path", str(tmp_path / "r.db"),
                          "--max-drop-share", "0.8")
    assert result.returncode == 0, result.stdout + result.stderr
    con = warehouse(tmp_path)
    for table, (raw, kept, reasons) in DIRTY_EXPECTED.items():
        assert con.sql(f"select count(*) from stg_{table}").fetchall()[0][0] == kept, table
        assert dropped(con, table) == reasons, table
        assert kept + sum(reasons.values()) == raw
    interests = con.sql("select user_handle, interest_tag from stg_user_interests order by all").fetchall()
    assert interests == [(1, "data-science"), (1, "python"), (2, "python"), (3, "machine-learning"), (3, "r")]
    assert con.sql("select assessment_score from stg_user_assessment_scores where user_handle = 1").fetchall() == [
        (180.0,)]
    cleaned = con.sql("select source_table, clean_rule, cleaned_rows from audit_cleaned_rows order by all").fetchall()
    assert cleaned == [("course_tags", "tag_normalised", 1), ("user_course_views", "level_normalised", 1),
                       ("user_interests", "tag_normalised", 1)]
    samples = con.sql("select sample_raw_records from audit_dropped_rows where drop_reason = 'invalid_user_handle'"
                      " and source_table = 'user_interests'").fetchall()[0][0]
    assert '"user_handle":"abc"' in samples[0]


@pytest.mark.slow
def test_real_sample_tables_keep_their_known_counts(tmp_path: Path, run_pipeline) -> None:
    real = require_real_data()
    raw = tmp_path / "raw"
    raw.mkdir()
    shutil.copy(real / "course_tags.csv", raw)
    shutil.copy(real / "user_assessment_scores.csv", raw)
    # the two tables that are not shared: header only, i.e. not available
    (raw / "user_interests.csv").write_text("user_handle,interest_tag,date_followed\n")
    (raw / "user_course_views.csv").write_text(
        "user_handle,view_date,course_id,author_handle,level,view_time_seconds\n")
    result = run_pipeline("--data-dir", str(raw), "--sqlite-path", str(tmp_path / "r.db"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "user_interests.csv has no rows: the table is treated as not available" in result.stdout
    con = warehouse(tmp_path)
    course_tags = dropped(con, "course_tags")
    assert course_tags["missing_tag"] == 112
    kept_tags = con.sql("select count(*) from stg_course_tags").fetchall()[0][0]
    assert kept_tags + sum(course_tags.values()) == 11_337
    assert con.sql("select count(distinct course_id) from base_course_tags").fetchall()[0][0] == 5_942
    assert dropped(con, "user_assessment_scores") == {}
    assert con.sql("select count(*), count(distinct user_handle), count(distinct assessment_tag)"
                   " from stg_user_assessment_scores").fetchall()[0] == (6_571, 3_114, 54)
    bins = con.sql("select bin_label, lower_bound, upper_bound from int_assessment_score_bins"
                   " order by bin_number").fetchall()
    assert bins == [("low", None, 117.0), ("medium", 117.0, 168.0), ("high", 168.0, None)]
    ranked = con.sql("select count(distinct user_handle) from user_ranking").fetchall()[0][0]
    assert ranked == 3_114
