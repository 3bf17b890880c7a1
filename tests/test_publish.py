"""Publishing to SQLite: atomic swap, history, failures that change nothing."""
from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pyarrow as pa
import pytest

from pipeline.paths import check_identifier
from pipeline.publish import (
    COLUMN_NAMES,
    RunRecord,
    new_run_id,
    publish_ranking,
    record_failed_run,
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
