"""The published SQLite layout: every reader and writer of the file takes it from here.

- ``<results_table>``: the current ranking, one row per (user_handle, rank).
  Its columns are read from the dbt mart that produces them: ``published_ranking``
  (``models/marts/_marts.yml``) enforces names, order and types as a dbt
  contract, the publisher creates the SQLite table from the same list and the
  API selects from it, so the three cannot disagree.
- ``<results_table>_history`` (:func:`history_table`): the same rows for the
  last ``keep_runs`` published runs.
- ``ranking_runs`` (:data:`RUNS_DDL`): one row per pipeline run, failed ones
  included; the current run of a table is its latest ``published`` row
  (:func:`published_runs`).
"""
from __future__ import annotations

import sqlite3
from functools import cache

import yaml

from contracts.identifiers import check_identifier
from contracts.raw import PROJECT_DIR

MARTS_YML = PROJECT_DIR / "models" / "marts" / "_marts.yml"
PUBLISHED_MODEL = "published_ranking"
# DuckDB contract type -> SQLite column type (SQLite has one integer and one real type)
SQLITE_TYPES = {"bigint": "INTEGER", "integer": "INTEGER", "double": "REAL", "varchar": "TEXT"}


@cache
def ranking_columns() -> tuple[tuple[str, str], ...]:
    """(name, SQLite type with NOT NULL where the contract has it) of every published column, in order."""
    models = yaml.safe_load(MARTS_YML.read_text())["models"]
    model = next(m for m in models if m["name"] == PUBLISHED_MODEL)
    columns = []
    for column in model["columns"]:
        sqlite_type = SQLITE_TYPES[column["data_type"]]
        if any(c.get("type") == "not_null" for c in column.get("constraints", [])):
            sqlite_type += " NOT NULL"
        columns.append((column["name"], sqlite_type))
    return tuple(columns)


RANKING_COLUMNS: tuple[tuple[str, str], ...] = ranking_columns()
COLUMN_NAMES: tuple[str, ...] = tuple(name for name, _ in RANKING_COLUMNS)


RUNS_TABLE = "ranking_runs"
RUNS_DDL = f"""
create table if not exists {RUNS_TABLE} (
    run_id text primary key,
    results_table text not null,
    status text not null check (status in ('running', 'published', 'failed', 'pruned')),
    started_at text not null,
    finished_at text,
    params text not null,
    user_count integer,
    row_count integer,
    error text,
    publish_seq integer,  -- 1, 2, 3... in publish order; orders runs within one second
    topk_method text,  -- exact | ann (mart topk_recall)
    recall_at_k real,  -- recall@k against exact top k on the sample
    recall_sample integer  -- users in that sample
)
"""
# columns added after the first release: a ranking_runs table of an older file gains them
RUNS_ADDED_COLUMNS: dict[str, str] = {"topk_method": "text", "recall_at_k": "real", "recall_sample": "integer"}
_PUBLISHED_RUNS_SQL = (f"select run_id from {RUNS_TABLE} where results_table = ? and status = 'published'"
                       " order by publish_seq desc")


def history_table(results_table: str) -> str:
    """The history table of ``results_table`` (checked: both names must be valid identifiers)."""
    return check_identifier(f"{check_identifier(results_table)}_history")


def published_runs(con: sqlite3.Connection, results_table: str, limit: int | None = None) -> list[str]:
    """Run ids of the published runs of ``results_table``, newest first; the first is the current one."""
    sql, params = _PUBLISHED_RUNS_SQL, (results_table,)
    if limit is not None:
        sql, params = sql + " limit ?", (results_table, limit)
    return [row[0] for row in con.execute(sql, params)]


def current_run(con: sqlite3.Connection, results_table: str) -> str | None:
    """The run id whose rows ``results_table`` holds now (None before the first publish)."""
    runs = published_runs(con, results_table, limit=1)
    return runs[0] if runs else None
