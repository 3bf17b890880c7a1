"""recall@k of a ranking against the exact top k, on a random sample of users.

Every run measures it (mart ``topk_recall``): the exact path scores 1.0 by
construction, the approximate search is judged by it, and the build fails below
the recall floor. Each listed neighbour is rescored from the vectors (the list
is trusted for nothing but its ids). With ties at the cut several lists are
all exact, so a neighbour is a hit when its exact score reaches the exact
k-th score; both are rounded to the published precision, so no tolerance is
needed.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simcore.scoring import exact_pair_scores
from simcore.topk import exact_rows


@dataclass(frozen=True)
class Recall:
    """recall@k of a ranking on a random sample of users against exact top k."""

    recall: float
    sample_size: int
    k: int


def sample_rows(n: int, sample_size: int, seed: int) -> np.ndarray:
    """The seeded sample of rows a recall is measured on, sorted."""
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=min(n, sample_size), replace=False))


def sampled_recall(vectors: np.ndarray, neighbours: np.ndarray, sample_size: int = 1_000, seed: int = 0) -> Recall:
    """Share of the exact top k found, on ``sample_size`` random users (:func:`recall_on_rows`)."""
    n, k = neighbours.shape
    if n == 0 or k == 0:
        return Recall(1.0, 0, k)
    rows = sample_rows(n, sample_size, seed)
    return Recall(recall_on_rows(vectors, neighbours, rows), int(rows.size), int(k))


def recall_on_rows(vectors: np.ndarray, neighbours: np.ndarray, rows: np.ndarray) -> float:
    """Share of the exact top k of ``rows`` that ``neighbours[rows]`` lists.

    ``-1``, the user itself and a neighbour listed twice never count.
    """
    z = np.ascontiguousarray(vectors, dtype=np.float32)
    k = neighbours.shape[1]
    _, exact_scores = exact_rows(z, rows, k)
    listed = neighbours[rows]
    scores = exact_pair_scores(z, z, np.repeat(rows, k), np.maximum(listed, 0).ravel()).reshape(rows.size, k)
    bad = (listed < 0) | (listed == rows[:, None])
    earlier = np.tri(k - 1, dtype=bool)[None]  # [a, b]: slot b comes before slot a + 1
    bad[:, 1:] |= np.any((listed[:, 1:, None] == listed[:, None, :-1]) & earlier, axis=2)
    scores[bad] = -np.inf
    return float((scores >= exact_scores[:, -1:]).mean())
