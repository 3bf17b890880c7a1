"""Messy input (datagen.messy): every row and layout kind together in one run, each broken-file kind alone.

Every kind is injected into the same clean 300-user sample. Row dirt must
add exactly the expected counts to the audit models and leave the published
ranking identical to the clean run's; structural dirt must stop the run
before dbt with messages naming file, line and column, and leave the last
good ranking in place.
"""
from __future__ import annotations

import json
import shutil
import sqlite3
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from datagen.messy import FATAL_KINDS, LAYOUT_KINDS, ROW_KINDS, Expected, expand, make_messy
from pipeline.input_check import InputError, check_inputs
from tests.conftest import REFERENCE_SEED, ReferenceRun, run_module

SEED = REFERENCE_SEED  # the dirt's seed, as the clean sample's
RANKING_COLUMNS = ("user_handle, rank, similar_user_handle, round(score, 9), round(score_interests, 9),"
                   " round(score_assessments, 9), round(score_course_views, 9), shared_interests,"
                   " shared_course_tags, shared_courses, shared_assessments")


def ranking(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as con:
        return con.execute(f"select {RANKING_COLUMNS} from user_ranking order by user_handle, rank").fetchall()


def audits(workdir: Path) -> tuple[dict[str, Counter[str]], dict[str, Counter[str]]]:
    """(dropped, cleaned) counts per table from the run's warehouse."""
    con = duckdb.connect(str(workdir / "warehouse" / "dev.duckdb"), read_only=True)
    try:
        dropped: dict[str, Counter[str]] = {}
        for table, reason, n in con.sql("select * exclude (sample_raw_records) from audit_dropped_rows").fetchall():
            dropped.setdefault(table, Counter())[reason] = n
        cleaned: dict[str, Counter[str]] = {}
        for table, rule, n in con.sql("select * exclude (sample_raw_records) from audit_cleaned_rows").fetchall():
            cleaned.setdefault(table, Counter())[rule] = n
    finally:
        con.close()
    return dropped, cleaned


def minus(after: dict[str, Counter[str]], before: dict[str, Counter[str]]) -> dict[str, dict[str, int]]:
    tables = set(after) | set(before)
    diff = {t: dict(after.get(t, Counter()) - before.get(t, Counter())) for t in tables}
    return {t: d for t, d in diff.items() if d}


def as_dict(counts: dict[str, Counter[str]]) -> dict[str, dict[str, int]]:
    return {t: dict(c) for t, c in counts.items() if c}


@pytest.fixture(scope="module")
def clean(reference_run: ReferenceRun) -> dict[str, object]:
    """The clean sample (the session's reference run), its published ranking and its audit counts."""
    dropped, cleaned = audits(reference_run.workdir)
    return {"data": reference_run.data, "db": reference_run.db, "ranking": ranking(reference_run.db),
            "dropped": dropped, "cleaned": cleaned}


@pytest.mark.slow
def test_row_dirt_is_counted_exactly_and_never_reaches_the_ranking(clean: dict, tmp_path: Path) -> None:
    """Every row and layout kind at once, in one real run.

    The kinds touch disjoint rows, so the combined expectation is the sum of
    the single kinds' ones (test_combined_dirt_expects_the_sum_of_its_kinds,
    no pipeline needed); a miscount shows as the (table, rule) it is in, which
    names the kind. One run instead of one per kind keeps the suite fast.
    """
    assert set(expand(["all-rows"])) == {*ROW_KINDS, *LAYOUT_KINDS}
    expected = make_messy(clean["data"], tmp_path / "raw", ["all-rows"], seed=SEED)
    assert not expected.fails
    result = run_module("pipeline", ["--data-dir", str(tmp_path / "raw"), "--sqlite-path", str(tmp_path / "r.db")],
                        tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    dropped, cleaned = audits(tmp_path)
    assert minus(dropped, clean["dropped"]) == as_dict(expected.dropped)
    assert minus(cleaned, clean["cleaned"]) == as_dict(expected.cleaned)
    for note in expected.notes:
        assert note in result.stdout
    assert ranking(tmp_path / "r.db") == clean["ranking"]


@pytest.mark.parametrize("kind", [*FATAL_KINDS, "all-files"])
def test_broken_files_stop_the_run_before_dbt_and_keep_the_last_ranking(
        kind: str, clean: dict, tmp_path: Path) -> None:
    expected = make_messy(clean["data"], tmp_path / "raw", [kind], seed=SEED)
    db = tmp_path / "r.db"
    shutil.copy(clean["db"], db)
    result = run_module("pipeline", ["--data-dir", str(tmp_path / "raw"), "--sqlite-path", str(db)], tmp_path)
    assert result.returncode == 1
    assert "raw input rejected, nothing was built or published" in result.stderr
    for error in expected.errors:
        assert error in result.stderr
    problems = [line for line in result.stderr.splitlines() if line.startswith("  ")]
    assert len(problems) == len(expected.errors), result.stderr  # one line per problem, nothing else
    assert "[2/3] build" not in result.stdout
    assert not (tmp_path / "warehouse" / "dev.duckdb").exists()
    assert ranking(db) == clean["ranking"]
    with sqlite3.connect(db) as con:
        failed = con.execute("select error from ranking_runs where status = 'failed'").fetchall()
    assert len(failed) == 1 and expected.errors[0] in failed[0][0]


def test_combined_dirt_expects_the_sum_of_its_kinds(clean: dict, tmp_path: Path) -> None:
    """Kinds use disjoint rows, so all-rows' expectation is the sum of the single kinds' ones."""
    combined = make_messy(clean["data"], tmp_path / "all", ["all-rows"], seed=SEED)
    total = Expected(kinds=[])
    for kind in expand(["all-rows"]):
        single = make_messy(clean["data"], tmp_path / kind, [kind], seed=SEED)
        for table in single.dropped:
            total.dropped[table].update(single.dropped[table])
            total.cleaned[table].update(single.cleaned[table])
    assert combined.to_json() == Expected(combined.kinds, total.dropped, total.cleaned,
                                          notes=combined.notes).to_json()
    written = json.loads((tmp_path / "all" / "EXPECTED_DIRT.json").read_text())
    assert written["ranking_unchanged"] and written["dropped"]["user_course_views"]["unknown_course"] == 5


def test_unknown_dirt_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown dirt 'mud'"):
        expand(["duplicates", "mud"])


# -- the input check on hand-written files (no dbt) ---------------------------------------------
HEADERS = {
    "user_interests": "user_handle,interest_tag,date_followed",
    "user_assessment_scores": "user_handle,assessment_tag,user_assessment_date,user_assessment_score",
    "user_course_views": "user_handle,view_date,course_id,author_handle,level,view_time_seconds",
    "course_tags": "course_id,course_tags",
}
ROWS = {
    "user_interests": "1,python,2017-01-01 00:00:00",
    "user_assessment_scores": "1,python,2017-01-01 00:00:00,150",
    "user_course_views": "1,2017-01-01,c1,9,Beginner,60",
    "course_tags": "c1,python",
}


def write_raw(folder: Path, **overrides: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for table, header in HEADERS.items():
        data = overrides.get(table, f"{header}\n{ROWS[table]}\n".encode())
        (folder / f"{table}.csv").write_bytes(data)
    return folder


def problems_of(folder: Path) -> list[str]:
    with pytest.raises(InputError) as caught:
        check_inputs(folder, "csv")
    return caught.value.problems


def test_well_formed_files_pass_with_crlf_bom_and_any_column_order(tmp_path: Path) -> None:
    views = b"\xef\xbb\xbfview_time_seconds,level,author_handle,course_id,view_date,user_handle,note\r\n" \
            b"60,Beginner,9,c1,2017-01-01,1,\"a, b\"\r\n"
    checks = check_inputs(write_raw(tmp_path, user_course_views=views), "csv")
    assert checks["user_course_views"].columns == [
        "view_time_seconds", "level", "author_handle", "course_id", "view_date", "user_handle", "note"]
    assert checks["user_course_views"].ignored == ["note"]
    assert checks["user_course_views"].rows == 1


@pytest.mark.parametrize(("data", "problem"), [
    (b"user_handle,interest_tag,interest_tag,date_followed\n1,a,b,2017-01-01\n",
     "user_interests.csv line 1 (header): column(s) interest_tag appear more than once"),
    (b"user_handle,interest_tag,date_followed\n1,a,2017-01-01,x\n",
     "user_interests.csv line 2: too many fields (4 of 3)"),
    (b'user_handle,interest_tag,date_followed\n1,"a,2017-01-01\n2,b,2017-01-01\n',
     "user_interests.csv line 2, column interest_tag: a quote is opened but never closed"),
    (b"user_handle\tinterest_tag\tdate_followed\n1\ta\t2017-01-01\n",
     "user_interests.csv line 1 (header): not comma-separated (it looks '\\t'-separated)"),
    (b"\xff\xfeu\x00s\x00", "user_interests.csv line 1 (header): byte 0xff is not UTF-8"),
    (b"   \n", "user_interests.csv: the file is empty"),
])
def test_each_structural_problem_is_named(tmp_path: Path, data: bytes, problem: str) -> None:
    found = problems_of(write_raw(tmp_path, user_interests=data))
    assert len(found) == 1 and found[0].startswith(problem), found


def test_a_header_without_rows_is_a_table_not_available(tmp_path: Path) -> None:
    checks = check_inputs(write_raw(tmp_path, user_interests=b"user_handle,interest_tag,date_followed\n"), "csv")
    assert checks["user_interests"].rows == 0 and checks["course_tags"].rows == 1


def test_many_bad_lines_are_summarised(tmp_path: Path) -> None:
    body = b"".join(b"%d,a\n" % i for i in range(1, 11))
    found = problems_of(write_raw(tmp_path, user_interests=b"user_handle,interest_tag,date_followed\n" + body))
    assert [p.split(":")[0] for p in found] == [
        "user_interests.csv line 2, column date_followed", "user_interests.csv line 3, column date_followed",
        "user_interests.csv line 4, column date_followed", "user_interests.csv"]
    assert found[-1] == "user_interests.csv: 7 more line(s) with problems"


def test_parquet_files_are_checked_for_columns(tmp_path: Path) -> None:
    con = duckdb.connect()
    for table, header in HEADERS.items():
        columns = header.split(",")
        if table == "course_tags":
            columns = columns[:1]  # course_tags lacks its tag column
        select = ", ".join(f"'x' as {c}" for c in columns)
        con.sql(f"copy (select {select}) to '{tmp_path / table}.parquet' (format parquet)")
    (tmp_path / "user_interests.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(InputError) as caught:
        check_inputs(tmp_path, "parquet")
    assert [p.split(" (")[0] for p in caught.value.problems] == [
        "user_interests.parquet: not a readable Parquet file",
        "course_tags.parquet: missing column(s) course_tags",
    ]


def test_a_value_starting_with_hash_is_data_not_a_comment(tmp_path: Path) -> None:
    """The CSV dialect is fixed (comment = ''): a line starting with '#' is checked and read as a row."""
    interests = b"user_handle,interest_tag,date_followed\n#1,python,2017-01-01\n2,r,2017-01-01\n"
    assert check_inputs(write_raw(tmp_path, user_interests=interests), "csv")["user_interests"].rows == 2
    from contracts.raw import csv_options

    read = duckdb.sql(f"select user_handle from read_csv('{tmp_path / 'user_interests.csv'}', {csv_options()})")
    assert read.fetchall() == [("#1",), ("2",)]  # dbt's reader keeps it too; staging then drops it as invalid
