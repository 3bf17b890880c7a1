"""Arrow in, Arrow out: the steps the dbt Python models run.

The dbt models only fetch relations and call these functions, so the logic
is importable and tested without dbt.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from simcore.ensemble import SIGNALS, normalise_weights, pair_cosines, signal_blocks, stack_weighted
from simcore.matrix import build_user_feature_matrix, index_of
from simcore.recall import Recall, sampled_recall
from simcore.smoothing import smooth
from simcore.strategy import EXACT_LOCAL, TopKStrategy
from simcore.svd import reduce_to_variance, variance_share


def _handles(table: pa.Table, column: str = "user_handle") -> np.ndarray:
    return table.column(column).to_numpy().astype(np.int64)


@dataclass(frozen=True)
class ComponentRule:
    """How many SVD components a signal keeps (:func:`simcore.svd.variance_share`, vars ``variance_*``)."""

    target: float
    growth: float = 0.0
    reference_users: int = 10_000
    max_share: float = 1.0
    max_components: int | None = None

    @classmethod
    def from_config(cls, config: Mapping[str, object]) -> ComponentRule:
        """From the models' ``component_rule`` config (vars ``variance_*``, ``max_components``; 0 = no cap)."""
        return cls(target=float(config["target"]), growth=float(config["growth"]),
                   reference_users=int(config["reference_users"]), max_share=float(config["max_share"]),
                   max_components=int(config["max_components"]) or None)

    def share(self, n_users: int) -> float:
        return variance_share(n_users, self.target, self.growth, self.reference_users, max(self.max_share, self.target))


def signal_vectors(features: pa.Table, rule: ComponentRule, signal: str) -> pa.Table:
    """Reduce one signal's long (user_handle, feature, value) table to user vectors.

    Returns one row per user with data: ``user_handle``, ``vector`` (FLOAT[c])
    and the fit's facts repeated on every row (``signal``, ``n_components``,
    ``variance_explained``, ``n_users``, ``n_features``, ``solver``) so that the
    ``svd_components`` model can report them without refitting.
    """
    users = _handles(features)
    universe = np.unique(users)
    encoded = pc.dictionary_encode(features.column("feature")).combine_chunks()
    n_features = len(encoded.dictionary)
    matrix = build_user_feature_matrix(
        universe, users, encoded.indices.to_numpy(zero_copy_only=False),
        features.column("value").to_numpy(), n_features,
    )
    reduced = reduce_to_variance(matrix, rule.share(len(universe)), max_components=rule.max_components)
    dims = max(reduced.n_components, 1)
    flat = reduced.vectors if reduced.n_components else np.zeros((len(universe), 1), np.float32)
    n = len(universe)
    return pa.table({
        "user_handle": pa.array(universe, pa.int64()),
        "vector": pa.FixedSizeListArray.from_arrays(pa.array(flat.ravel(), pa.float32()), dims),
        "signal": pa.array([signal] * n, pa.string()),
        "n_components": pa.array(np.full(n, reduced.n_components), pa.int32()),
        "variance_explained": pa.array(np.full(n, reduced.variance_explained), pa.float64()),
        "n_users": pa.array(np.full(n, n), pa.int64()),
        "n_features": pa.array(np.full(n, n_features), pa.int64()),
        "solver": pa.array([reduced.solver] * n, pa.string()),
    })


def vectors_in_universe(vector_table: pa.Table, universe: np.ndarray) -> np.ndarray:
    """(len(universe), c) float32 matrix: the table's vectors, zero rows for users without data."""
    if vector_table.num_rows == 0:
        return np.zeros((len(universe), 0), np.float32)
    column = vector_table.column("vector").combine_chunks()
    dims = column.type.list_size
    values = column.values.to_numpy(zero_copy_only=False).astype(np.float32, copy=False).reshape(-1, dims)
    out = np.zeros((len(universe), dims), np.float32)
    out[index_of(universe, _handles(vector_table))] = values
    return out


