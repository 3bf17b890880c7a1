"""The run's DuckDB warehouse: read the built ranking out of it, then swap it in for analysts.

A run builds into a fresh file of its own (``paths.building_path``) and never
opens the warehouse analysts read (``<env>.duckdb``), so a connection left open
there, read-only or not, never blocks a run and a run never blocks a reader.
When the run has published, its file replaces ``<env>.duckdb`` in one rename:
a new connection sees the new build; one already open keeps reading the build
it opened (the old file stays readable until it is closed). A failed build is
kept as ``<env>.failed.duckdb`` and ``<env>.duckdb`` is left as it was.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from pipeline.input_check import RAW_TABLES

RANKING_QUERY = "select * from published_ranking order by user_handle, rank"  # models/marts/published_ranking.sql


def read_ranking(warehouse: Path, run_id: str) -> pa.Table:
    """The ranking with its reasons; refuses a warehouse that holds another run's ranking."""
    con = duckdb.connect(str(warehouse))
    try:
        runs = [r[0] for r in con.sql("select distinct run_id from user_ranking").fetchall()]
        if runs != [run_id]:
            raise RuntimeError(f"warehouse ranking belongs to run(s) {runs}, expected {run_id}")
        return con.sql(RANKING_QUERY).to_arrow_table()
    finally:
        con.close()


def read_topk_recall(warehouse: Path, run_id: str) -> dict[str, Any]:
    """The run's ``topk_recall`` row (method, recall@k, sample size) for ``ranking_runs``."""
    con = duckdb.connect(str(warehouse))
    try:
        rows = con.execute("select * from topk_recall where run_id = ?", [run_id]).fetchall()
        names = [d[0] for d in con.description]
    finally:
        con.close()
    if len(rows) != 1:
        raise RuntimeError(f"topk_recall holds {len(rows)} rows for run {run_id}, expected 1")
    return dict(zip(names, rows[0], strict=True))


DROP_GUARD_SUFFIX = "_drop_share_at_most_max_drop_share"  # test name in models/staging/base/_base.yml


def drop_summary(warehouse: Path, failures: list[str]) -> list[str]:
    """For failed drop-share tests: what cleaning dropped in those tables, by reason.

    The test itself only says "Got 1 result"; the drop reasons say which rule
    (so which column) emptied the table.
    """
    tables = {t for t in RAW_TABLES if any(f"{t}{DROP_GUARD_SUFFIX}" in f for f in failures)}
    if not tables:
        return []
    lines = []
    try:
        # same settings as read_ranking: dbt's in-process connection may still hold the file
        con = duckdb.connect(str(warehouse))
    except duckdb.Error:
        return []
    try:
        for table in sorted(tables):
            raw = con.sql(f"select count(*) from base_{table}").fetchall()[0][0]
            # from the base table itself: dbt skips the audit models once a test of a base model fails
            reasons = con.sql(
                f"select drop_reason, count(*) as n from base_{table} where drop_reason is not null"
                " group by drop_reason order by n desc, drop_reason").fetchall()
            dropped = sum(n for _, n in reasons)
            detail = ", ".join(f"{reason} {n:,}" for reason, n in reasons)
            lines.append(f"{table}: cleaning dropped {dropped:,} of {raw:,} rows ({detail or 'none'});"
                         f" see base_{table} where drop_reason is not null")
    except duckdb.Error:
        return lines
    finally:
        con.close()
    return lines


def _sidecars(database: Path) -> list[Path]:
    return [database.with_name(database.name + suffix) for suffix in (".wal", ".tmp")]


def _checkpoint(database: Path) -> None:
    """Fold the write-ahead log into the file so that the file alone holds the build."""
    con = duckdb.connect(str(database))
    try:
        con.execute("checkpoint")
    finally:
        con.close()


def swap_in(building: Path, warehouse: Path) -> None:
    """Make the finished build the analysts' warehouse in one atomic rename."""
    _checkpoint(building)
    for stale in _sidecars(warehouse):  # a WAL of the old file must not be replayed into the new one
        stale.unlink(missing_ok=True)
    os.replace(building, warehouse)
    for leftover in _sidecars(building):
        leftover.unlink(missing_ok=True)


def keep_failed(building: Path, failed: Path) -> Path | None:
    """Keep a failed build for diagnosis (replacing the previous failed one); None if nothing was built."""
    if not building.exists():
        return None
    try:
        _checkpoint(building)
    except duckdb.Error:
        pass  # a half-written build is still worth keeping as it is
    for stale in _sidecars(failed):
        stale.unlink(missing_ok=True)
    os.replace(building, failed)
    for leftover in _sidecars(building):
        if leftover.exists():
            os.replace(leftover, failed.with_name(failed.name + leftover.name[len(building.name):]))
    return failed


def remove_build(building: Path) -> None:
    """Delete the build file of a run that was interrupted (its process ended before the swap)."""
    for path in (building, *_sidecars(building)):
        path.unlink(missing_ok=True)
