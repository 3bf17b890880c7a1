"""How the top k is searched: one strategy resolved once per run, one function per backend.

A strategy is a method (``exact``: row blocks against all users; ``ann``:
faiss candidates, exact scores) and an executor (``local`` or ``spark``).
:func:`resolve_strategy` turns the settings (``auto`` included) into one, the
``user_ranking`` model runs it and records its method in every row, and
``topk_recall`` reads the method from there instead of working it out again.
Every backend has the same signature and the same output: (n, k') neighbour
indices and their exact scores at the published precision.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

TOPK_METHODS = ("auto", "exact", "ann")
TOPK_EXECUTORS = ("local", "spark")

Backend = Callable[[np.ndarray, int, "int | None"], tuple[np.ndarray, np.ndarray]]


def _exact_local(z: np.ndarray, k: int, block_rows: int | None) -> tuple[np.ndarray, np.ndarray]:
    from simcore.topk import top_k

    return top_k(z, k, block_rows=block_rows)


def _exact_spark(z: np.ndarray, k: int, block_rows: int | None) -> tuple[np.ndarray, np.ndarray]:
    from simcore.spark_topk import spark_top_k  # pyspark only on this path

    return spark_top_k(z, k, block_rows=block_rows)


def _ann_local(z: np.ndarray, k: int, block_rows: int | None) -> tuple[np.ndarray, np.ndarray]:
    from simcore.ann import ann_top_k  # faiss only on this path

    return ann_top_k(z, k)


BACKENDS: dict[tuple[str, str], Backend] = {
    ("exact", "local"): _exact_local,
    ("exact", "spark"): _exact_spark,
    ("ann", "local"): _ann_local,
}


@dataclass(frozen=True)
class TopKStrategy:
    """A resolved method and executor: one of :data:`BACKENDS`."""

    method: str
    executor: str = "local"

    def __post_init__(self) -> None:
        if (self.method, self.executor) not in BACKENDS:
            check_executor(self.method, self.executor)
            raise ValueError(f"no top-k backend for method {self.method!r} on executor {self.executor!r}")

    def search(self, z: np.ndarray, k: int, block_rows: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Each row's ``min(k, n - 1)`` best other rows by dot product, and their exact scores."""
        return BACKENDS[(self.method, self.executor)](z, k, block_rows)


EXACT_LOCAL = TopKStrategy("exact", "local")


def check_executor(method: str, executor: str) -> None:
    """The one rule joining the two settings: Spark runs the exact top k only (``ann`` stays local)."""
    if executor not in TOPK_EXECUTORS:
        raise ValueError(f"topk_executor must be one of {', '.join(TOPK_EXECUTORS)}, got {executor!r}")
    if executor == "spark" and method == "ann":
        raise ValueError("topk_executor spark runs the exact top k only; the approximate one (topk_method ann)"
                         " runs on the local executor: use topk_method exact or auto, or topk_executor local")


def resolve_strategy(method: str, n_users: int, exact_max_users: int, executor: str = "local") -> TopKStrategy:
    """The strategy of a run: ``auto`` is exact up to ``exact_max_users`` users (measured crossover).

    On the Spark executor the top k is always exact (a cluster is there to pay
    the exact O(n^2) cost): ``auto`` means exact and ``ann`` is an error.
    """
    if method not in TOPK_METHODS:
        raise ValueError(f"topk_method must be one of {', '.join(TOPK_METHODS)}, got {method!r}")
    check_executor(method, executor)
    if method == "auto":
        method = "exact" if executor == "spark" or n_users <= exact_max_users else "ann"
    return TopKStrategy(method, executor)
