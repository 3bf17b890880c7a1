"""Publishing to SQLite: atomic swap, history, failures that change nothing."""
from __future__ import annotations

import fcntl
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pyarrow as pa
import pytest

from pipeline.paths import check_identifier
from pipeline.publish import (
    COLUMN_NAMES,
    RunRecord,
    interrupted_message,
    new_run_id,
    publish_ranking,
    record_failed_run,
    run_lock_path,
    start_run,
    utc_now,
)


def ranking_rows(run_id: str, users: int = 50, k: int = 3, score: float = 0.5) -> pa.Table:
    handles = [u for u in range(1, users + 1) for _ in range(k)]
    ranks = [r for _ in range(users) for r in range(1, k + 1)]
    similar = [(u % users) + r for u, r in zip(handles, ranks, strict=True)]
    n = len(handles)
    data: dict[str, list] = {
        "user_handle": handles, "rank": ranks, "similar_user_handle": similar,
        "score": [score] * n, "score_interests": [score] * n, "score_assessments": [0.0] * n,
        "score_course_views": [0.0] * n, "n_shared_interests": [1] * n, "n_shared_course_tags": [0] * n,
        "n_shared_courses": [0] * n, "n_shared_assessments": [0] * n, "shared_interests": ['["python"]'] * n,
        "shared_course_tags": ["[]"] * n, "shared_courses": ["[]"] * n, "shared_assessments": ["[]"] * n,
        "run_id": [run_id] * n, "run_at": ["2026-01-01T00:00:00+00:00"] * n,
    }
    return pa.table({c: data[c] for c in COLUMN_NAMES})


def publish(db: Path, score: float = 0.5, keep: int = 5, table: str = "user_ranking") -> str:
    run = RunRecord(new_run_id(), table, utc_now(), {"score": score})
    publish_ranking(db, run, ranking_rows(run.run_id, score=score), keep_runs=keep)
    return run.run_id


def dump(db: Path, table: str) -> list[tuple]:
    with sqlite3.connect(db) as con:
        return con.execute(f'select * from "{table}" order by user_handle, rank').fetchall()


