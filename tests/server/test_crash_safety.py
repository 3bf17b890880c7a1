"""Crash safety: SIGKILL a run mid-dbt and mid-publish while gunicorn serves the SQLite file over HTTP.

After every kill the file passes ``pragma integrity_check``, no half-built table is visible, the API
still serves the previous run, the killed run shows as 'running' until the next run marks it
interrupted, and the next run publishes and is served. Real processes throughout: ``python -m pipeline``
and, for publishes big enough to hit mid-way, this file run as a script (see :func:`drive_publish`),
each in its own session and killed with its whole process group. No hook in the product code.
"""
from __future__ import annotations

import os
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, TABLE, http_get, publish_rows, ranking_rows

from pipeline.publish import RunRecord, interrupted_message, start_run, utc_now
from tests.conftest import REFERENCE_USERS, ReferenceRun, pipeline_env

pytestmark = pytest.mark.e2e

BIG_USERS = 200_000  # x 5 neighbours = 1,000,000 rows: a publish of ~5 s, long enough to hit mid-statement
BATCH_ROWS = 50_000  # 20 batches
SAMPLE_USERS = (1, 2, 3, 5, 8, 10)  # users whose neighbours are compared in the synthetic rankings


# -- processes whose output we follow -------------------------------------------------
class Followed:
    """A process in its own session; its stdout lines are collected by a thread, so waits can time out."""

    def __init__(self, command: list[str], env: dict[str, str]) -> None:
        self.process = subprocess.Popen(command, cwd=ROOT, env={**env, "PYTHONUNBUFFERED": "1"}, text=True,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, wanted: Callable[[str], bool], timeout: float = 300) -> str:
        """The first new line for which ``wanted`` holds; fails if the process ends or time runs out first."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError("timed out; output so far:\n" + "\n".join(self.lines)) from None
            if line is None:
                raise AssertionError("process ended first; output:\n" + "\n".join(self.lines))
            self.lines.append(line)
            if wanted(line):
                return line

    def kill(self) -> None:
        """SIGKILL the whole process group (dbt's threads, DuckDB, anything it started) and collect the rest."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self._reader.join(timeout=30)
        while not self._queue.empty():
            line = self._queue.get_nowait()
            if line is not None:
                self.lines.append(line)


@pytest.fixture
def follow() -> Iterator[Callable[..., Followed]]:
    started: list[Followed] = []

    def start(command: list[str], env: dict[str, str]) -> Followed:
        started.append(Followed(command, env))
        return started[-1]

    try:
        yield start
    finally:
        for followed in started:
            followed.kill()


# -- what the file holds and what the API serves ----------------------------------------
def file_state(db: Path) -> dict[str, Any]:
    con = sqlite3.connect(db)
    try:
        return {
            "integrity": [r[0] for r in con.execute("pragma integrity_check")],
            "tables": {r[0] for r in con.execute("select name from sqlite_master where type = 'table'")},
            "rows": con.execute(f'select count(*) from "{TABLE}"').fetchone()[0],
            "runs": {r[0]: r[1:] for r in con.execute("select run_id, status, error from ranking_runs")},
        }
    finally:
        con.close()


def served(base: str, users: tuple[int, ...] = SAMPLE_USERS) -> dict[str, Any]:
    """The served run (health) and the neighbours of ``users``, over HTTP."""
    status, health = http_get(f"{base}/api/health")
    assert status == 200, health
    answers: dict[str, Any] = {"run_id": health["run"]["run_id"], "rows": health["rows"]}
    for user in users:
        status, body = http_get(f"{base}/api/v1/users/{user}/similar?k=5")
        assert status == 200, body
        assert body["run"]["run_id"] == health["run"]["run_id"]
        answers[user] = [(n["rank"], n["user_handle"], n["score"]) for n in body["neighbours"]]
    return answers


def current_in_file(db: Path, users: tuple[int, ...] = SAMPLE_USERS) -> dict[Any, Any]:
    """What ``served`` must answer (but the row count), read from the file directly."""
    con = sqlite3.connect(db)
    try:
        marks = ", ".join("?" for _ in users)
        rows = con.execute(f'select user_handle, rank, similar_user_handle, score, run_id from "{TABLE}"'
                           f" where user_handle in ({marks}) order by user_handle, rank", users).fetchall()
    finally:
        con.close()
    expected: dict[Any, Any] = {user: [] for user in users}
    for user, rank, similar, score, _ in rows:
        expected[user].append((rank, similar, round(score, 6)))
    expected["run_id"] = rows[0][4]
    return expected


def assert_sound_after_kill(db: Path, base: str, before: dict[str, Any], rows_before: int, killed: str,
                            users: tuple[int, ...] = SAMPLE_USERS) -> None:
    """The file is sound, holds the previous ranking, which is served, and the killed run shows 'running'."""
    state = file_state(db)
    assert state["integrity"] == ["ok"]
    assert f"{TABLE}__new" not in state["tables"]
    assert state["rows"] == rows_before
    assert state["runs"][killed] == ("running", None), "a killed run stays 'running' until the next run"
    assert served(base, users) == before


# -- kill the pipeline during dbt -----------------------------------------------------------
@pytest.mark.slow
def test_kill_during_dbt_build(tmp_path: Path, run_pipeline: Any, live_server: Any,
                               follow: Callable[..., Followed], reference_run: ReferenceRun) -> None:
    db = reference_run.copy_to(tmp_path)  # the published run the kills must leave in place
    args = ["--data-dir", str(reference_run.data), "--sqlite-path", str(db)]
    rows = file_state(db)["rows"]
    assert rows == REFERENCE_USERS * 5
    con = sqlite3.connect(db)
    users = tuple(r[0] for r in con.execute(f'select distinct user_handle from "{TABLE}" order by 1 limit 6'))
    con.close()
    base = live_server(db)
    before = served(base, users)
    assert {k: v for k, v in before.items() if k != "rows"} == current_in_file(db, users)
    assert before["rows"] == rows

    killed: list[str] = []
    report: list[str] = []
    for after_line in ("model  base_", "model  user_vectors_"):
        t0 = time.monotonic()
        run = follow([sys.executable, "-m", "pipeline", *args], pipeline_env(tmp_path))
        run_id = run.wait_for(lambda line: line.startswith("run ")).split()[1]
        seen = run.wait_for(lambda line, after_line=after_line: line.lstrip().startswith(after_line))
        run.kill()
        report.append(f"killed {time.monotonic() - t0:.1f} s into the run, after '{' '.join(seen.split()[:2])}'")
        assert run.process.returncode == -signal.SIGKILL
        assert not any("[2/3] build   done" in line for line in run.lines), "the kill landed after dbt"
        assert_sound_after_kill(db, base, before, rows, run_id, users)
        if killed:  # the second run found the first one dead before it was killed itself
            assert file_state(db)["runs"][killed[-1]] == ("failed", interrupted_message(run_id))
            assert f"run {killed[-1]} was interrupted" in "\n".join(run.lines)
        killed.append(run_id)

    last = run_pipeline(*args)
    assert last.returncode == 0, last.stdout + last.stderr
    assert f"run {killed[-1]} was interrupted" in last.stdout
    state = file_state(db)
    last_id = current_in_file(db, users)["run_id"]
    assert state["integrity"] == ["ok"] and state["rows"] == rows
    assert [state["runs"][r] for r in (*killed, last_id)] == [
        ("failed", interrupted_message(killed[1])), ("failed", interrupted_message(last_id)), ("published", None)]
    now = served(base, users)
    assert now["run_id"] == last_id != before["run_id"]
    assert {k: v for k, v in now.items() if k != "run_id"} == {
        k: v for k, v in before.items() if k != "run_id"}, "same input, same neighbours"
    print("\n".join(["", *report]))


# -- kill during publish ----------------------------------------------------------------------
def big_ranking(run_id: str, run_at: str, users: int) -> Any:
    """``users`` x 5 rows shaped like the pipeline's, built with numpy in well under a second."""
    import numpy as np
    import pyarrow as pa

    from contracts.published import COLUMN_NAMES

    k, n = 5, users * 5
    handles = np.repeat(np.arange(1, users + 1, dtype=np.int64), k)
    ranks = np.tile(np.arange(1, k + 1, dtype=np.int64), users)
    score = np.round(0.9 - 0.1 * ranks + (handles % 1000) * 1e-6, 6)
    columns = {
        "user_handle": handles, "rank": ranks, "similar_user_handle": (handles + ranks * 7919) % users + 1,
        "score": score, "score_interests": score, "score_assessments": score / 2, "score_course_views": score / 3,
        "n_shared_interests": ranks % 3, "n_shared_course_tags": ranks, "n_shared_courses": ranks % 2,
        "n_shared_assessments": ranks % 2, "shared_interests": pa.repeat('["python", "sql"]', n),
        "shared_course_tags": pa.repeat('["data", "python", "web"]', n), "shared_courses": pa.repeat('["c-42"]', n),
        "shared_assessments": pa.repeat('[{"tag": "python", "user_bin": "high", "similar_user_bin": "high"}]', n),
        "run_id": pa.repeat(run_id, n), "run_at": pa.repeat(run_at, n),
    }
    return pa.table({c: columns[c] for c in COLUMN_NAMES})


def drive_publish(db: Path, run_id: str, users: int, pause_before_commit: bool) -> None:
    """Start a run and publish a big ranking, saying on stdout where the publish is.

    Prints ``batch i of n`` before handing publish_ranking each batch, then (from SQLite's
    statement trace) ``sql <statement>`` as each later statement starts. With
    ``pause_before_commit`` it sleeps when COMMIT is about to run: the latest point a crash
    can hit before the new ranking becomes visible. The instrumentation lives here only.
    """
    from pipeline import publish

    def say(text: str) -> None:
        print(text, flush=True)

    def on_statement(sql: str) -> None:
        say("sql " + " ".join(sql.split())[:60])
        if pause_before_commit and sql == "commit":
            say("paused before commit")
            time.sleep(600)

    connections: list[sqlite3.Connection] = []
    plain_connect = publish.connect

    def connect(path: Path) -> sqlite3.Connection:
        connections.append(plain_connect(path))
        return connections[-1]

    publish.connect = connect
    run = RunRecord(run_id, TABLE, utc_now(), {"users": users})
    start_run(db, run)
    batches = big_ranking(run_id, run.started_at, users).to_batches(max_chunksize=BATCH_ROWS)

    def feed() -> Iterator[Any]:
        for i, batch in enumerate(batches, 1):
            say(f"batch {i} of {len(batches)}")
            yield batch
        connections[-1].set_trace_callback(on_statement)  # not earlier: once per inserted row would slow it
        say("batches done")

    counts = publish.publish_ranking(db, run, feed())
    say(f"published {counts['rows']} rows")


def wal_bytes(db: Path) -> int:
    wal = db.with_name(db.name + "-wal")
    return wal.stat().st_size if wal.exists() else 0


# (what the publish is doing, the line that marks it, seconds to wait after that line)
PUBLISH_KILL_POINTS = [
    ("inserting batch 2 of 20", "batch 2 of", 0.0),
    ("inserting batch 11 of 20", "batch 11 of", 0.0),
    ("building the index", "sql create index", 0.05),
    ("copying 1M rows into the history", f'sql insert into "{TABLE}_history"', 0.3),
    ("history, run record and pruning done, COMMIT next", "paused before commit", 0.0),
]


@pytest.mark.slow
def test_kill_during_publish(tmp_path: Path, live_server: Any, follow: Callable[..., Followed]) -> None:
    db = tmp_path / "r.db"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def small_publish(expect_swept: str) -> str:
        """The next run after a kill: finds the killed run dead, then publishes (40 users)."""
        run = RunRecord(f"20260101T{len(report):06d}Z-small0", TABLE, utc_now(), {})
        assert start_run(db, run) == [expect_swept]
        publish_rows(db, ranking_rows(run.run_id, list(range(1, 41))), run.run_id)
        return run.run_id

    publish_rows(db, ranking_rows("20260101T000000Z-first0", list(range(1, 41))), "20260101T000000Z-first0")
    base = live_server(db)
    report: list[str] = []
    for label, marker, delay in PUBLISH_KILL_POINTS:
        before, rows_before = served(base), file_state(db)["rows"]
        assert {k: v for k, v in before.items() if k != "rows"} == current_in_file(db) and rows_before == 200
        run_id = f"20260102T{len(report):06d}Z-big000"
        t0 = time.monotonic()
        pause = marker.startswith("paused")
        publisher = follow([sys.executable, __file__, str(db), run_id, str(BIG_USERS), str(pause)], env)
        publisher.wait_for(lambda line, marker=marker: line.startswith(marker))
        if pause:  # a reader during the complete but uncommitted swap sees the old run
            assert served(base) == before
        time.sleep(delay)
        publisher.kill()
        assert publisher.process.returncode == -signal.SIGKILL
        died_in = [line for line in publisher.lines if line.startswith(("batch", "sql"))][-1]
        assert not any(line.startswith("published") for line in publisher.lines)
        assert pause or "sql commit" not in publisher.lines, "the kill landed after COMMIT"
        report.append(f"{label}: killed at {time.monotonic() - t0:.1f} s during '{died_in}', WAL {wal_bytes(db):,} B")
        assert_sound_after_kill(db, base, before, rows_before, run_id)
        after = small_publish(expect_swept=run_id)
        assert served(base)["run_id"] == after
        assert file_state(db)["runs"][run_id] == ("failed", interrupted_message(after))

    print("\n".join(["", *report]))
    for leftover in (db, db.with_name(db.name + "-wal")):  # the WAL grew to ~0.5 GB: not for pytest's tmp folders
        leftover.unlink(missing_ok=True)


if __name__ == "__main__":
    drive_publish(Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4] == "True")
