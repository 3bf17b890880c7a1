"""``python -m pipeline`` end to end: real dbt build, real SQLite, real failures."""
from __future__ import annotations

import csv
import json
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from tests.conftest import (
    FIXTURES,
    PROJECT_DIR,
    REFERENCE_SEED,
    REFERENCE_USERS,
    ReferenceRun,
    pipeline_env,
    run_module,
)

pytestmark = pytest.mark.e2e
# the hand derivation uses the original system's features: no IDF, no engagement, no course identity
ORIGINAL_FEATURES = ("--feature-weighting", "none", "--engagement", "none", "--no-course-identity")


def dump(db: Path, table: str) -> list[tuple]:
    with sqlite3.connect(db) as con:
        return con.execute(f'select * from "{table}" order by user_handle, rank, run_id').fetchall()


@pytest.mark.slow
def test_hand_checked_fixture_reproduces_the_hand_derived_ranking(tmp_path: Path, run_pipeline) -> None:
    db = tmp_path / "r.db"
    result = run_pipeline("--data-dir", str(FIXTURES / "hand_checked"), "--sqlite-path", str(db), "--variance", "1.0",
                          "--smoothing-neighbours", "0", "--weights", "0.5", "0.3", "0.2", *ORIGINAL_FEATURES)
    assert result.returncode == 0, result.stdout + result.stderr
    got = sqlite3.connect(db).execute(
        "select user_handle, rank, similar_user_handle, score from user_ranking order by 1, 2").fetchall()
    with open(FIXTURES / "hand_checked" / "expected_ranking.csv") as fh:
        want = [(int(r["user_handle"]), int(r["rank"]), int(r["similar_user_handle"]), float(r["score"]))
                for r in csv.DictReader(fh)]
    assert [g[:3] for g in got] == [w[:3] for w in want]
    assert [g[3] for g in got] == pytest.approx([w[3] for w in want], abs=1e-5)
    reasons = sqlite3.connect(db).execute(
        "select shared_interests, shared_assessments from user_ranking where user_handle = 8 and rank = 2").fetchone()
    assert json.loads(reasons[0]) == []
    assert json.loads(reasons[1]) == [{"tag": "java", "user_bin": "low", "similar_user_bin": "high"}]


