"""Vectorised sampling helpers shared by the generators."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


def cum(weights: npt.ArrayLike) -> FloatArray:
    """Normalised cumulative weights for inverse-CDF sampling with searchsorted."""
    c = np.cumsum(np.asarray(weights, dtype=np.float64))
    c /= c[-1]
    return c


def draw(cumulative: FloatArray, u: FloatArray) -> IntArray:
    """Indices sampled from ``cumulative`` (see :func:`cum`), clipped against float edge cases."""
    return np.minimum(np.searchsorted(cumulative, u, side="right"), len(cumulative) - 1).astype(np.int64)


def gumbel_order(rng: np.random.Generator, log_w: FloatArray) -> IntArray:
    """Column order per row of a weighted sample without replacement (Gumbel top-k)."""
    keys = log_w + rng.gumbel(size=log_w.shape)
    return np.argsort(-keys, axis=1, kind="stable")


def segment_starts(counts: IntArray) -> IntArray:
    """Start offset of each consecutive segment of the given lengths."""
    return np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64)


def nb_counts(rng: np.random.Generator, n: int, mean: float, r: float, minimum: int = 1) -> IntArray:
    """``minimum`` + negative binomial counts with the given overall mean (dispersion ``r``)."""
    m = max(mean - minimum, 1e-9)
    return minimum + rng.negative_binomial(r, r / (r + m), size=n).astype(np.int64)


def unique_sorted(keys: IntArray) -> IntArray:
    """Sorted distinct values; sort+mask beats ``np.unique``'s hashing here."""
    k = np.sort(keys)
    return k[np.concatenate(([True], k[1:] != k[:-1]))] if len(k) else k


def zipf_sizes(total: int, n_parts: int, exponent: float) -> IntArray:
    """Sizes ~ rank^-exponent summing to ``total`` (largest-remainder rounding)."""
    w = np.arange(1, n_parts + 1, dtype=np.float64) ** -exponent
    exact = total * w / w.sum()
    sizes = np.floor(exact).astype(np.int64)
    rest = total - int(sizes.sum())
    sizes[np.argsort(-(exact - sizes), kind="stable")[:rest]] += 1
    return sizes


@dataclass(frozen=True)
class SegmentSampler:
    """Weighted draws of an item within a key's segment (a course among a tag's courses), vectorised.

    Entries are sorted by key; ``flat`` holds ``key + cumulative weight share``
    inside the key's segment, so one ``searchsorted`` of ``key + u`` draws for
    any number of keys at once.
    """

    flat: FloatArray
    items: IntArray
    ends: IntArray  # one past the last entry of each key's segment
    counts: IntArray  # entries per key (0: the key has no items)

    @classmethod
    def build(cls, keys: IntArray, items: IntArray, weights: FloatArray, n_keys: int) -> SegmentSampler:
        order = np.lexsort((items, keys))
        seg_key, seg_item, w = keys[order], items[order], weights[order]
        cw = np.cumsum(w)
        counts = np.bincount(seg_key, minlength=n_keys)
        starts = segment_starts(counts)
        ends = starts + counts
        first_i, last_i = np.repeat(starts, counts), np.repeat(ends - 1, counts)
        base = cw[first_i] - w[first_i]
        within = (cw - base) / (cw[last_i] - base)
        within[ends[counts > 0] - 1] = 1.0
        return cls(seg_key.astype(np.float64) + within, seg_item.astype(np.int64), ends.astype(np.int64),
                   counts.astype(np.int64))

    def draw(self, keys: IntArray, u: FloatArray) -> IntArray:
        """One item per key (every key must have items), ``u`` uniform in [0, 1)."""
        idx = np.searchsorted(self.flat, keys + u, side="right")
        return self.items[np.minimum(idx, self.ends[keys] - 1)]