def test_publish_creates_indexed_table_history_and_run(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    run_id = publish(db)
    con = sqlite3.connect(db)
    assert con.execute("pragma journal_mode").fetchone()[0] == "wal"
    assert con.execute("select count(*), count(distinct user_handle) from user_ranking").fetchone() == (150, 50)
    plan = " ".join(str(r) for r in con.execute("explain query plan select * from user_ranking where user_handle = 3"))
    assert "USING INDEX" in plan
    status, users, rows = con.execute(
        "select status, user_count, row_count from ranking_runs where run_id = ?", (run_id,)).fetchone()
    assert (status, users, rows) == ("published", 50, 150)
    assert con.execute("select count(*) from user_ranking_history where run_id = ?", (run_id,)).fetchone()[0] == 150


def test_history_keeps_last_runs_and_prunes_older(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    runs = [publish(db, score=0.1 * i, keep=2) for i in range(1, 5)]
    con = sqlite3.connect(db)
    assert {r[0] for r in con.execute("select distinct run_id from user_ranking_history")} == set(runs[-2:])
    statuses = dict(con.execute("select run_id, status from ranking_runs"))
    assert [statuses[r] for r in runs] == ["pruned", "pruned", "published", "published"]
    assert {r[0] for r in con.execute("select distinct run_id from user_ranking")} == {runs[-1]}


def test_failed_publish_leaves_previous_ranking_untouched(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    publish(db)
    before = (dump(db, "user_ranking"), dump(db, "user_ranking_history"))
    run = RunRecord(new_run_id(), "user_ranking", utc_now(), {})
    good = ranking_rows(run.run_id).to_batches(max_chunksize=40)
    broken = pa.RecordBatch.from_pydict({"user_handle": [1]})  # lacks every other column
    with pytest.raises(ValueError, match="lack columns"):
        publish_ranking(db, run, [*good, broken])
    assert (dump(db, "user_ranking"), dump(db, "user_ranking_history")) == before
    tables = {r[0] for r in sqlite3.connect(db).execute("select name from sqlite_master where type = 'table'")}
    assert "user_ranking__new" not in tables


def test_empty_or_foreign_rankings_are_refused(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    run = RunRecord(new_run_id(), "user_ranking", utc_now(), {})
    with pytest.raises(ValueError, match="empty"):
        publish_ranking(db, run, ranking_rows(run.run_id).slice(0, 0))
    with pytest.raises(ValueError, match="run_id"):
        publish_ranking(db, run, ranking_rows("another-run"))


def test_record_failed_run_does_not_touch_ranking(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    publish(db)
    before = dump(db, "user_ranking")
    run = RunRecord(new_run_id(), "user_ranking", utc_now(), {"k": 5})
    record_failed_run(db, run, "dbt build failed: model x")
    assert dump(db, "user_ranking") == before
    row = sqlite3.connect(db).execute("select status, error from ranking_runs where run_id = ?", (run.run_id,))
    assert row.fetchone() == ("failed", "dbt build failed: model x")


@pytest.mark.parametrize("name", ["user ranking", "x;drop table y", "1abc", "", "a" * 64, 'q"uote'])
def test_table_names_are_validated(name: str) -> None:
    with pytest.raises(ValueError):
        check_identifier(name)


def test_reader_sees_old_or_new_ranking_never_a_mix(tmp_path: Path) -> None:
    """A reader polling during repeated publishes only ever sees one complete run."""
    db = tmp_path / "r.db"
    publish(db, score=0.0)
    stop = threading.Event()
    seen: list[tuple[int, int, int]] = []
    errors: list[Exception] = []

    def read() -> None:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
        while not stop.is_set():
            try:
                seen.append(con.execute(
                    "select count(*), count(distinct run_id), count(distinct score) from user_ranking").fetchone())
            except sqlite3.OperationalError as exc:  # e.g. schema changed mid-statement: retry
                if "no such table" in str(exc):
                    errors.append(exc)
        con.close()

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for i in range(1, 8):
            publish(db, score=0.1 * i)
    finally:
        stop.set()
        reader.join()
    assert not errors, errors
    assert seen and all(s == (150, 1, 1) for s in seen)


# -- crash safety: 'running' rows and interrupted runs ------------------------------
def lock_is_free(db: Path) -> bool:
    """Could a run take the file's run lock exclusively, i.e. is no run of ``db`` alive?"""
    fd = os.open(run_lock_path(db), os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


def runs(db: Path) -> dict[str, tuple]:
    con = sqlite3.connect(db)
    try:
        rows = con.execute("select run_id, status, error, finished_at is not null from ranking_runs")
        return {r[0]: r[1:] for r in rows}
    finally:
        con.close()


STARTER = """
import os, signal, sys
from pathlib import Path
from pipeline.publish import RunRecord, start_run, utc_now
start_run(Path(sys.argv[1]), RunRecord(sys.argv[2], sys.argv[3], utc_now(), {"env": sys.argv[4]}))
if sys.argv[5] == "die":
    os.kill(os.getpid(), signal.SIGKILL)
print("started", flush=True)
sys.stdin.read()  # alive until the test closes stdin or kills it
"""


def start_in_process(db: Path, run_id: str, table: str, env: str, die: bool) -> subprocess.Popen[str]:
    """A run started by another process, which then dies by SIGKILL or stays alive."""
    process = subprocess.Popen(
        [sys.executable, "-c", STARTER, str(db), run_id, table, env, "die" if die else "live"],
        cwd=Path(__file__).resolve().parent.parent, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    if die:
        assert process.wait(timeout=60) == -signal.SIGKILL
    else:
        assert process.stdout is not None and process.stdout.readline() == "started\n"
    return process


def test_started_run_is_running_until_published_and_holds_the_lock_meanwhile(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    run = RunRecord(new_run_id(), "user_ranking", utc_now(), {"env": "dev"})
    assert start_run(db, run) == []
    row = sqlite3.connect(db).execute(
        "select status, started_at, finished_at, params from ranking_runs where run_id = ?", (run.run_id,)).fetchone()
    assert row == ("running", run.started_at, None, '{"env": "dev"}')
    assert not lock_is_free(db)
    with pytest.raises(ValueError, match="already started"):
        start_run(db, run)
    publish_ranking(db, run, ranking_rows(run.run_id))
    assert runs(db)[run.run_id] == ("published", None, 1)
    assert lock_is_free(db)


def test_failed_run_releases_the_lock_and_keeps_its_own_error(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    run = RunRecord(new_run_id(), "user_ranking", utc_now(), {})
    start_run(db, run)
    record_failed_run(db, run, "dbt build failed: model x")
    assert lock_is_free(db)
    assert start_run(db, RunRecord(new_run_id(), "user_ranking", utc_now(), {})) == []
    assert runs(db)[run.run_id] == ("failed", "dbt build failed: model x", 1)


def test_dead_runs_are_marked_interrupted_but_live_ones_are_not(tmp_path: Path) -> None:
    """Only a run that finds no other live run sweeps; then it marks every dead 'running' row of the file."""
    db = tmp_path / "r.db"
    publish(db)
    live_id, dead_id = "20260101T000000Z-live00", "20260101T000001Z-dead00"
    live = start_in_process(db, live_id, "other_ranking", "prod", die=False)
    try:
        start_in_process(db, dead_id, "user_ranking", "dev", die=True)  # could not sweep: live is alive
        mine = RunRecord(new_run_id(), "user_ranking", utc_now(), {})
        assert start_run(db, mine) == [], "a live run on the same file (other env and table) blocks the sweep"
        assert runs(db)[dead_id][0] == runs(db)[live_id][0] == "running"
        publish_ranking(db, mine, ranking_rows(mine.run_id))
        second = RunRecord(new_run_id(), "user_ranking", utc_now(), {})
        assert start_run(db, second) == []
        assert runs(db)[live_id][0] == "running"
    finally:
        live.kill()
        live.wait(timeout=30)
    blocker = RunRecord(new_run_id(), "user_ranking", utc_now(), {})
    assert start_run(db, blocker) == [], "second is alive in this process and holds its lease"
    record_failed_run(db, second, "stopped by the test")
    record_failed_run(db, blocker, "stopped by the test")
    sweeper = RunRecord(new_run_id(), "user_ranking", utc_now(), {})
    assert start_run(db, sweeper) == [live_id, dead_id]
    after = runs(db)
    for run_id in (live_id, dead_id):
        assert after[run_id] == ("failed", interrupted_message(sweeper.run_id), 1)
        assert f"found by run {sweeper.run_id}" in after[run_id][1]
    assert after[mine.run_id][0] == "published"
    assert after[second.run_id] == ("failed", "stopped by the test", 1)
    assert after[sweeper.run_id] == ("running", None, 0)


def test_interrupted_publish_is_rolled_back_and_swept(tmp_path: Path) -> None:
    """A process killed inside the publish transaction: old ranking intact, run marked by the next one."""
    db = tmp_path / "r.db"
    publish(db)
    before = dump(db, "user_ranking")
    run_id = new_run_id()
    script = (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "import pipeline.publish as p\n"
        "from tests.test_publish import ranking_rows\n"
        "run = p.RunRecord(sys.argv[2], 'user_ranking', p.utc_now(), {})\n"
        "p.start_run(Path(sys.argv[1]), run)\n"
        "def batches():\n"
        "    yield from ranking_rows(run.run_id).to_batches(max_chunksize=40)\n"
        "    os.kill(os.getpid(), signal.SIGKILL)  # every row inserted, before the swap\n"
        "p.publish_ranking(Path(sys.argv[1]), run, batches())\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(db), run_id], cwd=Path(__file__).resolve().parent.parent,
                          timeout=60)
    assert done.returncode == -signal.SIGKILL
    con = sqlite3.connect(db)
    assert con.execute("pragma integrity_check").fetchone() == ("ok",)
    tables = {r[0] for r in con.execute("select name from sqlite_master where type = 'table'")}
    con.close()
    assert "user_ranking__new" not in tables
    assert dump(db, "user_ranking") == before
    assert runs(db)[run_id] == ("running", None, 0)
    after = RunRecord(new_run_id(), "user_ranking", utc_now(), {})
    assert start_run(db, after) == [run_id]
    publish_ranking(db, after, ranking_rows(after.run_id, score=0.9))
    assert {r[-2] for r in dump(db, "user_ranking")} == {after.run_id}
    assert runs(db)[run_id][0] == "failed"
