"""Model defaults: the ``vars`` of ``dbt_project.yml``, the one place they are set.

``python -m pipeline`` takes its flag defaults from here and
``simcore.ensemble.DEFAULT_WEIGHTS`` is built from here, so ``dbt build``
without vars, the CLI without flags and the numeric core agree by construction.
"""
from __future__ import annotations

from functools import cache
from typing import Any

import yaml

from contracts.raw import PROJECT_DIR

DBT_PROJECT = PROJECT_DIR / "dbt_project.yml"


@cache
def dbt_vars() -> dict[str, Any]:
    """Every var declared in ``dbt_project.yml`` with its default value."""
    return dict(yaml.safe_load(DBT_PROJECT.read_text())["vars"])


def var(name: str) -> Any:
    """One declared default; a name that is not declared is a programming error."""
    declared = dbt_vars()
    if name not in declared:
        raise KeyError(f"var {name!r} is not declared in {DBT_PROJECT.name}")
    return declared[name]
