"""The no-SVD baseline: weighted cosine straight on the sparse feature tables.

Same features (the warehouse's ``int_*_features``), same users
(``int_users_unioned``), same weights and the same tie rule as the pipeline;
only the TruncatedSVD step is left out. Rows are L2-normalised per signal and
stacked with ``sqrt(w)`` factors, so a row dot product is the weighted sum of
per-signal cosines, exactly like :func:`simcore.ensemble.stack_weighted` on
dense vectors. The n x n score matrix is never held: each block of rows is a
sparse product against all users, densified only for that block.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import duckdb
import numpy as np
import pyarrow.compute as pc
import scipy.sparse as sp
from sklearn.preprocessing import normalize

from evaluation.neighbours import Neighbours, from_indices
from simcore.ensemble import SIGNALS, normalise_weights
from simcore.matrix import build_user_feature_matrix
from simcore.precision import SCORE_DECIMALS
from simcore.topk import rank_block  # the pipeline's own tie rule

FEATURE_TABLES: dict[str, str] = {
    "interests": "int_interest_features",
    "assessments": "int_assessment_features",
    "course_views": "int_course_view_features",
}
BLOCK_ROWS = 1024  # a 1024 x n float32 score block: 40 MB at 10k users, 400 MB at 100k


def load_feature_matrices(warehouse: Path) -> tuple[np.ndarray, dict[str, sp.csr_matrix]]:
    """(universe, {signal: raw user x feature CSR}) from a built DuckDB warehouse, rows in universe order."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        universe = np.asarray(
            con.sql("select user_handle from int_users_unioned order by user_handle")
            .to_arrow_table().column(0).to_numpy(), np.int64)
        matrices: dict[str, sp.csr_matrix] = {}
        for signal, table in FEATURE_TABLES.items():
            features = con.sql(f"select user_handle, feature, value from {table}").to_arrow_table()
            encoded = pc.dictionary_encode(features.column("feature")).combine_chunks()
            matrices[signal] = build_user_feature_matrix(
                universe,
                features.column("user_handle").to_numpy().astype(np.int64),
                encoded.indices.to_numpy(zero_copy_only=False),
                features.column("value").to_numpy(),
                len(encoded.dictionary),
            )
    finally:
        con.close()
    return universe, matrices


def stacked_cosine_matrix(matrices: Mapping[str, sp.csr_matrix], weights: Mapping[str, float]) -> sp.csr_matrix:
    """One float32 CSR whose row dot products are sum_t w_t * cos_t (all-zero rows stay zero)."""
    w = normalise_weights(weights)
    blocks = [np.float32(np.sqrt(w[s])) * normalize(matrices[s].astype(np.float32), norm="l2", axis=1)
              for s in SIGNALS if s in matrices and w[s] > 0 and matrices[s].shape[1] > 0]
    if not blocks:
        n = next(iter(matrices.values())).shape[0]
        return sp.csr_matrix((n, 1), dtype=np.float32)
    return sp.hstack(blocks, format="csr", dtype=np.float32)


def sparse_top_k(z: sp.csr_matrix, k: int, block_rows: int = BLOCK_ROWS, rows: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Exact top k by sparse row dot products, block by block; ties as in :func:`simcore.topk.top_k`.

    ``rows``: rank only these rows (against all), e.g. a sample at a size where every row costs too much.
    """
    n = z.shape[0]
    rows = np.arange(n) if rows is None else np.asarray(rows, np.int64)
    k_eff = min(k, n - 1)
    if k_eff <= 0:
        return np.zeros((rows.size, 0), np.int64), np.zeros((rows.size, 0), np.float32)
    z = z.astype(np.float64)  # float32 products can fall either side of a rounding boundary
    zt = z.T.tocsr()
    index = np.empty((rows.size, k_eff), np.int64)
    best = np.empty((rows.size, k_eff), np.float32)
    for start in range(0, rows.size, block_rows):
        part = rows[start:start + block_rows]
        # products and rounding in float64, as brute_force_top_k: a tie stays a tie
        scores = np.round((z[part] @ zt).toarray(), SCORE_DECIMALS).astype(np.float32)
        scores[np.arange(part.size), part] = -np.inf
        index[start:start + block_rows], best[start:start + block_rows] = rank_block(scores, k_eff)
    return index, best


def plain_cosine_neighbours(
    universe: np.ndarray, matrices: Mapping[str, sp.csr_matrix], weights: Mapping[str, float], k: int
) -> Neighbours:
    """Top k neighbours of every user of ``universe`` by weighted plain cosine."""
    index, _ = sparse_top_k(stacked_cosine_matrix(matrices, weights), k)
    return from_indices(universe, index)
