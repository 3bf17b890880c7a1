"""Columns of the published ranking table, read from the dbt mart that produces it.

The mart ``published_ranking`` (``models/marts/_marts.yml``) enforces its
column names, order and types as a dbt contract; the publisher creates the
SQLite table from the same list and the API selects from it, so the three
cannot disagree.
"""
from __future__ import annotations

from functools import cache

import yaml

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
