"""The strong simple baseline: exact sparse cosine over IDF-weighted raw items, no SVD.

Written independently of the product's feature models: it reads only the
cleaned staging tables (``stg_*``, the shared parsing rules) and builds the
textbook features an information-retrieval engineer would start from:

- interest tags, binary, times IDF
- assessment tags, binary, times IDF
- course tags weighted by the seconds the user watched courses carrying them, times IDF

with the textbook ``idf = ln(n_users_of_signal / df)`` (:func:`classic_idf`;
on purpose not the product's smoothed ``ln((1 + n) / (1 + df))`` of
``macros/feature_weighting.sql``: the baseline is what a newcomer would write). Each signal is L2-normalised and
the weighted cosines are summed, exactly (block-wise sparse products, the
pipeline's tie rule). Its weights were tuned on the tuning dataset only
(realistic setting, seed 11; see docs/analysis.md), like the product's.
"""
from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pyarrow.compute as pc
import scipy.sparse as sp

from evaluation.neighbours import Neighbours
from evaluation.plain_cosine import plain_cosine_neighbours
from simcore.matrix import build_user_feature_matrix

BASELINE_WEIGHTS: dict[str, float] = {"interests": 0.85, "assessments": 0.05, "course_views": 0.1}

_ITEMS: dict[str, str] = {
    "interests": "select user_handle, interest_tag as item, 1.0 as strength from stg_user_interests",
    "assessments": "select user_handle, assessment_tag as item, 1.0 as strength from stg_user_assessment_scores",
    "course_views": """
        select v.user_handle, t.course_tag as item, sum(v.view_time_seconds)::double as strength
        from stg_user_course_views as v
        inner join stg_course_tags as t on v.course_id = t.course_id
        group by v.user_handle, t.course_tag""",
}


def _strengths(items_sql: str) -> str:
    return f"""
        with items as ({items_sql})
        select user_handle, item, sum(strength) as value from items group by all"""


def classic_idf(matrix: sp.csr_matrix) -> sp.csr_matrix:
    """Columns times ``ln(n / df)``: ``n`` users with any entry of the signal, ``df`` users with the column."""
    n_users = int(np.count_nonzero(np.diff(matrix.indptr)))
    df = np.diff(matrix.tocsc().indptr).astype(np.float64)
    weights = np.log(np.divide(n_users, df, out=np.ones_like(df), where=df > 0))
    return sp.csr_matrix(matrix.multiply(weights[None, :]))


def idf_matrices_from(con: duckdb.DuckDBPyConnection) -> tuple[np.ndarray, dict[str, sp.csr_matrix]]:
    """(universe, {signal: IDF-weighted user x item CSR}) from relations named like the staging models."""
    universe = np.asarray(con.sql("select user_handle from int_users_unioned order by user_handle")
                          .fetchnumpy()["user_handle"], np.int64)
    matrices: dict[str, sp.csr_matrix] = {}
    for signal, items_sql in _ITEMS.items():
        rows = con.sql(_strengths(items_sql)).to_arrow_table()
        codes = pc.dictionary_encode(rows.column("item")).combine_chunks()
        matrices[signal] = classic_idf(build_user_feature_matrix(
            universe, rows.column("user_handle").to_numpy().astype(np.int64),
            codes.indices.to_numpy(zero_copy_only=False), rows.column("value").to_numpy(),
            len(codes.dictionary)))
    return universe, matrices


def idf_matrices(warehouse: Path) -> tuple[np.ndarray, dict[str, sp.csr_matrix]]:
    """:func:`idf_matrices_from` a built warehouse's staging tables."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return idf_matrices_from(con)
    finally:
        con.close()


def idf_cosine_neighbours(warehouse: Path, k: int, weights: dict[str, float] | None = None) -> Neighbours:
    """Top k of every ranked user by the IDF baseline."""
    universe, matrices = idf_matrices(warehouse)
    return plain_cosine_neighbours(universe, matrices, weights or BASELINE_WEIGHTS, k)
