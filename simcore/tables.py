"""Arrow in, Arrow out: the steps the dbt Python models run.

The dbt models only fetch relations and call these functions, so the logic
is importable and tested without dbt.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from simcore.ensemble import SIGNALS, normalise_weights, pair_cosines, stack_weighted
from simcore.matrix import build_user_feature_matrix, index_of
from simcore.recall import Recall, sampled_recall
from simcore.strategy import EXACT_LOCAL, TopKStrategy
from simcore.svd import reduce_to_variance


def _handles(table: pa.Table, column: str = "user_handle") -> np.ndarray:
    return table.column(column).to_numpy().astype(np.int64)


def signal_vectors(features: pa.Table, target: float, signal: str) -> pa.Table:
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
    reduced = reduce_to_variance(matrix, target)
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


def stacked_vectors(
    users: pa.Table, vector_tables: Mapping[str, pa.Table], weights: Mapping[str, float]
) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """(universe, per-signal vectors, stacked ensemble vectors) in handle order: the top-k input."""
    universe = np.unique(_handles(users))
    vectors = {s: vectors_in_universe(vector_tables[s], universe) for s in SIGNALS if s in vector_tables}
    return universe, vectors, stack_weighted(vectors, normalise_weights(weights))


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
) -> pa.Table:
    """Top k neighbours of every user of ``users`` in long form, with per-signal cosines.

    ``strategy`` (:func:`simcore.strategy.resolve_strategy`) searches; its
    method is recorded in column ``topk_method``. ``block_rows`` fixes the
    exact block size (None or 0: by memory budget).
    """
    universe, vectors, z = stacked_vectors(users, vector_tables, weights)
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
) -> Recall:
    """recall@k of a published-form ranking against exact top k on a random user sample."""
    universe, _, z = stacked_vectors(users, vector_tables, weights)
    n = len(universe)
    k = int(pc.max(ranking.column("rank")).as_py() or 0) if ranking.num_rows else 0
    neighbours = np.full((n, k), -1, np.int64)  # a missing rank stays -1 and counts as a miss
    if k:
        rows = index_of(universe, _handles(ranking))
        ranks = ranking.column("rank").to_numpy().astype(np.int64) - 1
        neighbours[rows, ranks] = index_of(universe, _handles(ranking, "similar_user_handle"))
    return sampled_recall(z, neighbours, sample_size=sample_size, seed=seed)
