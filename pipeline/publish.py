"""Publish a ranking to SQLite atomically, with a history of runs.

The layout of the SQLite file (the API server reads it) is :mod:`contracts.published`.

A new ranking is written to a fresh table and swapped in with the history
and run record inside ONE transaction (WAL mode): a reader sees the old
ranking or the new one, never a mix or an empty table, and a run that fails
before or during publishing leaves the published tables untouched.

Crash safety: :func:`start_run` records a run as 'running' when it starts, so a
run killed at any point (SIGKILL included) leaves a trace; its publish, if it
had begun, is rolled back by SQLite. While its row says 'running', a run holds a
shared ``flock`` on ``<sqlite file>.runs.lock``; the kernel drops it when the
process ends, however it ends. A starting run that can take that lock
exclusively knows no other run of this file is alive, so it marks every
left-over 'running' row failed ("interrupted"). If another run is alive the
sweep is skipped (it cannot tell which rows are dead) and a later run does it.
This holds for any number of envs and results tables sharing one file, as long
as they run on one machine, which WAL mode requires anyway.
"""
from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from contracts.identifiers import check_identifier
from contracts.published import (
    COLUMN_NAMES,
    RANKING_COLUMNS,
    RUNS_ADDED_COLUMNS,
    RUNS_DDL,
    history_table,
    published_runs,
)

__all__ = [
    "COLUMN_NAMES", "RANKING_COLUMNS", "RunRecord", "new_run_id", "publish_ranking", "record_failed_run", "start_run",
]




def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def new_run_id(started_at: datetime | None = None) -> str:
    """Sortable, unique run id: UTC start time plus a random suffix."""
    started = started_at or datetime.now(UTC)
    return started.strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]


@dataclass
class RunRecord:
    """What ``ranking_runs`` stores about one run."""

    run_id: str
    results_table: str
    started_at: str
    params: Mapping[str, Any] = field(default_factory=dict)


def connect(sqlite_file: Path) -> sqlite3.Connection:
    """Writer connection in WAL mode (readers never block on, nor see, a write in progress)."""
    sqlite_file.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(sqlite_file, isolation_level=None, timeout=30)
    con.execute("pragma journal_mode=wal")
    con.execute("pragma synchronous=normal")
    con.execute(RUNS_DDL)
    present = {row[1] for row in con.execute("pragma table_info(ranking_runs)")}
    for column, kind in RUNS_ADDED_COLUMNS.items():
        if column not in present:
            con.execute(f"alter table ranking_runs add column {column} {kind}")
    return con


def _table_ddl(name: str) -> str:
    cols = ",\n    ".join(f'"{c}" {t}' for c, t in RANKING_COLUMNS)
    return f'create table "{name}" (\n    {cols}\n)'


def _batches(rows: pa.Table | pa.RecordBatchReader | Iterable[pa.RecordBatch]) -> Iterable[pa.RecordBatch]:
    if isinstance(rows, pa.Table):
        return rows.to_batches(max_chunksize=50_000)
    return rows


# run_id -> descriptor holding the run's shared lock; an entry lives while the run's row says 'running'
_LEASES: dict[str, int] = {}


def run_lock_path(sqlite_file: Path) -> Path:
    """The lock file whose shared holders are the live runs of ``sqlite_file`` (any spelling of its path)."""
    resolved = Path(sqlite_file).resolve()
    return resolved.with_name(resolved.name + ".runs.lock")


def interrupted_message(found_by: str) -> str:
    return f"interrupted: the process ended before finishing (found by run {found_by})"