@pytest.mark.slow
def test_a_rerun_with_other_settings_swaps_in_beside_an_open_analyst_connection(
        tmp_path: Path, reference_run: ReferenceRun) -> None:
    """The reference run (defaults), then a rerun into the same table with other settings while a
    read-only connection stays open on the warehouse, as in a notebook: one real run for both the
    atomic swap with its history and the analysts never blocking a run, nor it them."""
    db = reference_run.copy_to(tmp_path)  # a published run, as if made here
    generated = reference_run.data
    for step in ("[1/3] input", "[2/3] build", "[3/3] publish", "user_ranking"):
        assert step in reference_run.stdout
    con = sqlite3.connect(db)
    users = con.execute("select count(distinct user_handle) from user_ranking").fetchone()[0]
    assert users == REFERENCE_USERS
    assert con.execute("select count(*) from user_ranking group by user_handle having count(*) <> 5").fetchall() == []
    assert con.execute("select count(*) from user_ranking where user_handle = similar_user_handle").fetchone()[0] == 0
    assert con.execute("select min(score) >= -1 and max(score) <= 1 from user_ranking").fetchone()[0] == 1
    unsorted = con.execute(
        "select count(*) from user_ranking a join user_ranking b"
        " on a.user_handle = b.user_handle and b.rank = a.rank + 1 where b.score > a.score").fetchone()[0]
    assert unsorted == 0
    (run1,) = con.execute("select distinct run_id from user_ranking").fetchone()
    # auto is exact at 300 users; the recall mart checks it against its own exact sample
    assert con.execute("select topk_method, recall_at_k, recall_sample from ranking_runs").fetchall() == [
        ("exact", 1.0, 300)]
    con.close()

    warehouse = tmp_path / "warehouse"
    assert warehouse_run_ids(warehouse / "dev.duckdb") == {run1}
    analyst = duckdb.connect(str(warehouse / "dev.duckdb"), read_only=True)  # left open, as in a notebook
    run = subprocess.Popen([sys.executable, "-m", "pipeline", "--data-dir", str(generated), "--sqlite-path", str(db),
                            "--results_table", "user_ranking", "--weights", "1", "0", "0", "--top-k", "3",
                            "--topk-method", "ann"],
                           cwd=PROJECT_DIR, env=pipeline_env(tmp_path), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 300
        while not list(warehouse.glob("dev.building-*.duckdb")):  # the run is building
            assert run.poll() is None and time.monotonic() < deadline, "the run ended before building"
            time.sleep(0.2)
        # a second reader opens the warehouse while the run builds (another process, as a second analyst)
        assert warehouse_run_ids(warehouse / "dev.duckdb") == {run1}
        output = run.communicate(timeout=300)[0]
    finally:
        run.kill()
    assert run.returncode == 0, output

    con = sqlite3.connect(db)
    runs = con.execute("select run_id, status, params from ranking_runs order by publish_seq").fetchall()
    assert [r[1] for r in runs] == ["published", "published"] and runs[0][0] == run1
    assert json.loads(runs[1][2])["weight_interests"] == 1.0
    (run2,) = con.execute("select distinct run_id from user_ranking").fetchone()
    assert run2 != run1
    assert con.execute("select count(*) from user_ranking").fetchone()[0] == 900
    method, recall, sample = con.execute(
        "select topk_method, recall_at_k, recall_sample from ranking_runs where run_id = ?", (run2,)).fetchone()
    assert (method, sample) == ("ann", 300) and recall >= 0.95
    assert con.execute("select count(*) from user_ranking group by user_handle having count(*) <> 3").fetchall() == []
    # with only the interest weight, the score is the interest cosine
    assert con.execute("select max(abs(score - score_interests)) from user_ranking").fetchone()[0] < 1e-5
    history = dict(con.execute("select run_id, count(*) from user_ranking_history group by run_id").fetchall())
    assert history == {run1: 1500, run2: 900}
    con.close()

    # the open connection keeps the build it opened; a new one sees the new build
    assert analyst.sql("select distinct run_id from user_ranking").fetchall() == [(run1,)]
    assert analyst.execute("select count(*) from user_ranking").fetchone() == (1500,)
    # with the notebook still open, dbt show works on every model through the read-only target
    shown = dbt_show_every_model(tmp_path, generated)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    models = {p.stem for p in (PROJECT_DIR / "models").rglob("*.sql")} | {
        p.stem for p in (PROJECT_DIR / "python_models").rglob("*.py")}
    assert json.loads(shown.stdout.splitlines()[-1]) == {m: "success" for m in models}
    analyst.close()
    assert warehouse_run_ids(warehouse / "dev.duckdb") == {run2}
    assert sorted(p.name for p in warehouse.glob("dev*")) == ["dev.duckdb"]


@pytest.mark.slow
def test_failing_dbt_tests_leave_published_ranking_unchanged_and_name_their_reasons(
        tmp_path: Path, run_pipeline, reference_run: ReferenceRun) -> None:
    """Two independent breakages in one run, each caught by its own dbt test on its own branch."""
    db = reference_run.copy_to(tmp_path)  # a published run, as if made here
    generated = reference_run.data
    before = (dump(db, "user_ranking"), dump(db, "user_ranking_history"))
    broken = tmp_path / "broken"
    shutil.copytree(generated, broken)
    # every score equal: the quantile bins cannot hold a third each, so a dbt test fails
    lines = (broken / "user_assessment_scores.csv").read_text().splitlines()
    rows = [",".join(line.split(",")[:3] + ["150"]) for line in lines[1:]]
    (broken / "user_assessment_scores.csv").write_text("\n".join([lines[0], *rows]) + "\n")
    # a changed export format, every view date as 31.12.2020: cleaning would drop every view, and
    # the drop-share guard stops the run instead of ranking without the views
    views = broken / "user_course_views.csv"
    lines = views.read_text().splitlines()
    i = lines[0].split(",").index("view_date")
    reformatted = []
    for line in lines[1:]:
        cells = line.split(",")
        year, month, day = cells[i].split("-")
        cells[i] = f"{day}.{month}.{year}"
        reformatted.append(",".join(cells))
    views.write_text("\n".join([lines[0], *reformatted]) + "\n")
    result = run_pipeline("--data-dir", str(broken), "--sqlite-path", str(db))
    assert result.returncode == 1
    assert "bins_hold_share_int_assessment_scores_binned" in result.stderr
    assert "user_course_views_drop_share_at_most_max_drop_share" in result.stderr
    assert f"user_course_views: cleaning dropped {len(reformatted):,} of {len(reformatted):,} rows" \
           f" (invalid_date {len(reformatted):,})" in result.stderr
    assert (dump(db, "user_ranking"), dump(db, "user_ranking_history")) == before
    statuses = [r[0] for r in sqlite3.connect(db).execute("select status from ranking_runs order by started_at")]
    assert sorted(statuses) == ["failed", "published"]
    # the analysts' warehouse still holds the published run; the failed build is kept beside it
    warehouse = tmp_path / "warehouse"
    assert warehouse_run_ids(warehouse / "dev.duckdb") == {before[0][0][-2]}
    assert f"the failed build is kept at {warehouse / 'dev.failed.duckdb'}" in result.stderr
    con = duckdb.connect(str(warehouse / "dev.failed.duckdb"), read_only=True)
    assert con.execute("select count(distinct assessment_score) from stg_user_assessment_scores").fetchone() == (1,)
    con.close()
    assert list(warehouse.glob("*.building-*")) == []


def warehouse_run_ids(path: Path) -> set[str]:
    """Run ids in a warehouse file, read by a separate process (DuckDB caches open files per process)."""
    code = ("import duckdb, sys; con = duckdb.connect(sys.argv[1], read_only=True);"
            " print(*[r[0] for r in con.sql('select distinct run_id from user_ranking').fetchall()])")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def dbt_show_every_model(workdir: Path, data_dir: Path) -> subprocess.CompletedProcess:
    """``dbt show --target analyst`` of every model in one dbt invocation; prints {model: status} as JSON."""
    code = ("import json, sys; from dbt.cli.main import dbtRunner;"
            " res = dbtRunner().invoke(['show', '--profiles-dir', '.', '--target', 'analyst', '--limit', '1',"
            " '-s', 'resource_type:model', '--vars', json.dumps({'data_dir': sys.argv[1]}), '--quiet',"
            " '--target-path', sys.argv[2], '--log-path', sys.argv[3]]);"
            " print(json.dumps({r.node.name: str(r.status) for r in (res.result or [])"
            " if r.node.resource_type == 'model'}))")
    args = [str(data_dir), str(workdir / "show_target"), str(workdir / "show_logs")]  # not the project's target/
    return subprocess.run([sys.executable, "-c", code, *args], cwd=PROJECT_DIR, env=pipeline_env(workdir),
                          capture_output=True, text=True, timeout=300)


def test_corrupt_input_file_fails_cleanly(tmp_path: Path, run_pipeline, reference_run: ReferenceRun) -> None:
    db = reference_run.copy_to(tmp_path)  # a published run, as if made here
    generated = reference_run.data
    before = dump(db, "user_ranking")
    broken = tmp_path / "broken"
    shutil.copytree(generated, broken)
    with open(broken / "user_interests.csv", "a") as fh:
        fh.write('1,"unterminated,2017-01-01 00:00:00,extra,fields\n')
    result = run_pipeline("--data-dir", str(broken), "--sqlite-path", str(db))
    assert result.returncode == 1
    lines = sum(1 for _ in (broken / "user_interests.csv").open())
    assert f"user_interests.csv line {lines}, column interest_tag: a quote is opened but never closed" \
        in result.stderr
    assert "[2/3] build" not in result.stdout
    assert dump(db, "user_ranking") == before


@pytest.mark.parametrize("args, message", [
    (["--weights", "0", "0", "0"], "at least one weight must be positive"),
    (["--weights", "1", "-1", "0"], "must be a finite number >= 0"),
    (["--results_table", "bad name"], "invalid table name"),
    (["--top-k", "0"], "--top-k must be between 1 and 1000"),
    (["--variance", "1.5"], "--variance must be in (0, 1]"),
])
def test_bad_parameters_fail_before_dbt_runs(tmp_path: Path, run_pipeline, args, message) -> None:
    result = run_pipeline("--data-dir", str(FIXTURES / "dirty"), "--sqlite-path", str(tmp_path / "r.db"), *args)
    assert result.returncode == 1
    assert message in result.stderr
    assert "[2/3] build" not in result.stdout


def test_missing_input_files_are_named(tmp_path: Path, run_pipeline) -> None:
    (tmp_path / "empty").mkdir()
    result = run_pipeline("--data-dir", str(tmp_path / "empty"), "--sqlite-path", str(tmp_path / "r.db"))
    assert result.returncode == 1
    assert "user_interests.csv" in result.stderr


def test_help_documents_every_flag(tmp_path: Path) -> None:
    result = run_module("pipeline", ["--help"], tmp_path)
    assert result.returncode == 0
    for flag in ("--env", "--results_table", "--data-dir", "--sqlite-path", "--weights", "--top-k",
                 "--variance", "--max-drop-share", "--keep-runs", "--topk-executor", "--topk-block-rows"):
        assert flag in result.stdout


@pytest.mark.slow
def test_parquet_input_gives_the_same_ranking_as_csv(tmp_path: Path, run_pipeline,
                                                    reference_run: ReferenceRun) -> None:
    """The reference run read the CSV export; the same tables as Parquet rank the same (into a table named here)."""
    parquet = tmp_path / "parquet"
    made = run_module("datagen", ["--users", str(REFERENCE_USERS), "--seed", str(REFERENCE_SEED),
                                  "--out", str(parquet), "--format", "parquet"], tmp_path)
    assert made.returncode == 0, made.stderr
    assert not list(parquet.glob("*.csv"))
    assert "(csv)" in reference_run.stdout
    result = run_pipeline("--data-dir", str(parquet), "--sqlite-path", str(tmp_path / "parquet.db"),
                          "--results_table", "ranks")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "(parquet)" in result.stdout
    query = "select user_handle, rank, similar_user_handle, score from {} order by 1, 2"  # published precision
    with sqlite3.connect(reference_run.db) as csv_db, sqlite3.connect(tmp_path / "parquet.db") as parquet_db:
        assert csv_db.execute(query.format("user_ranking")).fetchall() == \
            parquet_db.execute(query.format("ranks")).fetchall()
        assert {r[0] for r in parquet_db.execute("select name from sqlite_master where type = 'table'")} >= {
            "ranks", "ranks_history", "ranking_runs"}


@pytest.mark.slow
def test_views_without_a_course_catalogue_are_kept_by_course_identity(tmp_path: Path, run_pipeline,
                                                                      generated: Path) -> None:
    """course_tags not available (header only): every view is kept and the course itself is the feature."""
    raw = tmp_path / "raw"
    shutil.copytree(generated, raw)
    (raw / "course_tags.csv").write_text("course_id,course_tags\n")
    db = tmp_path / "r.db"
    result = run_pipeline("--data-dir", str(raw), "--sqlite-path", str(db))
    assert result.returncode == 0, result.stdout + result.stderr
    con = duckdb.connect(str(tmp_path / "warehouse" / "dev.duckdb"), read_only=True)
    reasons = dict(con.execute("select drop_reason, dropped_rows from audit_dropped_rows"
                               " where source_table = 'user_course_views'").fetchall())
    assert "unknown_course" not in reasons
    raw_views = len((raw / "user_course_views.csv").read_text().splitlines()) - 1
    kept = con.execute("select count(*) from stg_user_course_views").fetchone()[0]
    assert kept + sum(reasons.values()) == raw_views and kept > 0.9 * raw_views
    with sqlite3.connect(db) as published:
        assert published.execute("select count(*) from user_ranking where score_course_views > 0").fetchone()[0] > 0
        assert published.execute("select max(n_shared_course_tags) from user_ranking").fetchone()[0] == 0
