"""TruncatedSVD reduced to the fewest components reaching a variance target.

scikit-learn's ``TruncatedSVD`` needs the number of components up front. The
smallest count whose cumulative explained variance reaches the target is
found here at a cost that follows what is kept, not the matrix size:

- The **total variance** (the ratio's denominator) is the trace of the column
  covariance: per-column mean of squares minus squared mean, no decomposition.
- The decomposition works on the **smaller side**: ``X.T @ X`` (d x d) when
  users outnumber features, ``X @ X.T`` (n x n) otherwise; both share the
  non-zero eigenvalues and give the same right singular vectors.
- ``dense`` solver (smaller side <= ``SMALL_DIM``): every eigenpair of that
  Gram matrix with LAPACK. Exact; well under a second at 1,000 dimensions.
- ``lanczos`` solver (larger): only the leading eigenpairs, with ARPACK
  (``scipy.sparse.linalg.eigsh``) on the implicit operator ``v -> X.T (X v)``,
  which never forms the Gram matrix. It asks for 64 components first; if they
  fall short, the next request is read off the spectrum seen so far (a power
  law fitted to its tail, extrapolated to the target, plus a 25% margin) rather
  than a blind doubling, so a signal needing 190 components costs two solves
  (64, then about 240) instead of three (64, 128, 256). Each request is at
  least 1.5x the last, so a poor fit costs few extra solves. Once the count passes an eighth of the
  dimension a full ``dense`` decomposition is cheaper and is used instead,
  if its Gram matrix fits (``max_dense_dim``). Both are exact to machine
  precision (tested against each other and ``TruncatedSVD(algorithm="arpack")``).

Explained variance follows scikit-learn's definition: the variance of each
projected column over the summed variance of the columns of ``X``. The ratio
curve is returned as far as it was computed (all components for ``dense``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg
import scipy.sparse as sp
import scipy.sparse.linalg as spla

SMALL_DIM = 1_000  # up to here every eigenpair costs less than a partial solve (benchmarks/svd_solver.py)
MAX_DENSE_DIM = 16_000  # a 16,000 x 16,000 float64 Gram matrix is 2 GiB; wider stays partial
FIRST_STEP = 64  # components asked of the partial solver first; doubled until the target is met
NEXT_STEP_MARGIN = 1.25  # the extrapolated count is asked with this margin: a shortfall costs a whole new solve
MIN_GROWTH = 1.5  # each partial request asks at least this many times the last
PARTIAL_SHARE = 1 / 8  # past this share of the dimension, all eigenpairs are cheaper than ARPACK
_RELATIVE_RANK_TOL = 1e-10  # eigenvalues below this x the largest are numerical zero
_NOISE = 1e-6  # projected norm below this x the row's own norm is rounding noise


@dataclass(frozen=True)
class ReducedSignal:
    """The reduced, row-normalised user vectors of one signal and how they were found."""

    vectors: np.ndarray  # (n_users, n_components) float32; zero rows stay zero
    n_components: int
    variance_explained: float  # cumulative ratio reached by n_components
    explained_variance_ratio: np.ndarray  # per component, as far as computed (analysis figures)
    solver: str


def choose_n_components(explained_variance_ratio: np.ndarray, target: float) -> int:
    """Smallest c with ``sum(ratio[:c]) >= target``; all components if never reached."""
    ratio = np.asarray(explained_variance_ratio, dtype=np.float64)
    if ratio.size == 0:
        return 0
    cumulative = np.cumsum(ratio)
    reached = np.flatnonzero(cumulative >= target - 1e-12)
    return int(reached[0] + 1) if reached.size else int(ratio.size)


def variance_share(n_users: int, target: float, growth: float, reference_users: int, max_share: float) -> float:
    """The variance share to keep for a signal with ``n_users`` users: ``target`` at ``reference_users``,
    ``growth`` more per tenfold users above it, at most ``max_share`` (never below ``target``).

    More users bring more distinct tastes, and a taste the data holds is only
    seen in the smaller components: a share tuned at one size truncates them at
    a larger one (docs/analysis.md, "Components by size").
    """
    _validate_target(target)
    if not target <= max_share <= 1.0:
        raise ValueError(f"variance_max must be in [variance_target, 1], got {max_share}")
    if growth < 0 or reference_users < 1:
        raise ValueError(f"variance_growth must be >= 0 and the reference size >= 1, got {growth}, {reference_users}")
    decades = np.log10(max(n_users, 1) / reference_users)
    return float(min(max_share, target + growth * max(decades, 0.0)))


def _validate_target(target: float) -> None:
    if not (0.0 < target <= 1.0):
        raise ValueError(f"variance target must be in (0, 1], got {target}")


def total_variance(x: sp.csr_matrix) -> float:
    """Summed variance of the columns of ``x``: the trace of its covariance, no decomposition."""
    n = x.shape[0]
    column_means = np.asarray(x.sum(axis=0)).ravel() / n
    mean_squares = np.asarray(x.multiply(x).sum(axis=0)).ravel() / n
    return float(np.sum(mean_squares) - np.sum(column_means**2))


def _ratios(x: sp.csr_matrix, eigenvalues: np.ndarray, components: np.ndarray, total: float) -> np.ndarray:
    """Explained variance ratio of each right singular vector (columns of ``components``)."""
    n = x.shape[0]
    column_means = np.asarray(x.sum(axis=0)).ravel() / n
    projected_variance = eigenvalues / n - (column_means @ components) ** 2
    if total <= 0:  # every row identical: one direction says it all
        ratio = np.zeros(eigenvalues.size)
        ratio[:1] = 1.0
        return ratio
    return np.clip(projected_variance, 0.0, None) / total


def _sorted_nonzero(eigenvalues: np.ndarray, eigenvectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(eigenvalues)[::-1]
    eigenvalues, eigenvectors = eigenvalues[order], eigenvectors[:, order]
    if eigenvalues.size == 0 or eigenvalues[0] <= 0:
        return eigenvalues[:0], eigenvectors[:, :0]
    keep = eigenvalues > eigenvalues[0] * _RELATIVE_RANK_TOL
    return eigenvalues[keep], eigenvectors[:, keep]


def _right_vectors(x: sp.csr_matrix, eigenvalues: np.ndarray, vectors: np.ndarray, by_users: bool) -> np.ndarray:
    """Right singular vectors (d, r): ``vectors`` themselves, or ``X.T u / sigma`` from the user side."""
    if not by_users:
        return vectors
    return np.asarray(x.T @ vectors) / np.sqrt(eigenvalues)


def _dense_eigenpairs(x: sp.csr_matrix, by_users: bool) -> tuple[np.ndarray, np.ndarray]:
    gram = (x @ x.T if by_users else x.T @ x).toarray()
    # divide and conquer (evd): ~20% faster than the default driver for all eigenpairs
    eigenvalues, eigenvectors = scipy.linalg.eigh(gram, overwrite_a=True, check_finite=False, driver="evd")
    return _sorted_nonzero(eigenvalues, eigenvectors)


def _partial_eigenpairs(x: sp.csr_matrix, by_users: bool, k: int, random_state: int
                        ) -> tuple[np.ndarray, np.ndarray]:
    """The k largest eigenpairs of the Gram operator, never formed."""
    xt = x.T.tocsr()
    dim = x.shape[0] if by_users else x.shape[1]
    if by_users:
        op = spla.LinearOperator((dim, dim), matvec=lambda v: x @ (xt @ v), dtype=np.float64)
    else:
        op = spla.LinearOperator((dim, dim), matvec=lambda v: xt @ (x @ v), dtype=np.float64)
    v0 = np.random.default_rng(random_state).uniform(-1.0, 1.0, dim)  # fixed start: same output every run
    eigenvalues, eigenvectors = spla.eigsh(op, k=k, which="LA", v0=v0, tol=0)
    return _sorted_nonzero(eigenvalues, eigenvectors)


def next_request(ratio: np.ndarray, target: float, asked: int, dim: int) -> int:
    """Components to ask the partial solver for next, from the ratios of the ``asked`` it returned.

    Fits ``log ratio = a - b log i`` to the second half of the curve and finds
    where the extrapolated cumulative sum reaches ``target``; that count times
    :data:`NEXT_STEP_MARGIN`, at least ``1.5 * asked``. A flat or rising tail
    (no decay to fit) gives a doubling. Capped at ``dim - 1``.
    """
    doubled = min(2 * asked, dim - 1)
    tail = np.arange(max(asked // 2, 1), ratio.size)
    tail = tail[ratio[tail] > 0]
    if tail.size < 4:
        return doubled
    slope, intercept = np.polyfit(np.log(tail + 1.0), np.log(ratio[tail]), 1)
    if slope > -1e-3:  # no decay to extrapolate
        return doubled
    rest = np.arange(ratio.size + 1, dim + 1, dtype=np.float64)
    reached = np.flatnonzero(ratio.sum() + np.cumsum(np.exp(intercept + slope * np.log(rest))) >= target - 1e-12)
    if not reached.size:  # the fitted decay never gets there: at most the whole dimension
        return dim - 1
    predicted = ratio.size + int(reached[0]) + 1
    return int(min(max(int(np.ceil(NEXT_STEP_MARGIN * predicted)), int(np.ceil(MIN_GROWTH * asked))), dim - 1))


def _components(x: sp.csr_matrix, target: float, max_dense_dim: int, random_state: int, solver: str,
                cap: int) -> tuple[np.ndarray, np.ndarray, str]:
    """(right singular vectors (d, r), their variance ratios, solver name), leading first."""
    n_rows, n_features = x.shape
    by_users = n_rows < n_features
    dim = min(n_rows, n_features)
    total = total_variance(x)
    k = min(FIRST_STEP, cap)
    partial = dim >= 3 and (solver == "lanczos" or (solver == "auto" and dim > SMALL_DIM))
    while partial and (solver == "lanczos" or dim > max_dense_dim or k <= PARTIAL_SHARE * dim):
        k = min(k, dim - 1)
        eigenvalues, vectors = _partial_eigenpairs(x, by_users, k, random_state)
        components = _right_vectors(x, eigenvalues, vectors, by_users)
        ratio = _ratios(x, eigenvalues, components, total)
        found_all = eigenvalues.size < k  # the rank ran out before k
        if ratio.sum() >= target - 1e-12 or found_all or k == dim - 1 or k >= cap:
            return components, ratio, "lanczos"
        k = min(next_request(ratio, target, k, dim), cap)
    eigenvalues, vectors = _dense_eigenpairs(x, by_users)
    components = _right_vectors(x, eigenvalues, vectors, by_users)
    return components, _ratios(x, eigenvalues, components, total), "dense"


def reduce_to_variance(
    x: sp.spmatrix | np.ndarray,
    target: float,
    *,
    max_components: int | None = None,
    max_dense_dim: int = MAX_DENSE_DIM,
    random_state: int = 0,
    solver: str = "auto",
) -> ReducedSignal:
    """Project ``x`` (n_users, n_features) onto the fewest SVD components reaching ``target``.

    Rows are then L2-normalised so that dot products are cosine similarities;
    a user without data (an all-zero row) keeps a zero vector and so scores 0
    against everyone on this signal. ``max_components`` caps the count (the
    cost of the top k grows with it). ``solver`` is ``auto`` (by shape, above)
    or forces ``dense`` / ``lanczos``, which tests and benchmarks compare.
    """
    _validate_target(target)
    if solver not in ("auto", "dense", "lanczos"):
        raise ValueError(f"solver must be auto, dense or lanczos, got {solver!r}")
    x = sp.csr_matrix(x, dtype=np.float64)
    n_rows, _ = x.shape
    if x.nnz == 0 or n_rows == 0:
        return ReducedSignal(np.zeros((n_rows, 0), np.float32), 0, 0.0, np.zeros(0), "empty")
    if max_components is not None and max_components < 1:
        raise ValueError(f"max_components must be at least 1, got {max_components}")
    cap = max_components or min(x.shape)
    components, ratio, used = _components(x, target, max_dense_dim, random_state, solver, cap)
    n_components = max(1, min(choose_n_components(ratio, target), cap))
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
        solver=used,
    )