def start_run(sqlite_file: Path, run: RunRecord) -> list[str]:
    """Record ``run`` as 'running' and mark runs left 'running' by dead processes as failed.

    Returns the ids marked interrupted. The run keeps a shared lock until
    :func:`publish_ranking` or :func:`record_failed_run` finishes its row (or
    its process ends): that lock is how later runs know it is still alive.
    """
    check_identifier(run.results_table)
    if run.run_id in _LEASES:
        raise ValueError(f"run {run.run_id} has already started")
    con = connect(sqlite_file)
    fd = os.open(run_lock_path(sqlite_file), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        stale: list[str] = []
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # another run is alive: its row and any dead one look alike, sweep later
            pass
        else:
            con.execute("begin immediate")
            try:
                stale = [r[0] for r in con.execute(
                    "select run_id from ranking_runs where status = 'running' and run_id <> ? order by run_id",
                    (run.run_id,))]
                con.executemany(
                    "update ranking_runs set status = 'failed', finished_at = ?, error = ? where run_id = ?",
                    [(utc_now(), interrupted_message(run.run_id), stale_id) for stale_id in stale],
                )
                con.execute("commit")
            except BaseException:
                con.execute("rollback")
                raise
            fcntl.flock(fd, fcntl.LOCK_UN)  # unlock, then share: a conversion could drop the lock on failure
        fcntl.flock(fd, fcntl.LOCK_SH)  # waits only while another starting run sweeps
        con.execute(
            "insert into ranking_runs (run_id, results_table, status, started_at, params)"
            " values (?, ?, 'running', ?, ?)",
            (run.run_id, run.results_table, run.started_at, json.dumps(dict(run.params))),
        )
    except BaseException:
        os.close(fd)
        raise
    finally:
        con.close()
    _LEASES[run.run_id] = fd
    return stale


def _end_lease(run_id: str) -> None:
    """The run's row is final: it no longer needs proof of life."""
    fd = _LEASES.pop(run_id, None)
    if fd is not None:
        os.close(fd)  # closing the last descriptor releases the flock


def record_failed_run(sqlite_file: Path, run: RunRecord, error: str) -> None:
    """Note a failed run in ``ranking_runs``; the published ranking is not touched."""
    check_identifier(run.results_table)
    con = connect(sqlite_file)
    try:
        con.execute(
            "insert or replace into ranking_runs (run_id, results_table, status, started_at, finished_at,"
            " params, error) values (?, ?, 'failed', ?, ?, ?, ?)",
            (run.run_id, run.results_table, run.started_at, utc_now(), json.dumps(dict(run.params)), error[:2000]),
        )
    finally:
        con.close()
    _end_lease(run.run_id)


def publish_ranking(
    sqlite_file: Path,
    run: RunRecord,
    rows: pa.Table | pa.RecordBatchReader | Iterable[pa.RecordBatch],
    keep_runs: int = 5,
    topk: Mapping[str, Any] | None = None,
) -> dict[str, int]:
    """Swap ``rows`` in as the current ranking of ``run.results_table``; keep ``keep_runs`` runs.

    ``rows`` must carry :data:`COLUMN_NAMES` (extra columns are ignored);
    ``topk`` is the run's ``topk_recall`` row, recorded in ``ranking_runs``. Returns
    the user and row counts. Any error rolls the whole publish back.
    """
    table = check_identifier(run.results_table)
    topk = dict(topk or {})
    if keep_runs < 1:
        raise ValueError("keep_runs must be at least 1")
    history = history_table(table)
    fresh = check_identifier(f"{table}__new")
    index = check_identifier(f"ix_{table}_{run.run_id.replace('-', '_')}"[:63])
    placeholders = ", ".join("?" for _ in COLUMN_NAMES)
    quoted = ", ".join(f'"{c}"' for c in COLUMN_NAMES)
    con = connect(sqlite_file)
    try:
        con.execute("begin immediate")
        try:
            con.execute(f'drop table if exists "{fresh}"')
            con.execute(_table_ddl(fresh))
            for batch in _batches(rows):
                missing = set(COLUMN_NAMES) - set(batch.schema.names)
                if missing:
                    raise ValueError(f"ranking rows lack columns {sorted(missing)}")
                columns = [batch.column(c).to_pylist() for c in COLUMN_NAMES]
                con.executemany(f'insert into "{fresh}" ({quoted}) values ({placeholders})', zip(*columns, strict=True))
            n_rows, n_users, n_foreign = con.execute(
                f'select count(*), count(distinct user_handle), count(*) filter (where run_id <> ?) from "{fresh}"',
                (run.run_id,),
            ).fetchone()
            if n_rows == 0:
                raise ValueError("refusing to publish an empty ranking")
            if n_foreign:
                raise ValueError(f"{n_foreign} ranking rows do not carry this run's run_id {run.run_id}")
            con.execute(f'create index "{index}" on "{fresh}" (user_handle, rank)')
            con.execute(f'drop table if exists "{table}"')
            con.execute(f'alter table "{fresh}" rename to "{table}"')
            con.execute(f'create table if not exists "{history}" as select * from "{table}" where 0')
            con.execute(
                f'create index if not exists "ix_{history}" on "{history}" (run_id, user_handle, rank)'
            )
            con.execute(f'insert into "{history}" select * from "{table}"')
            con.execute(
                "insert or replace into ranking_runs (run_id, results_table, status, started_at, finished_at,"
                " params, user_count, row_count, topk_method, recall_at_k, recall_sample, publish_seq)"
                " values (?, ?, 'published', ?, ?, ?, ?, ?, ?, ?, ?,"
                " (select coalesce(max(publish_seq), 0) + 1 from ranking_runs))",
                (run.run_id, table, run.started_at, utc_now(), json.dumps(dict(run.params)), n_users, n_rows,
                 topk.get("topk_method"), topk.get("recall_at_k"), topk.get("sample_size")),
            )
            kept = published_runs(con, table, limit=keep_runs)
            marks = ", ".join("?" for _ in kept)
            con.execute(f'delete from "{history}" where run_id not in ({marks})', kept)
            con.execute(
                f"update ranking_runs set status = 'pruned' where results_table = ? and status = 'published'"
                f" and run_id not in ({marks})", [table, *kept],
            )
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
    finally:
        con.close()
    _end_lease(run.run_id)  # on failure the lease stays until record_failed_run
    return {"users": int(n_users), "rows": int(n_rows)}
