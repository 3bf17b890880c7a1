"""Exact top-k neighbours by dot product, computed in row blocks.

The full n x n score matrix is never held: each block of rows is scored
against all users (``block @ Z.T``), its top k kept, and the block freed.
Scores are compared after rounding to ``decimals`` places so that equal
scores from float32 arithmetic tie exactly; ties are broken by the lower
column index, which is the lower user handle when rows are ordered by handle.
"""
from __future__ import annotations

import numpy as np

DEFAULT_BLOCK_BYTES = 256 * 1024**2  # score block budget: 256 MiB of float32
DEFAULT_DECIMALS = 6


def block_rows_for(n_users: int, block_bytes: int = DEFAULT_BLOCK_BYTES) -> int:
    """Rows per block so that one (rows, n_users) float32 block fits ``block_bytes``."""
    return max(1, min(n_users, block_bytes // max(1, 4 * n_users)))


def _rank_block(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top k column indices and scores of each row of ``scores`` (self already -inf)."""
    n_rows, n_cols = scores.shape
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    part_scores = np.take_along_axis(scores, part, axis=1)
    kth = part_scores.min(axis=1)
    at_least_kth = np.count_nonzero(scores >= kth[:, None], axis=1)
    for row in np.flatnonzero(at_least_kth > k):
        # a tie at the k-th score crosses the cut: keep the lowest indices among the tied
        above = np.flatnonzero(scores[row] > kth[row])
        tied = np.flatnonzero(scores[row] == kth[row])[: k - above.size]
        part[row] = np.concatenate([above, tied])
    part_scores = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -part_scores), axis=1)
    return np.take_along_axis(part, order, axis=1), np.take_along_axis(part_scores, order, axis=1)


def top_k(
    vectors: np.ndarray,
    k: int,
    *,
    block_rows: int | None = None,
    decimals: int = DEFAULT_DECIMALS,
) -> tuple[np.ndarray, np.ndarray]:
    """Indices (n, k') and scores (n, k') of each row's k best other rows by dot product.

    ``k' = min(k, n - 1)``. Rows are sorted by score descending, then index
    ascending; a row is never its own neighbour.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    z = np.ascontiguousarray(vectors, dtype=np.float32)
    if z.ndim != 2:
        raise ValueError("vectors must be a 2-d array (n_users, n_dims)")
    n = z.shape[0]
    k_eff = min(k, n - 1)
    if k_eff <= 0:
        return np.zeros((n, 0), np.int64), np.zeros((n, 0), np.float32)
    step = block_rows or block_rows_for(n)
    neighbours = np.empty((n, k_eff), dtype=np.int64)
    best = np.empty((n, k_eff), dtype=np.float32)
    zt = z.T
    for start in range(0, n, step):
        stop = min(start + step, n)
        scores = z[start:stop] @ zt
        np.round(scores, decimals, out=scores)
        scores[np.arange(stop - start), np.arange(start, stop)] = -np.inf
        neighbours[start:stop], best[start:stop] = _rank_block(scores, k_eff)
    return neighbours, best


def brute_force_top_k(vectors: np.ndarray, k: int, decimals: int = DEFAULT_DECIMALS) -> tuple[np.ndarray, np.ndarray]:
    """Reference top k from the full dense score matrix; for tests and tiny inputs only."""
    z = np.asarray(vectors, dtype=np.float64)
    n = z.shape[0]
    k_eff = min(k, n - 1)
    scores = np.round(z @ z.T, decimals)
    np.fill_diagonal(scores, -np.inf)
    idx = np.empty((n, max(k_eff, 0)), np.int64)
    for row in range(n):
        order = np.lexsort((np.arange(n), -scores[row]))
        idx[row] = order[:k_eff]
    return idx, np.take_along_axis(scores, idx, axis=1)
