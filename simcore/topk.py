"""Exact top-k neighbours by dot product, computed in row blocks.

The full n x n score matrix is never held: each block of rows is scored
against all users (``block @ Z.T``), its top k kept, and the block freed.
The float32 product only finds candidates; every kept score is recomputed
in float64 and rounded to the published precision (:mod:`simcore.scoring`),
so equal scores tie exactly whatever the BLAS kernel; ties are broken by the
lower column index, which is the lower user handle when rows are in handle order.
Each block is one single-threaded call of :func:`top_k_block`; blocks run side
by side (here on threads, on Spark as tasks), so the result is the same for
any thread count and either executor.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from simcore.precision import SCORE_DECIMALS
from simcore.scoring import block_top_k, float32_error_bound, max_row_norm

DEFAULT_BLOCK_BYTES = 256 * 1024**2  # score block budget: 256 MiB of float32
SAMPLE_BLOCK_BYTES = 32 * 1024**2  # score block of the exact rows of a probe or recall sample


def block_rows_for(n_users: int, block_bytes: int = DEFAULT_BLOCK_BYTES) -> int:
    """Rows per block so that one (rows, n_users) float32 block fits ``block_bytes``."""
    return max(1, min(n_users, block_bytes // max(1, 4 * n_users)))


def _rank_rows_exact(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top k of each row by argpartition; exact for any ties (self already -inf)."""
    part = np.argpartition(scores, scores.shape[1] - k, axis=1)[:, -k:]
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


