"""Neighbourhood smoothing: each user's profile blended with its nearest neighbours' before the final ranking.

A learner's follows and views are a small, noisy sample of their taste. The
``m`` users nearest to them (found on the plain profiles) are a second,
independent sample of the same taste, so the final ranking compares

    p'_u = normalise(p_u + sum_j max(s_uj, 0) p_{n_uj})

per signal, where ``p`` are the unit per-signal vectors, ``n_uj`` the j-th
nearest user and ``s_uj`` their ensemble score. This is query expansion with
database-side augmentation from retrieval (each side of a pair is expanded).
A user keeps a zero profile on a signal they have no data on, so the score is
still ``sum_t w_t cos_t`` with 0 for a missing signal. Measured in
docs/analysis.md ("Neighbourhood smoothing").

Elementwise float32 arithmetic in a fixed order, norms in float64: the same
result on any CPU.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

CHUNK_ROWS = 32_768  # rows smoothed at a time: bounds the gathered neighbour rows


def smooth(z: np.ndarray, blocks: Sequence[tuple[int, int, float]], neighbours: np.ndarray,
           scores: np.ndarray) -> np.ndarray:
    """Smoothed copy of the stacked vectors ``z`` (n, d).

    ``blocks`` are the signals' ``(start, stop, weight)`` column ranges in
    ``z`` (each block is ``sqrt(weight)`` times a unit vector, or zero;
    :func:`simcore.ensemble.signal_blocks`);
    ``neighbours`` (n, m) row ids (``-1``: none) with their ``scores``.
    """
    n = z.shape[0]
    if neighbours.shape[0] != n or scores.shape != neighbours.shape:
        raise ValueError("neighbours and scores must be (n_users, m) for the n_users rows of z")
    weights = np.where(neighbours >= 0, np.clip(np.nan_to_num(scores, neginf=0.0), 0.0, None), 0.0).astype(np.float32)
    ids = np.maximum(neighbours, 0)
    out = np.empty_like(z, dtype=np.float32)
    for lo in range(0, n, CHUNK_ROWS):
        hi = min(lo + CHUNK_ROWS, n)
        acc = np.array(z[lo:hi], dtype=np.float32)
        for j in range(neighbours.shape[1]):
            acc += weights[lo:hi, j:j + 1] * z[ids[lo:hi, j]]
        for start, stop, weight in blocks:
            own = z[lo:hi, start:stop]
            part = acc[:, start:stop]
            norms = np.sqrt(np.einsum("ij,ij->i", part.astype(np.float64), part.astype(np.float64)))
            has = np.any(own != 0, axis=1) & (norms > 0)
            scale = np.zeros(hi - lo, np.float64)
            scale[has] = np.sqrt(weight) / norms[has]
            out[lo:hi, start:stop] = (part * scale[:, None]).astype(np.float32)
    return out