def neighbour_arrays(neighbourhoods: pa.Table, universe: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n, m) row ids (``-1``: none) and scores of the first-pass neighbours, rows in ``universe`` order."""
    n = len(universe)
    lists = neighbourhoods.column("neighbour_handles").combine_chunks()
    m = int(pc.max(pc.list_value_length(lists)).as_py() or 0) if neighbourhoods.num_rows else 0
    ids = np.full((n, m), -1, np.int64)
    scores = np.zeros((n, m), np.float64)
    if m:
        rows = index_of(universe, _handles(neighbourhoods))
        lengths = pc.list_value_length(lists).to_numpy(zero_copy_only=False)
        owner = np.repeat(rows, lengths)
        slot = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        flat = lists.flatten().to_numpy(zero_copy_only=False).astype(np.int64)
        ids[owner, slot] = index_of(universe, flat)
        score_lists = neighbourhoods.column("neighbour_scores").combine_chunks()
        scores[owner, slot] = score_lists.flatten().to_numpy(zero_copy_only=False)
    return ids, scores


def stacked_vectors(
    users: pa.Table,
    vector_tables: Mapping[str, pa.Table],
    weights: Mapping[str, float],
    neighbourhoods: pa.Table | None = None,
) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """(universe, per-signal vectors, stacked ensemble vectors) in handle order: the top-k input.

    With ``neighbourhoods`` (model ``user_neighbourhoods``) each user's vectors
    are smoothed with their first-pass neighbours' (:func:`simcore.smoothing.smooth`),
    per-signal vectors included, so the per-signal cosines still add up to the score.
    """
    universe = np.unique(_handles(users))
    vectors = {s: vectors_in_universe(vector_tables[s], universe) for s in SIGNALS if s in vector_tables}
    z = stack_weighted(vectors, normalise_weights(weights))
    if neighbourhoods is None or neighbourhoods.num_rows == 0:
        return universe, vectors, z
    ids, scores = neighbour_arrays(neighbourhoods, universe)
    if ids.shape[1] == 0:
        return universe, vectors, z
    blocks = signal_blocks(vectors, weights)
    z = smooth(z, [(start, stop, w) for _, start, stop, w in blocks], ids, scores)
    for signal, start, stop, w in blocks:
        vectors[signal] = np.ascontiguousarray(z[:, start:stop] / np.float32(np.sqrt(w)))
    return universe, vectors, z


def user_neighbourhoods(
    users: pa.Table,
    vector_tables: Mapping[str, pa.Table],
    weights: Mapping[str, float],
    m: int,
    strategy: TopKStrategy,
    block_rows: int | None = None,
) -> pa.Table:
    """Each user's ``m`` nearest users on the plain vectors (the first pass the smoothing blends in).

    One row per user, lists empty when ``m`` is 0; ``topk_method`` records the
    run's search strategy for the models after it.
    """
    if m < 0:
        raise ValueError(f"smoothing_neighbours must be >= 0, got {m}")
    universe, _, z = stacked_vectors(users, vector_tables, weights)
    n = len(universe)
    if m:
        ids, scores = strategy.search(z, m, block_rows)
    else:
        ids, scores = np.zeros((n, 0), np.int64), np.zeros((n, 0), np.float64)
    width = ids.shape[1]
    offsets = pa.array(np.arange(n + 1, dtype=np.int32) * width)
    return pa.table({
        "user_handle": pa.array(universe, pa.int64()),
        "neighbour_handles": pa.ListArray.from_arrays(offsets, pa.array(universe[ids.ravel()], pa.int64())),
        "neighbour_scores": pa.ListArray.from_arrays(offsets, pa.array(scores.ravel(), pa.float64())),
        "topk_method": pa.array([strategy.method] * n, pa.string()),
    })


def rank_users(
    users: pa.Table,
    vector_tables: Mapping[str, pa.Table],
    weights: Mapping[str, float],
    k: int,
    run_id: str,
    run_at: str,
    *,
    strategy: TopKStrategy = EXACT_LOCAL,
    block_rows: int | None = None,
    neighbourhoods: pa.Table | None = None,
) -> pa.Table:
    """Top k neighbours of every user of ``users`` in long form, with per-signal cosines.

    ``neighbourhoods``: the first pass of :func:`user_neighbourhoods`; the
    ranking then compares smoothed vectors (:func:`stacked_vectors`).

    ``strategy`` (:func:`simcore.strategy.resolve_strategy`) searches; its
    method is recorded in column ``topk_method``. ``block_rows`` fixes the
    exact block size (None or 0: by memory budget).
    """
    universe, vectors, z = stacked_vectors(users, vector_tables, weights, neighbourhoods)
    neighbours, scores = strategy.search(z, k, block_rows or None)
    n, k_eff = neighbours.shape
    left = np.repeat(np.arange(n), k_eff)
    right = neighbours.ravel()
    columns: dict[str, pa.Array] = {
        "user_handle": pa.array(universe[left], pa.int64()),
        "rank": pa.array(np.tile(np.arange(1, k_eff + 1), n), pa.int32()),
        "similar_user_handle": pa.array(universe[right], pa.int64()),
        "score": pa.array(scores.ravel(), pa.float64()),
    }
    for signal in SIGNALS:
        cos = pair_cosines(vectors[signal], left, right) if signal in vectors else np.zeros(left.size)
        columns[f"score_{signal}"] = pa.array(cos, pa.float64())
    columns["topk_method"] = pa.array([strategy.method] * left.size, pa.string())
    columns["run_id"] = pa.array([run_id] * left.size, pa.string())
    columns["run_at"] = pa.array([run_at] * left.size, pa.string())
    return pa.table(columns)


def ranking_recall(
    users: pa.Table,
    vector_tables: Mapping[str, pa.Table],
    weights: Mapping[str, float],
    ranking: pa.Table,
    sample_size: int,
    seed: int = 0,
    neighbourhoods: pa.Table | None = None,
) -> Recall:
    """recall@k of a published-form ranking against exact top k on a random user sample."""
    universe, _, z = stacked_vectors(users, vector_tables, weights, neighbourhoods)
    n = len(universe)
    k = int(pc.max(ranking.column("rank")).as_py() or 0) if ranking.num_rows else 0
    neighbours = np.full((n, k), -1, np.int64)  # a missing rank stays -1 and counts as a miss
    if k:
        rows = index_of(universe, _handles(ranking))
        ranks = ranking.column("rank").to_numpy().astype(np.int64) - 1
        neighbours[rows, ranks] = index_of(universe, _handles(ranking, "similar_user_handle"))
    return sampled_recall(z, neighbours, sample_size=sample_size, seed=seed)
