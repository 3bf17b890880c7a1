"""TruncatedSVD reduced to the fewest components reaching a variance target.

scikit-learn's ``TruncatedSVD`` needs the number of components up front. To
find the smallest count whose cumulative explained variance reaches the
target we fit once and read the whole curve:

- ``gram`` solver (features <= ``max_gram_features``): the exact SVD from one
  eigen-decomposition of the d x d Gram matrix ``X.T @ X``. Its cost grows
  with the number of features, not users, so 10x more users costs 10x
  only in the sparse product. Output equals ``TruncatedSVD(algorithm="arpack")``
  up to signs (tested).
- ``randomized`` solver (wider matrices): scikit-learn's ``TruncatedSVD`` in a
  short doubling search (128, 256, ... components) until the target is met.

Explained variance follows scikit-learn's definition: the variance of each
projected column over the summed variance of the columns of ``X``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from sklearn.decomposition import TruncatedSVD

MAX_GRAM_FEATURES = 8192  # a d x d float64 Gram matrix of 8192 is 512 MiB
_RELATIVE_RANK_TOL = 1e-10  # eigenvalues below this x the largest are numerical zero
_NOISE = 1e-6  # projected norm below this x the row's own norm is rounding noise


@dataclass(frozen=True)
class ReducedSignal:
    """The reduced, row-normalised user vectors of one signal and how they were found."""

    vectors: np.ndarray  # (n_users, n_components) float32; zero rows stay zero
    n_components: int
    variance_explained: float  # cumulative ratio reached by n_components
    explained_variance_ratio: np.ndarray  # per component, for the analysis figures
    solver: str


def choose_n_components(explained_variance_ratio: np.ndarray, target: float) -> int:
    """Smallest c with ``sum(ratio[:c]) >= target``; all components if never reached."""
    ratio = np.asarray(explained_variance_ratio, dtype=np.float64)
    if ratio.size == 0:
        return 0
    cumulative = np.cumsum(ratio)
    reached = np.flatnonzero(cumulative >= target - 1e-12)
    return int(reached[0] + 1) if reached.size else int(ratio.size)


def _validate_target(target: float) -> None:
    if not (0.0 < target <= 1.0):
        raise ValueError(f"variance target must be in (0, 1], got {target}")


def _gram_components(x: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """Right singular vectors (d, r) by decreasing singular value, and their variance ratios."""
    n_rows = x.shape[0]
    gram = (x.T @ x).toarray()
    # divide and conquer (evd): ~20% faster than the default driver for all eigenpairs
    eigenvalues, eigenvectors = scipy.linalg.eigh(gram, overwrite_a=True, check_finite=False, driver="evd")
    order = np.argsort(eigenvalues)[::-1]
    eigenvalues = eigenvalues[order]
    eigenvectors = eigenvectors[:, order]
    if eigenvalues.size == 0 or eigenvalues[0] <= 0:
        return eigenvectors[:, :0], np.zeros(0)
    keep = eigenvalues > eigenvalues[0] * _RELATIVE_RANK_TOL
    eigenvalues, eigenvectors = eigenvalues[keep], eigenvectors[:, keep]
    column_means = np.asarray(x.mean(axis=0)).ravel()
    total_variance = float(np.sum(np.asarray(x.multiply(x).mean(axis=0)).ravel() - column_means**2))
    projected_variance = eigenvalues / n_rows - (column_means @ eigenvectors) ** 2
    if total_variance <= 0:  # every row identical: one direction says it all
        ratio = np.zeros(eigenvalues.size)
        ratio[0] = 1.0
        return eigenvectors, ratio
    return eigenvectors, np.clip(projected_variance, 0.0, None) / total_variance


def _randomized_components(
    x: sp.csr_matrix, target: float, random_state: int
) -> tuple[np.ndarray, np.ndarray]:
    """Doubling search with scikit-learn's randomized TruncatedSVD."""
    limit = min(x.shape) - 1
    n = min(128, limit)
    while True:
        svd = TruncatedSVD(n_components=n, algorithm="randomized", random_state=random_state)
        svd.fit(x)
        ratio = svd.explained_variance_ratio_
        if ratio.sum() >= target or n >= limit:
            return svd.components_.T, ratio
        n = min(2 * n, limit)


def reduce_to_variance(
    x: sp.spmatrix | np.ndarray,
    target: float = 0.90,
    *,
    max_gram_features: int = MAX_GRAM_FEATURES,
    random_state: int = 0,
) -> ReducedSignal:
    """Project ``x`` (n_users, n_features) onto the fewest SVD components reaching ``target``.

    Rows are then L2-normalised so that dot products are cosine similarities;
    a user without data (an all-zero row) keeps a zero vector and so scores 0
    against everyone on this signal.
    """
    _validate_target(target)
    x = sp.csr_matrix(x, dtype=np.float64)
    n_rows, n_features = x.shape
    if x.nnz == 0 or n_rows == 0:
        return ReducedSignal(np.zeros((n_rows, 0), np.float32), 0, 0.0, np.zeros(0), "empty")
    if n_features <= max_gram_features or min(x.shape) < 3:
        components, ratio = _gram_components(x)
        solver = "gram"
    else:
        components, ratio = _randomized_components(x, target, random_state)
        solver = "randomized"
    n_components = max(1, choose_n_components(ratio, target))
    projected = np.asarray(x @ components[:, :n_components], dtype=np.float64)
    norms = np.linalg.norm(projected, axis=1, keepdims=True)
    # a row with (numerically) nothing in the kept subspace stays zero: normalising
    # rounding noise would give that user a random direction
    row_norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)))
    vectors = np.divide(projected, norms, out=np.zeros_like(projected), where=norms > _NOISE * row_norms)
    return ReducedSignal(
        vectors=np.ascontiguousarray(vectors, dtype=np.float32),
        n_components=n_components,
        variance_explained=float(np.sum(ratio[:n_components])),
        explained_variance_ratio=ratio,
        solver=solver,
    )