def rank_block(
    scores: np.ndarray, k: int, chunk: int = 64, max_candidates: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Top k column indices and scores of each row of ``scores`` (self already -inf).

    A cheap lower bound prunes each row first: the k-th largest of the row's
    chunk maxima is at most the row's k-th largest score, so every score at or
    above it is a candidate and the true top k (ties included) are among them.
    Only the few candidates are sorted. Rows with too many candidates (many
    ties, e.g. a user scoring 0 with almost everyone) take the exact path.
    """
    n_rows, n_cols = scores.shape
    n_chunks = n_cols // chunk
    if n_chunks < k:
        return _rank_rows_exact(scores, k)
    cap = max_candidates if max_candidates is not None else 8 * k + 64
    maxima = scores[:, : n_chunks * chunk].reshape(n_rows, n_chunks, chunk).max(axis=2)
    if n_cols > n_chunks * chunk:
        maxima = np.hstack([maxima, scores[:, n_chunks * chunk:].max(axis=1, keepdims=True)])
    bound = np.partition(maxima, maxima.shape[1] - k, axis=1)[:, -k]
    rows, cols = np.nonzero(scores >= bound[:, None])
    counts = np.bincount(rows, minlength=n_rows)
    neighbours = np.empty((n_rows, k), np.int64)
    best = np.empty((n_rows, k), scores.dtype)
    heavy = counts > cap
    if heavy.any():
        neighbours[heavy], best[heavy] = _rank_rows_exact(scores[heavy], k)
        keep = ~heavy[rows]
        rows, cols = rows[keep], cols[keep]
        counts[heavy] = 0
    values = scores[rows, cols]
    order = np.lexsort((cols, -values, rows))  # by row, then score desc, then index asc
    starts = np.cumsum(counts) - counts
    light = np.flatnonzero(~heavy)
    take = order[starts[light][:, None] + np.arange(k)]
    neighbours[light] = cols[take]
    best[light] = values[take]
    return neighbours, best


def prepare_vectors(vectors: np.ndarray, k: int) -> tuple[np.ndarray, int]:
    """Checked C-contiguous float32 copy of ``vectors`` and the effective ``k' = min(k, n - 1)``.

    Every executor starts here, so they agree on the input they score.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    z = np.ascontiguousarray(vectors, dtype=np.float32)
    if z.ndim != 2:
        raise ValueError("vectors must be a 2-d array (n_users, n_dims)")
    return z, min(k, z.shape[0] - 1)


def block_starts(n_users: int, block_rows: int | None) -> tuple[int, list[int]]:
    """Rows per block (``None`` or 0: :func:`block_rows_for`) and the first row of every block."""
    if block_rows is not None and block_rows < 0:
        raise ValueError(f"block_rows must be >= 0 (0 = automatic), got {block_rows}")
    step = block_rows or block_rows_for(n_users)
    return step, list(range(0, n_users, step))


def score_margin(z: np.ndarray) -> float:
    """The float32 error bound of a product of two rows of ``z`` (:func:`simcore.scoring.float32_error_bound`)."""
    return float32_error_bound(z.shape[1], max_row_norm(z))


def top_k_block(z: np.ndarray, start: int, stop: int, k: int, margin: float) -> tuple[np.ndarray, np.ndarray]:
    """Top k of rows ``start:stop`` of ``z`` against all rows: (stop - start, k) indices and exact scores.

    The one block computation: the local loop (:func:`top_k`) and the Spark
    tasks (``simcore.spark_topk``) both call it, so they cannot drift. ``z``
    may be a read-only memory map; ``k`` must already be at most ``n - 1``;
    ``margin`` is :func:`score_margin` of ``z``.
    """
    n = z.shape[0]
    return block_top_k(z[start:stop], np.arange(start, stop), z, np.arange(n), k, margin)


def top_k(vectors: np.ndarray, k: int, *, block_rows: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Indices (n, k') and scores (n, k') of each row's k best other rows by dot product.

    ``k' = min(k, n - 1)``. Scores are exact at the published precision
    (:mod:`simcore.scoring`); rows are sorted by score descending, then index
    ascending; a row is never its own neighbour.
    """
    z, k_eff = prepare_vectors(vectors, k)
    n = z.shape[0]
    if k_eff <= 0:
        return np.zeros((n, 0), np.int64), np.zeros((n, 0), np.float64)
    step, starts = block_starts(n, block_rows)
    margin = score_margin(z)
    neighbours = np.empty((n, k_eff), dtype=np.int64)
    best = np.empty((n, k_eff), dtype=np.float64)

    def block(start: int) -> tuple[np.ndarray, np.ndarray]:
        return top_k_block(z, start, min(start + step, n), k_eff, margin)

    # One BLAS thread per block, blocks side by side on the threads BLAS was given: the same
    # work per block for any thread count and for the Spark tasks (one thread each)
    workers = min(_blas_width(), len(starts))
    with threadpool_limits(limits=1, user_api="blas"):
        if workers > 1:
            with ThreadPoolExecutor(workers) as pool:
                results = list(pool.map(block, starts))
        else:
            results = [block(start) for start in starts]
    for start, (ids, scores) in zip(starts, results, strict=True):
        neighbours[start:start + step], best[start:start + step] = ids, scores
    return neighbours, best


def exact_rows(vectors: np.ndarray, rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact top k of the given rows only (the reference a probe or recall sample is measured against)."""
    z = np.ascontiguousarray(vectors, dtype=np.float32)
    n = z.shape[0]
    rows = np.asarray(rows, np.int64)
    margin = score_margin(z)
    out_i = np.empty((rows.size, k), np.int64)
    out_s = np.empty((rows.size, k), np.float64)
    # a small block: this runs beside the whole ranking's arrays
    step = block_rows_for(n, SAMPLE_BLOCK_BYTES)
    for start in range(0, rows.size, step):
        part = rows[start:start + step]
        out_i[start:start + step], out_s[start:start + step] = block_top_k(z[part], part, z, np.arange(n), k, margin)
    return out_i, out_s


def _blas_width() -> int:
    """Threads the BLAS libraries may use here (the caller's :func:`simcore.threads.blas_threads` cap)."""
    return max((lib["num_threads"] for lib in threadpool_info() if lib.get("user_api") == "blas"), default=1)


def brute_force_top_k(vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Reference top k from the full dense score matrix; for tests and tiny inputs only."""
    z = np.asarray(vectors, dtype=np.float64)
    n = z.shape[0]
    k_eff = min(k, n - 1)
    scores = np.round(z @ z.T, SCORE_DECIMALS)
    np.fill_diagonal(scores, -np.inf)
    idx = np.empty((n, max(k_eff, 0)), np.int64)
    for row in range(n):
        order = np.lexsort((np.arange(n), -scores[row]))
        idx[row] = order[:k_eff]
    return idx, np.take_along_axis(scores, idx, axis=1)
