"""Exact scores at the published precision, and the one rule that orders neighbours.

Every search (exact blocks, clustered lists, Spark tasks) finds candidates with
a float32 matrix product, which is fast but whose last bits depend on the
BLAS kernel, the CPU and the thread split. The ranking must not. So:

1. A float32 product of two vectors of norm at most ``r`` in ``d`` dimensions
   is within ``gamma_d * r**2`` of the exact value, whatever the summation
   order (``gamma_d = d u / (1 - d u)``, ``u = 2**-24``; Higham, *Accuracy and
   Stability of Numerical Algorithms*, 3.1). :func:`candidate_pairs` keeps
   every pair whose float32 score is within twice that bound of the row's
   k-th float32 score, so the exact top k is always among the candidates.
2. :func:`exact_pair_scores` rescores the candidates in float64 from the
   stored float32 vectors (each product is exact in float64; the sum's error
   is about 1e-16) and rounds to :data:`SCORE_DECIMALS`.
3. :func:`rank_pairs` orders by rounded score descending, then by the lower
   row index (the lower user handle: rows are in handle order).

A last-bit difference in BLAS can then change a published score or an order
only for a pair whose exact score lies within about 1e-15 of a rounding
boundary (docs/benchmarks.md has the measured count).
"""
from __future__ import annotations

import numpy as np

from simcore.precision import SCORE_DECIMALS

_U32 = 2.0**-24
_PAIR_CHUNK_VALUES = 1 << 22  # gathered float64 values per rescoring chunk (32 MiB)
HEAVY_ROW = 512  # rows with more candidates than this are rescored by one float64 product instead of gathers


def float32_error_bound(dims: int, max_norm: float = 1.0) -> float:
    """Largest error of a float32 dot product of two vectors of norm <= ``max_norm`` in ``dims`` dimensions."""
    gamma = dims * _U32 / (1.0 - dims * _U32)
    return gamma * max_norm * max_norm


def max_row_norm(z: np.ndarray) -> float:
    """Largest row norm of ``z`` (the stacked vectors of this project have norm <= 1), in float64."""
    if z.size == 0:
        return 0.0
    best = 0.0
    for start in range(0, z.shape[0], 65_536):
        block = np.asarray(z[start:start + 65_536], np.float64)
        best = max(best, float(np.sqrt(np.einsum("ij,ij->i", block, block).max())))
    return best


def candidate_pairs(scores: np.ndarray, k: int, margin: float) -> tuple[np.ndarray, np.ndarray]:
    """(rows, cols) of every entry within ``2 * margin`` of its row's k-th largest float32 score.

    ``-inf`` entries (the user itself) are never candidates; a row with fewer
    than ``k`` finite entries keeps them all. Cost: one pass over ``scores``
    for chunk maxima, a lower bound of each row's k-th score, then a sort of
    the few entries above it.
    """
    n_rows, n_cols = scores.shape
    if n_rows == 0 or n_cols == 0 or k <= 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    if n_cols <= k:
        rows, cols = np.nonzero(np.isfinite(scores))
        return rows.astype(np.int64), cols.astype(np.int64)
    chunk = 64
    n_chunks = n_cols // chunk
    if n_chunks >= 4 * k:
        # the k-th largest chunk maximum is at most the row's k-th largest score
        maxima = scores[:, : n_chunks * chunk].reshape(n_rows, n_chunks, chunk).max(axis=2)
        lower = np.partition(maxima, n_chunks - k, axis=1)[:, n_chunks - k]
    else:
        lower = np.partition(scores, n_cols - k, axis=1)[:, n_cols - k]
    rows, cols = np.nonzero(scores >= (lower - 2 * margin)[:, None])
    values = scores[rows, cols]
    finite = np.isfinite(values)
    rows, cols, values = rows[finite], cols[finite], values[finite]
    # the exact k-th float32 score of each row among the candidates, then the final cut
    order = np.lexsort((-values, rows))
    counts = np.bincount(rows, minlength=n_rows)
    starts = np.cumsum(counts) - counts
    kth = np.full(n_rows, -np.inf, np.float32)
    full = counts >= k
    kth[full] = values[order][starts[full] + k - 1]
    keep = values >= kth[rows] - 2 * margin
    return rows[keep].astype(np.int64), cols[keep].astype(np.int64)


