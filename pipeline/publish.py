"""Publish a ranking to SQLite atomically, with a history of runs.

Layout of the SQLite file (the API server reads it; see README "Published tables"):

- ``<results_table>``: the current ranking, one row per (user_handle, rank),
  columns :data:`RANKING_COLUMNS`.
- ``<results_table>_history``: the same rows for the last ``keep_runs`` runs.
- ``ranking_runs``: one row per pipeline run, failed ones included.

A new ranking is written to a fresh table and swapped in with the history
and run record inside ONE transaction (WAL mode): a reader sees the old
ranking or the new one, never a mix or an empty table, and a run that fails
before or during publishing leaves the published tables untouched.
"""
from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from pipeline.paths import check_identifier
from pipeline.schema import COLUMN_NAMES, RANKING_COLUMNS

__all__ = ["COLUMN_NAMES", "RANKING_COLUMNS", "RunRecord", "new_run_id", "publish_ranking", "record_failed_run"]


RUNS_DDL = """
create table if not exists ranking_runs (
    run_id text primary key,
    results_table text not null,
    status text not null check (status in ('running', 'published', 'failed', 'pruned')),
    started_at text not null,
    finished_at text,
    params text not null,
    user_count integer,
    row_count integer,
    error text,
    publish_seq integer  -- 1, 2, 3... in publish order; orders runs within one second
)
"""


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
    return con


def _table_ddl(name: str) -> str:
    cols = ",\n    ".join(f'"{c}" {t}' for c, t in RANKING_COLUMNS)
    return f'create table "{name}" (\n    {cols}\n)'


def _batches(rows: pa.Table | pa.RecordBatchReader | Iterable[pa.RecordBatch]) -> Iterable[pa.RecordBatch]:
    if isinstance(rows, pa.Table):
        return rows.to_batches(max_chunksize=50_000)
    return rows


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


def publish_ranking(
    sqlite_file: Path,
    run: RunRecord,
    rows: pa.Table | pa.RecordBatchReader | Iterable[pa.RecordBatch],
    keep_runs: int = 5,
) -> dict[str, int]:
    """Swap ``rows`` in as the current ranking of ``run.results_table``; keep ``keep_runs`` runs.

    ``rows`` must carry :data:`COLUMN_NAMES` (extra columns are ignored). Returns
    the user and row counts. Any error rolls the whole publish back.
    """
    table = check_identifier(run.results_table)
    if keep_runs < 1:
        raise ValueError("keep_runs must be at least 1")
    history = check_identifier(f"{table}_history")
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
                " params, user_count, row_count, publish_seq) values (?, ?, 'published', ?, ?, ?, ?, ?,"
                " (select coalesce(max(publish_seq), 0) + 1 from ranking_runs))",
                (run.run_id, table, run.started_at, utc_now(), json.dumps(dict(run.params)), n_users, n_rows),
            )
            kept = [r[0] for r in con.execute(
                "select run_id from ranking_runs where results_table = ? and status = 'published'"
                " order by publish_seq desc limit ?", (table, keep_runs),
            )]
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
    return {"users": int(n_users), "rows": int(n_rows)}
