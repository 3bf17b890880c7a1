"""The weighted cosine ensemble: score(u, v) = sum_t w_t * cos_t(u, v).

Each signal's user vectors are L2-normalised (zero for a user without data),
so stacking ``sqrt(w_t) * V_t`` side by side gives one matrix whose row dot
products are exactly the weighted sum of per-signal cosines. A user without
data on a signal contributes 0 there.
"""
from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from simcore.scoring import exact_pair_scores

SIGNALS: tuple[str, ...] = ("interests", "assessments", "course_views")


def normalise_weights(weights: Mapping[str, float]) -> dict[str, float]:
    """Validate weights (known signals, finite, non-negative, not all zero) and scale to sum 1."""
    unknown = set(weights) - set(SIGNALS)
    if unknown:
        raise ValueError(f"unknown signals in weights: {sorted(unknown)}; expected {list(SIGNALS)}")
    values = {s: float(weights.get(s, 0.0)) for s in SIGNALS}
    for signal, w in values.items():
        if not math.isfinite(w) or w < 0:
            raise ValueError(f"weight of {signal} must be a finite number >= 0, got {w}")
    total = sum(values.values())
    if total <= 0:
        raise ValueError("at least one weight must be positive")
    return {s: w / total for s, w in values.items()}


def signal_blocks(vectors: Mapping[str, np.ndarray], weights: Mapping[str, float]) -> list[tuple[str, int, int, float]]:
    """``(signal, start, stop, weight)`` of each signal's columns in the stacked matrix, in stacking order.

    A signal with weight 0 or no dimensions has no block.
    """
    w = normalise_weights(weights)
    blocks, start = [], 0
    for s in SIGNALS:
        if s in vectors and w[s] > 0 and vectors[s].shape[1] > 0:
            blocks.append((s, start, start + vectors[s].shape[1], w[s]))
            start += vectors[s].shape[1]
    return blocks


def stack_weighted(vectors: Mapping[str, np.ndarray], weights: Mapping[str, float]) -> np.ndarray:
    """One (n, sum of dims) float32 matrix whose row dot products are the ensemble score."""
    blocks = signal_blocks(vectors, weights)
    n = next(iter(vectors.values())).shape[0] if vectors else 0
    if not blocks:
        return np.zeros((n, 1), np.float32)
    # filled in place: scaled copies then hstack would hold the matrix twice more at peak
    out = np.empty((n, blocks[-1][2]), np.float32)
    for s, start, stop, w in blocks:
        np.multiply(vectors[s], np.sqrt(w, dtype=np.float32), out=out[:, start:stop], dtype=np.float32)
    return out


def pair_cosines(vectors: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Cosine of each (left[i], right[i]) pair on one signal, exact at the published precision."""
    if vectors.shape[1] == 0:
        return np.zeros(len(left), np.float64)
    return exact_pair_scores(vectors, vectors, np.asarray(left, np.int64), np.asarray(right, np.int64))
