"""Sparse user x feature matrices built from long (user, feature, value) rows."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def index_of(universe: np.ndarray, handles: np.ndarray) -> np.ndarray:
    """Row index of each handle in the sorted, unique ``universe``.

    Raises ``ValueError`` for a handle missing from the universe, because a
    silently dropped user would vanish from the ranking.
    """
    universe = np.asarray(universe)
    handles = np.asarray(handles)
    if universe.size and np.any(universe[1:] <= universe[:-1]):
        raise ValueError("universe must be sorted and unique")
    idx = np.searchsorted(universe, handles)
    found = (idx < universe.size) & (universe[np.minimum(idx, universe.size - 1)] == handles)
    if not np.all(found):
        missing = handles[~found][:5].tolist()
        raise ValueError(f"handles not in the user universe, e.g. {missing}")
    return idx.astype(np.int64)


def build_user_feature_matrix(
    universe: np.ndarray,
    user_handles: np.ndarray,
    feature_codes: np.ndarray,
    values: np.ndarray,
    n_features: int,
) -> sp.csr_matrix:
    """CSR matrix of shape (len(universe), n_features) from coordinate arrays.

    ``feature_codes`` are integer column ids in ``[0, n_features)``. Repeated
    (user, feature) pairs are summed. Users of the universe without rows get
    an all-zero row, so every signal shares one row order.
    """
    feature_codes = np.asarray(feature_codes, dtype=np.int64)
    values = np.asarray(values, dtype=np.float64)
    if not (len(user_handles) == len(feature_codes) == len(values)):
        raise ValueError("user_handles, feature_codes and values must have equal length")
    if feature_codes.size and (feature_codes.min() < 0 or feature_codes.max() >= n_features):
        raise ValueError("feature code out of range")
    if not np.all(np.isfinite(values)):
        raise ValueError("feature values must be finite")
    rows = index_of(universe, np.asarray(user_handles))
    matrix = sp.coo_matrix(
        (values, (rows, feature_codes)), shape=(len(universe), n_features)
    ).tocsr()
    matrix.sum_duplicates()
    return matrix
