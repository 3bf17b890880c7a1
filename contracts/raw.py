"""The raw tables and their columns: read from the dbt source definition, the one place they are listed.

The input check, the generator, the dirt injector and the evaluation all take
table and column names from here, so a column added to ``_sources.yml`` reaches
every one of them.
"""
from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

PROJECT_DIR = Path(__file__).resolve().parent.parent
SOURCES_YML = PROJECT_DIR / "models" / "staging" / "_sources.yml"
SOURCE_NAME = "raw"


@cache
def expected_columns() -> dict[str, tuple[str, ...]]:
    """Table -> required columns in their documented order."""
    sources = yaml.safe_load(SOURCES_YML.read_text())["sources"]
    raw = next(s for s in sources if s["name"] == SOURCE_NAME)
    return {t["name"]: tuple(c["name"] for c in t["columns"]) for t in raw["tables"]}


@cache
def csv_options() -> str:
    """The read_csv options every raw CSV is read with: by dbt (the source's template) and by the input check."""
    sources = yaml.safe_load(SOURCES_YML.read_text())["sources"]
    return str(next(s for s in sources if s["name"] == SOURCE_NAME)["meta"]["csv_options"])


RAW_TABLES: tuple[str, ...] = tuple(expected_columns())
