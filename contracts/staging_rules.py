"""The staging layer's row rules as SQL expressions, rendered from the dbt macros themselves.

Tools outside dbt (the evaluation's holdout and scoring read raw files) must
parse a handle and normalise a tag exactly as the ``base_*`` models do. The
rules are written once, as the Jinja macros in ``macros/``; this module renders
them with plain Jinja (they use no dbt context) for DuckDB to evaluate, so
there is no second copy to drift.
"""
from __future__ import annotations

from functools import cache

import jinja2

from contracts.raw import PROJECT_DIR

RULE_FILES = ("cleaning_rules.sql", "normalize_tag.sql")


@cache
def _macros() -> jinja2.runtime.TemplateModule:
    source = "\n".join((PROJECT_DIR / "macros" / name).read_text() for name in RULE_FILES)
    return jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(source).module


def rule_sql(macro: str, column: str) -> str:
    """The SQL expression of ``macro`` (e.g. ``parse_handle``, ``normalize_tag``) applied to ``column``."""
    return str(getattr(_macros(), macro)(column)).strip()
