"""Names the batch side and the API must agree on: environments, the default results table, table names.

Standard library only: the API server imports this, never the batch package ``pipeline``.
"""
from __future__ import annotations

import re

ENVIRONMENTS = ("dev", "prod")
DEFAULT_RESULTS_TABLE = "user_ranking"
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def check_env(env: str) -> str:
    if env not in ENVIRONMENTS:
        raise ValueError(f"environment must be one of {ENVIRONMENTS}, got {env!r}")
    return env


def check_identifier(name: str) -> str:
    """A SQL table name we are willing to interpolate: letters, digits, underscore, <= 63 chars."""
    if not isinstance(name, str) or not _IDENTIFIER.match(name):
        raise ValueError(
            f"invalid table name {name!r}: use letters, digits and '_' "
            "(starting with a letter or '_', at most 63 characters)"
        )
    return name
