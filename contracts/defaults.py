"""Model defaults: the ``vars`` of ``dbt_project.yml``, the one place they are set.

``python -m pipeline``, the benchmarks and the evaluation take their defaults
(:func:`default_weights` included) from here, so ``dbt build`` without vars and
the CLI without flags agree by construction. The numeric core (``simcore``)
reads no project file: its callers pass every parameter.
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


def default_weights() -> dict[str, float]:
    """The tuned signal weights, vars ``weight_<signal>`` (docs/analysis.md), by signal."""
    return {s: float(var(f"weight_{s}")) for s in ("interests", "assessments", "course_views")}
