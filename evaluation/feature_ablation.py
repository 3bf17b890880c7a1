"""Feature ablations with plain cosine: which columns of a signal carry the planted taste?

Not a product path: a quick, measured pointer for the next feature-engineering
step. Each variant is a user x feature matrix built from a built warehouse,
ranked by plain sparse cosine (:mod:`evaluation.plain_cosine`) and scored by
planted-group precision@k, so variants differ only in their columns and
weighting.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb
import numpy as np
import pyarrow.compute as pc
import scipy.sparse as sp

from evaluation.idf_baseline import classic_idf
from evaluation.neighbours import from_indices
from evaluation.plain_cosine import sparse_top_k, stacked_cosine_matrix
from evaluation.scoring import Row, Truth, planted_row
from simcore.matrix import build_user_feature_matrix

VARIANTS: dict[str, tuple[str, str]] = {
    # name -> (signal, SQL of long (user_handle, feature, value) rows)
    "interests: followed tags (as built)": ("interests", "select * from int_interest_features"),
    "course views: all features (as built)": ("course_views", "select * from int_course_view_features"),
    "course views: course tags only": (
        "course_views",
        "select * from int_course_view_features where regexp_matches(feature, '^course_tag:[^:]*$')"),
    "course views: course ids": (
        "course_views",
        "select user_handle, 'course:' || course_id as feature, 1.0 as value from int_course_views_summed"),
}
# variants re-weighted after building: name -> (base variant, transform)
Transform = Callable[[sp.csr_matrix], sp.csr_matrix]


DERIVED: dict[str, tuple[str, Transform]] = {
    # the baseline's textbook IDF (rare features say more about taste than ones everybody has)
    "interests: followed tags, tf-idf": ("interests: followed tags (as built)", classic_idf),
    "course views: course tags only, tf-idf": ("course views: course tags only", classic_idf),
}


def ablate(warehouse: Path, truth: Truth, k: int = 5) -> list[Row]:
    """precision@k of plain cosine on every variant (one signal at a time)."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        universe = np.asarray(con.sql("select user_handle from int_users_unioned order by user_handle")
                              .to_arrow_table().column(0).to_numpy(), np.int64)
        matrices: dict[str, tuple[str, sp.csr_matrix]] = {}
        for name, (signal, query) in VARIANTS.items():
            rows = con.sql(query).to_arrow_table()
            encoded = pc.dictionary_encode(rows.column("feature")).combine_chunks()
            matrices[name] = (signal, build_user_feature_matrix(
                universe, rows.column("user_handle").to_numpy().astype(np.int64),
                encoded.indices.to_numpy(zero_copy_only=False), rows.column("value").to_numpy(),
                len(encoded.dictionary)))
    finally:
        con.close()
    for name, (base, transform) in DERIVED.items():
        signal, matrix = matrices[base]
        matrices[name] = (signal, transform(matrix))
    out: list[Row] = []
    for name, (signal, matrix) in matrices.items():
        index, _ = sparse_top_k(stacked_cosine_matrix({signal: matrix}, {signal: 1.0}), k)
        row, _ = planted_row(from_indices(universe, index), truth, k)
        out.append({"method": name, "k": k, "features": matrix.shape[1]} | row)
    return out