def exact_pair_scores(left: np.ndarray, right: np.ndarray, li: np.ndarray, ri: np.ndarray) -> np.ndarray:
    """Dot product of ``left[li[p]]`` and ``right[ri[p]]`` for every pair p, in float64, rounded."""
    out = np.empty(li.size, np.float64)
    dims = max(1, left.shape[1])
    step = max(1, _PAIR_CHUNK_VALUES // dims)
    for start in range(0, li.size, step):
        a = np.asarray(left[li[start:start + step]], np.float64)
        b = np.asarray(right[ri[start:start + step]], np.float64)
        out[start:start + step] = np.einsum("ij,ij->i", a, b)
    return np.round(out, SCORE_DECIMALS)


def exact_row_scores(query: np.ndarray, members: np.ndarray) -> np.ndarray:
    """Every member's score against each query row, in float64 products, rounded: (q, m)."""
    out = np.empty((query.shape[0], members.shape[0]), np.float64)
    q = np.asarray(query, np.float64)
    dims = max(1, members.shape[1])
    step = max(1, _PAIR_CHUNK_VALUES // dims)
    for start in range(0, members.shape[0], step):
        out[:, start:start + step] = q @ np.asarray(members[start:start + step], np.float64).T
    return np.round(out, SCORE_DECIMALS)


def rank_pairs(rows: np.ndarray, ids: np.ndarray, scores: np.ndarray, n_rows: int, k: int
               ) -> tuple[np.ndarray, np.ndarray]:
    """Each row's first ``k`` pairs by score descending, then lower id: (n_rows, k) ids and scores.

    A row with fewer than ``k`` pairs is padded with id ``-1`` and score ``-inf``.
    """
    order = np.lexsort((ids, -scores, rows))
    rows_s = rows[order]
    counts = np.bincount(rows_s, minlength=n_rows)
    starts = np.cumsum(counts) - counts
    position = np.arange(rows_s.size) - starts[rows_s]
    keep = position < k
    out_ids = np.full((n_rows, k), -1, np.int64)
    out_scores = np.full((n_rows, k), -np.inf, np.float64)
    out_ids[rows_s[keep], position[keep]] = ids[order][keep]
    out_scores[rows_s[keep], position[keep]] = scores[order][keep]
    return out_ids, out_scores


def block_top_k(query: np.ndarray, query_ids: np.ndarray, members: np.ndarray, member_ids: np.ndarray,
                k: int, margin: float) -> tuple[np.ndarray, np.ndarray]:
    """Top ``k`` members of each query row, never the query itself: (q, k) member ids and exact scores.

    The one block computation every search runs: ``member_ids`` are sorted
    global row indices, ``query_ids`` the queries' own; ``margin`` is
    :func:`float32_error_bound` for the vectors. Rows with fewer than ``k``
    other members are padded (-1, -inf).
    """
    n_q = query.shape[0]
    if n_q == 0:
        return np.zeros((0, k), np.int64), np.zeros((0, k), np.float64)
    scores = np.asarray(query, np.float32) @ np.asarray(members, np.float32).T
    at = np.searchsorted(member_ids, query_ids)
    own = (at < member_ids.size) & (member_ids[np.minimum(at, member_ids.size - 1)] == query_ids)
    scores[np.flatnonzero(own), at[own]] = -np.inf
    rows, cols = candidate_pairs(scores, k, margin)
    del scores
    counts = np.bincount(rows, minlength=n_q)
    heavy = np.flatnonzero(counts > HEAVY_ROW)
    if heavy.size:  # many near-ties (identical or orthogonal vectors): float64 rows are cheaper than gathers
        light = counts[rows] <= HEAVY_ROW
        rows, cols = rows[light], cols[light]
    ids, best = rank_pairs(rows, member_ids[cols], exact_pair_scores(query, members, rows, cols), n_q, k)
    step = max(1, _PAIR_CHUNK_VALUES // max(1, members.shape[0]))
    for lo in range(0, heavy.size, step):
        part = heavy[lo:lo + step]
        dense = exact_row_scores(query[part], members)
        mine = own[part]
        dense[np.flatnonzero(mine), at[part][mine]] = -np.inf
        h_rows, h_cols = np.nonzero(dense >= _kth_largest(dense, k)[:, None])
        ids[part], best[part] = rank_pairs(h_rows, member_ids[h_cols], dense[h_rows, h_cols], part.size, k)
    return ids, best


def _kth_largest(scores: np.ndarray, k: int) -> np.ndarray:
    """Each row's k-th largest value (``-inf`` where a row has fewer than k)."""
    if scores.shape[1] < k:
        return np.full(scores.shape[0], -np.inf)
    return np.partition(scores, scores.shape[1] - k, axis=1)[:, scores.shape[1] - k]


def merge_top_k(ids_a: np.ndarray, scores_a: np.ndarray, ids_b: np.ndarray, scores_b: np.ndarray, k: int
                ) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise union of two (n, .) ranked lists with disjoint ids, best ``k`` by the ranking rule."""
    ids = np.concatenate([ids_a, ids_b], axis=1)
    scores = np.concatenate([scores_a, scores_b], axis=1)
    key_ids = np.where(ids < 0, np.iinfo(np.int64).max, ids)
    order = np.lexsort((key_ids, -scores), axis=1)[:, :k]
    return np.take_along_axis(ids, order, axis=1), np.take_along_axis(scores, order, axis=1)
