"""The flag -> dbt var table: one row per CLI flag that sets a dbt var.

The parser is built from it and the run's vars are read back through it, so a
flag cannot be added to one without the other. Defaults are the vars declared
in ``dbt_project.yml`` (:func:`contracts.defaults.var`).
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from contracts.defaults import var
from simcore.strategy import TOPK_EXECUTORS, TOPK_METHODS

FEATURE_WEIGHTINGS = ("idf", "none")  # macros/feature_weighting.sql
ENGAGEMENTS = ("log", "bins", "none")


@dataclass(frozen=True)
class VarFlag:
    """A CLI flag whose value is the dbt var ``var`` (default: that var's declared value)."""

    flag: str
    var: str
    help: str
    type: type | None = None
    choices: tuple[str, ...] | None = None
    boolean: bool = False

    @property
    def dest(self) -> str:
        return self.flag.removeprefix("--").replace("-", "_")


VAR_FLAGS: tuple[VarFlag, ...] = (
    VarFlag("--top-k", "top_k", "neighbours kept per user", int),
    VarFlag("--variance", "variance_target",
            "cumulative explained variance TruncatedSVD keeps per signal at the reference size, in (0, 1]", float),
    VarFlag("--variance-growth", "variance_growth",
            "variance share added per tenfold users of a signal above var variance_reference_users", float),
    VarFlag("--max-components", "max_components", "SVD components kept per signal at most; 0 = no cap", int),
    VarFlag("--smoothing-neighbours", "smoothing_neighbours",
            "nearest users each user's vectors are blended with before the final ranking; 0 = off", int),
    VarFlag("--score-bins", "score_bins", "quantile bins of assessment scores", int),
    VarFlag("--view-time-bins", "view_time_bins", "quantile bins of view time", int),
    VarFlag("--feature-weighting", "feature_weighting",
            "idf: discount features by how many users have them; none: the original system",
            choices=FEATURE_WEIGHTINGS),
    VarFlag("--engagement", "engagement",
            "strength of a viewed course: log of minutes watched, view-time bin, or 1 (none)", choices=ENGAGEMENTS),
    VarFlag("--course-identity", "course_identity", "the course itself as a feature of the course-view signal",
            boolean=True),
    VarFlag("--topk-method", "topk_method",
            "top-k search: exact, ann (faiss candidates, exact scores, recall measured) or auto"
            f" (exact up to {var('topk_exact_max_users'):,} users)", choices=TOPK_METHODS),
    VarFlag("--topk-executor", "topk_executor",
            "where the exact top k runs: local (this process) or spark (row blocks as Spark tasks, same ranking;"
            " master from USER_SIM_SPARK_MASTER, default local[2]; needs requirements-spark.txt and Java 17;"
            " exact only, so auto means exact there)", choices=TOPK_EXECUTORS),
    VarFlag("--topk-block-rows", "topk_block_rows",
            "users per exact top-k block (one Spark task each); 0 = as many as fit 256 MiB of scores", int),
    VarFlag("--recall-floor", "topk_recall_floor",
            "the run fails (nothing published) when recall@k on the exact sample is below this", float),
    VarFlag("--max-drop-share", "max_drop_share",
            "stop before publishing when cleaning drops more than this share of a table's rows", float),
)


def add_var_flags(parser: argparse.ArgumentParser) -> None:
    """Add every flag of :data:`VAR_FLAGS` to ``parser``."""
    for f in VAR_FLAGS:
        if f.boolean:
            parser.add_argument(f.flag, action=argparse.BooleanOptionalAction, default=var(f.var), help=f.help)
        else:
            parser.add_argument(f.flag, type=f.type, choices=f.choices, default=var(f.var), help=f.help)


def var_values(args: argparse.Namespace) -> dict[str, Any]:
    """The dbt vars the parsed flags of :data:`VAR_FLAGS` set."""
    return {f.var: getattr(args, f.dest) for f in VAR_FLAGS}
