"""Approximate top k for large user counts (faiss HNSW), with exact re-scoring and measured recall.

Exact top k costs n^2 dot products, which grows past a nightly budget at a
few hundred thousand users (docs/benchmarks.md). Here a faiss graph index (``IndexHNSWFlat``, inner product; chosen over
faiss IVF-Flat and hnswlib in ``benchmarks/ann_compare.py``, docs/benchmarks.md)
proposes candidates, every candidate is re-scored in float64 at the published
precision (:mod:`simcore.scoring`) and ranked with the exact path's rule
(score descending, then lower index), and the user itself is never kept.
So every published score is exact;
only a neighbour the index did not propose can be missed, which recall@k on
an exact sample measures (:func:`simcore.recall.sampled_recall`).

Users whose vector is all zero (no data in any weighted signal) score 0
against everyone; their exact answer is the k lowest other indices, which is
what they get, without a search. The search width (``efSearch``) is tuned per
run: widened 1.5x at a time from 32 until recall on a seeded probe sample of
300 users reaches 0.965, so a harder dataset gets a wider search instead of a
worse ranking. 0.965 is the floor (0.95) plus about three standard errors of a
1,500-hit probe. Steps of 1.5x rather than 2x stop nearer the width needed
(docs/benchmarks.md has the measured widths and times). faiss
inserts in a fixed order and its level draws are seeded; a test checks
that a rebuild (1 or 2 threads) gives the same ranking.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simcore.scoring import exact_pair_scores
from simcore.topk import exact_rows

SEARCH_BATCH = 20_000  # query rows per faiss call: bounds the (batch, candidates) buffers


@dataclass(frozen=True)
class AnnParams:
    """HNSW shape: ``m`` links per node, build and search beam widths, candidates re-scored per user."""

    m: int = 32
    ef_construction: int = 80
    ef_search: int = 32  # first search width tried; widened until the probe recall is reached
    ef_growth: float = 1.5  # each width tried is this many times the last (rounded up)
    max_ef_search: int = 1024
    candidates: int = 16  # neighbours fetched per user (at least k) before self and ties are sorted out
    probe_users: int = 300  # exact sample the search width is tuned on (not the recall mart's sample)
    probe_recall: float = 0.965
    seed: int = 12345


def _faiss():
    import faiss  # imported here: only the approximate path needs it

    return faiss


def build_index(vectors: np.ndarray, params: AnnParams):
    """A filled ``IndexHNSWFlat`` (inner product) over ``vectors``."""
    faiss = _faiss()
    index = faiss.IndexHNSWFlat(vectors.shape[1], params.m, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = params.ef_construction
    index.add(vectors)
    return index


def _rank_candidates(z: np.ndarray, rows: np.ndarray, cand: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's candidates rescored exactly, by score descending then index; self and padding (-1) removed."""
    scores = exact_pair_scores(z, z, np.repeat(rows, cand.shape[1]), np.maximum(cand, 0).ravel()).reshape(cand.shape)
    invalid = (cand < 0) | (cand == rows[:, None])
    scores[invalid] = -np.inf
    order = np.lexsort((np.where(invalid, np.iinfo(np.int64).max, cand), -scores), axis=1)[:, :k]
    return np.take_along_axis(cand, order, axis=1), np.take_along_axis(scores, order, axis=1)


def _lowest_others(rows: np.ndarray, k: int) -> np.ndarray:
    """The k lowest indices other than each row's own (the exact answer when all scores tie)."""
    if not rows.size:
        return np.zeros((0, k), np.int64)
    out = np.broadcast_to(np.arange(k + 1), (rows.size, k + 1)).copy()
    out[out == rows[:, None]] = k + 1  # a row among the first k + 1 moves its own index last
    return np.sort(out, axis=1)[:, :k]


class _Searcher:
    """The index over the users with data, answering in global row indices."""

    def __init__(self, z: np.ndarray, active: np.ndarray, has_idle: bool, params: AnnParams, k: int) -> None:
        self.z, self.active, self.has_idle, self.k = z, active, has_idle, k
        # at least k + 1: the user itself may be among the proposals
        self.fetch = min(max(params.candidates, k) + 1, active.size)
        self.index = build_index(z[active], params)

    def search(self, rows: np.ndarray, ef: int) -> tuple[np.ndarray, np.ndarray]:
        self.index.hnsw.efSearch = max(ef, self.fetch)
        _, found = self.index.search(self.z[rows], self.fetch)
        cand = np.where(found < 0, -1, self.active[np.maximum(found, 0)])
        got, got_scores = _rank_candidates(self.z, rows, cand, self.k)
        # fewer than k proposals, or a k-th score below the 0 that every user without
        # data scores: those rows are ranked exactly
        short = np.flatnonzero(~np.isfinite(got_scores).all(axis=1) | ((got_scores[:, -1] < 0) & self.has_idle))
        if short.size:
            got[short], got_scores[short] = exact_rows(self.z, rows[short], self.k)
        return got, got_scores


def search_widths(params: AnnParams) -> list[int]:
    """The widths the probe tries, in order: ``ef_search`` grown by ``ef_growth`` up to ``max_ef_search``."""
    if params.ef_growth <= 1:
        raise ValueError(f"ef_growth must be > 1, got {params.ef_growth}")
    widths = [min(params.ef_search, params.max_ef_search)]
    while widths[-1] < params.max_ef_search:
        widths.append(min(int(np.ceil(widths[-1] * params.ef_growth)), params.max_ef_search))
    return widths


def _tuned_ef(searcher: _Searcher, params: AnnParams, seed: int) -> int:
    """The first of :func:`search_widths` whose recall on a probe sample reaches ``probe_recall``."""
    rng = np.random.default_rng(seed)
    probe = np.sort(rng.choice(searcher.active, size=min(searcher.active.size, params.probe_users), replace=False))
    _, exact = exact_rows(searcher.z, probe, searcher.k)
    widths = search_widths(params)
    for ef in widths:
        _, got = searcher.search(probe, ef)
        recall = float((got >= exact[:, -1:]).mean())  # both exact at the published precision
        if recall >= params.probe_recall:
            return ef
    return widths[-1]


def ann_top_k(
    vectors: np.ndarray,
    k: int,
    *,
    params: AnnParams | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Like :func:`simcore.topk.top_k` (same shapes, order and tie rule), candidates from faiss HNSW.

    Every candidate faiss proposes is rescored exactly; the search width is
    tuned on a probe sample first.
    """
    z = np.ascontiguousarray(vectors, dtype=np.float32)
    n = z.shape[0]
    k_eff = min(k, n - 1)
    if k_eff <= 0:
        return np.zeros((n, 0), np.int64), np.zeros((n, 0), np.float64)
    p = params or AnnParams()
    neighbours = np.empty((n, k_eff), np.int64)
    best = np.empty((n, k_eff), np.float64)
    empty = ~np.any(z != 0, axis=1)
    idle = np.flatnonzero(empty)
    neighbours[idle] = _lowest_others(idle, k_eff)
    best[idle] = 0.0
    active = np.flatnonzero(~empty)
    if active.size:
        searcher = _Searcher(z, active, bool(idle.size), p, k_eff)
        ef = _tuned_ef(searcher, p, seed=p.seed)
        for start in range(0, active.size, SEARCH_BATCH):
            rows = active[start:start + SEARCH_BATCH]
            neighbours[rows], best[rows] = searcher.search(rows, ef)
    return neighbours, best
