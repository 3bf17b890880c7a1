"""Properties of the numeric core (simcore), checked against brute force."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.decomposition import TruncatedSVD

from simcore.ensemble import normalise_weights, stack_weighted
from simcore.matrix import build_user_feature_matrix, index_of
from simcore.svd import MIN_GROWTH, NEXT_STEP_MARGIN, choose_n_components, next_request, reduce_to_variance
from simcore.tables import rank_users
from simcore.topk import brute_force_top_k, top_k

# Small integers keep float32 dot products exact, so ties are real ties.
int_matrices = st.integers(2, 40).flatmap(
    lambda n: st.integers(1, 6).flatmap(
        lambda d: arrays(np.float32, (n, d), elements=st.integers(-2, 2).map(float))
    )
)


@settings(max_examples=150, deadline=None)
@given(z=int_matrices, k=st.integers(1, 8), block=st.integers(1, 9))
def test_blockwise_top_k_equals_brute_force(z: np.ndarray, k: int, block: int) -> None:
    """Same neighbours and scores as a dense lexsort, ties and all-zero rows included."""
    got_idx, got_scores = top_k(z, k, block_rows=block)
    want_idx, want_scores = brute_force_top_k(z, k)
    np.testing.assert_array_equal(got_idx, want_idx)
    np.testing.assert_array_equal(got_scores, want_scores)


@settings(max_examples=60, deadline=None)
@given(z=int_matrices, k=st.integers(1, 8))
def test_top_k_excludes_self_and_is_sorted(z: np.ndarray, k: int) -> None:
    idx, scores = top_k(z, k, block_rows=3)
    n = z.shape[0]
    assert idx.shape == (n, min(k, n - 1))
    assert not np.any(idx == np.arange(n)[:, None])
    assert np.all(np.diff(scores, axis=1) <= 0)
    for row in range(n):  # no duplicate neighbours
        assert len(set(idx[row])) == idx.shape[1]


def test_top_k_all_zero_rows_fall_back_to_lowest_handles() -> None:
    z = np.zeros((6, 3), np.float32)
    idx, scores = top_k(z, 3, block_rows=2)
    np.testing.assert_array_equal(idx[0], [1, 2, 3])
    np.testing.assert_array_equal(idx[4], [0, 1, 2])
    assert np.all(scores == 0)


def test_top_k_random_floats_match_brute_force() -> None:
    rng = np.random.default_rng(3)
    z = rng.normal(size=(500, 16)).astype(np.float32)
    got, got_scores = top_k(z, 5, block_rows=64)
    want, want_scores = brute_force_top_k(z, 5)
    # float32 finds the candidates, float64 scores them: the same as a float64 brute force
    np.testing.assert_array_equal(got_scores, want_scores)
    np.testing.assert_array_equal(got, want)


def test_top_k_rejects_bad_k() -> None:
    with pytest.raises(ValueError):
        top_k(np.zeros((3, 2), np.float32), 0)


sparse_matrices = st.tuples(st.integers(4, 30), st.integers(2, 12), st.integers(0, 10_000)).map(
    lambda t: sp.random(t[0], t[1], density=0.4, random_state=t[2], format="csr")
)


@settings(max_examples=60, deadline=None)
@given(x=sparse_matrices, target=st.floats(0.3, 0.99))
def test_components_reach_target_and_one_fewer_does_not(x: sp.csr_matrix, target: float) -> None:
    reduced = reduce_to_variance(x, target)
    if x.nnz == 0:
        assert reduced.n_components == 0
        return
    cumulative = np.cumsum(reduced.explained_variance_ratio)
    c = reduced.n_components
    assert cumulative[c - 1] >= target - 1e-9 or c == len(cumulative)
    if c > 1:
        assert cumulative[c - 2] < target
    assert reduced.variance_explained == pytest.approx(cumulative[c - 1])


@settings(max_examples=25, deadline=None)
@given(x=sparse_matrices)
def test_gram_solver_matches_sklearn_truncated_svd(x: sp.csr_matrix) -> None:
    """Explained variance ratios and cosines equal TruncatedSVD(arpack)'s for the same component count."""
    if min(x.shape) < 3 or x.nnz == 0:
        return
    reduced = reduce_to_variance(x, 0.8)
    c = reduced.n_components
    if c >= min(x.shape):
        return
    svd = TruncatedSVD(n_components=c, algorithm="arpack", random_state=0).fit(x)
    np.testing.assert_allclose(reduced.explained_variance_ratio[:c], svd.explained_variance_ratio_, atol=1e-6)
    projected = svd.transform(x)
    norms = np.linalg.norm(projected, axis=1, keepdims=True)
    row_norms = np.linalg.norm(x.toarray(), axis=1, keepdims=True)  # same noise rule as simcore.svd
    theirs = np.divide(projected, norms, out=np.zeros_like(projected), where=norms > 1e-6 * row_norms)
    np.testing.assert_allclose(reduced.vectors @ reduced.vectors.T, theirs @ theirs.T, atol=1e-4)


def test_full_variance_preserves_plain_cosine() -> None:
    x = sp.random(50, 20, density=0.3, random_state=1, format="csr")
    reduced = reduce_to_variance(x, 1.0)
    dense = x.toarray()
    norms = np.linalg.norm(dense, axis=1, keepdims=True)
    unit = np.divide(dense, norms, out=np.zeros_like(dense), where=norms > 0)
    np.testing.assert_allclose(reduced.vectors @ reduced.vectors.T, unit @ unit.T, atol=1e-5)


@pytest.mark.parametrize(("shape", "target"), [((1500, 1200), 0.5), ((900, 1400), 0.3), ((40, 30), 0.9)])
def test_partial_solver_equals_dense_solver(shape: tuple[int, int], target: float) -> None:
    """Lanczos on the implicit Gram operator keeps the same components and cosines as all eigenpairs."""
    rng = np.random.default_rng(3)
    # a decaying spectrum, like interaction data: a few strong directions plus sparse noise
    strong = rng.normal(size=(shape[0], 5)) @ rng.normal(size=(5, shape[1]))
    low_rank = sp.csr_matrix(strong * (rng.random(shape) < 0.02))
    x = low_rank + sp.random(*shape, density=0.01, random_state=4, format="csr")
    dense = reduce_to_variance(x, target, solver="dense")
    partial = reduce_to_variance(x, target, solver="lanczos")
    assert (dense.solver, partial.solver) == ("dense", "lanczos")
    assert partial.n_components == dense.n_components
    assert partial.variance_explained == pytest.approx(dense.variance_explained, abs=1e-9)
    np.testing.assert_allclose(partial.explained_variance_ratio,
                               dense.explained_variance_ratio[:partial.explained_variance_ratio.size], atol=1e-9)
    np.testing.assert_allclose(partial.vectors @ partial.vectors.T, dense.vectors @ dense.vectors.T, atol=1e-5)


def test_auto_solver_goes_partial_on_wide_inputs_and_decomposes_the_smaller_side() -> None:
    x = sp.random(300, 5000, density=0.01, random_state=2, format="csr")
    reduced = reduce_to_variance(x, 0.5)
    assert reduced.solver == "dense"  # 300 users: the 300 x 300 side, not 5000 x 5000
    assert reduced.explained_variance_ratio.size <= 300
    wide = sp.random(1600, 5000, density=0.002, random_state=2, format="csr")
    reduced = reduce_to_variance(wide, 0.2)
    assert reduced.solver == "lanczos"
    assert reduced.variance_explained >= 0.2
    with pytest.raises(ValueError, match="solver"):
        reduce_to_variance(x, 0.5, solver="randomized")


@pytest.mark.parametrize("decay", [0.6, 1.0, 1.3])
def test_next_request_from_a_power_law_spectrum_reaches_the_target_in_one_more_solve(decay: float) -> None:
    dim = 5000
    full = np.arange(1, dim + 1, dtype=np.float64) ** -decay
    full /= full.sum()
    needed = choose_n_components(full, 0.9)
    asked = 64
    assert needed > asked  # the case the extrapolation is for
    nxt = next_request(full[:asked], 0.9, asked, dim)
    assert needed <= nxt <= min(dim - 1, int(np.ceil(NEXT_STEP_MARGIN * needed)) + 1)


@settings(max_examples=100, deadline=None)
@given(ratio=arrays(np.float64, st.integers(1, 80), elements=st.floats(0, 1)), dim=st.integers(100, 3000))
def test_next_request_always_grows_and_stays_below_the_dimension(ratio: np.ndarray, dim: int) -> None:
    asked = ratio.size
    nxt = next_request(ratio / max(ratio.sum(), 1.0), 0.9, asked, dim)
    assert min(int(np.ceil(MIN_GROWTH * asked)), dim - 1) <= nxt <= dim - 1


def test_next_request_doubles_when_the_tail_does_not_decay() -> None:
    assert next_request(np.full(64, 0.001), 0.9, 64, 2000) == 128


def test_total_variance_is_the_trace_of_the_covariance() -> None:
    from simcore.svd import total_variance

    x = sp.random(80, 30, density=0.2, random_state=5, format="csr")
    assert total_variance(x) == pytest.approx(np.trace(np.cov(x.toarray(), rowvar=False, bias=True)))


def test_choose_n_components_edges() -> None:
    assert choose_n_components(np.array([0.5, 0.3, 0.2]), 0.8) == 2
    assert choose_n_components(np.array([0.5, 0.3, 0.2]), 0.81) == 3
    assert choose_n_components(np.array([]), 0.9) == 0
    with pytest.raises(ValueError):
        reduce_to_variance(sp.eye(3, format="csr"), 1.5)


@settings(max_examples=40, deadline=None)
@given(
    vecs=st.integers(3, 20).flatmap(lambda n: st.tuples(*[
        arrays(np.float32, (n, d), elements=st.floats(-1, 1, width=32)) for d in (3, 2, 4)
    ])),
    which=st.sampled_from(["interests", "assessments", "course_views"]),
)
def test_ensemble_with_one_weight_equals_that_signal(vecs, which: str) -> None:
    signals = dict(zip(("interests", "assessments", "course_views"), vecs, strict=True))
    weights = {s: (1.0 if s == which else 0.0) for s in signals}
    z = stack_weighted(signals, weights)
    np.testing.assert_allclose(z @ z.T, signals[which] @ signals[which].T, atol=1e-5)


def test_ensemble_is_weighted_sum_of_cosines() -> None:
    rng = np.random.default_rng(0)
    signals = {s: rng.normal(size=(10, d)).astype(np.float32) for s, d in
               (("interests", 3), ("assessments", 2), ("course_views", 5))}
    w = normalise_weights({"interests": 5, "assessments": 3, "course_views": 2})
    z = stack_weighted(signals, w)
    expected = sum(w[s] * (v @ v.T) for s, v in signals.items())
    np.testing.assert_allclose(z @ z.T, expected, atol=1e-5)


@pytest.mark.parametrize("weights", [
    {"interests": -1, "assessments": 1, "course_views": 1},
    {"interests": 0, "assessments": 0, "course_views": 0},
    {"interests": float("nan")},
    {"tags": 1.0},
])
def test_bad_weights_are_rejected(weights) -> None:
    with pytest.raises(ValueError):
        normalise_weights(weights)


def test_weights_are_normalised() -> None:
    assert normalise_weights({"interests": 2, "assessments": 1, "course_views": 1}) == {
        "interests": 0.5, "assessments": 0.25, "course_views": 0.25}


def test_matrix_sums_duplicates_and_keeps_empty_users() -> None:
    m = build_user_feature_matrix(np.array([1, 5, 9]), np.array([5, 5, 9]), np.array([0, 0, 1]),
                                  np.array([1.0, 2.0, 1.0]), 2)
    np.testing.assert_array_equal(m.toarray(), [[0, 0], [3, 0], [0, 1]])


def test_matrix_rejects_unknown_users_and_bad_codes() -> None:
    with pytest.raises(ValueError, match="not in the user universe"):
        index_of(np.array([1, 2]), np.array([3]))
    with pytest.raises(ValueError, match="out of range"):
        build_user_feature_matrix(np.array([1]), np.array([1]), np.array([4]), np.array([1.0]), 2)


def test_rank_users_ranks_every_user_even_without_data() -> None:
    """A user absent from every vector table still gets k rows (score 0, lowest handles)."""
    users = pa.table({"user_handle": pa.array([10, 20, 30, 40], pa.int64())})
    vec = pa.table({
        "user_handle": pa.array([10, 20, 30], pa.int64()),
        "vector": pa.FixedSizeListArray.from_arrays(pa.array([1, 0, 1, 0, 0, 1], pa.float32()), 2),
    })
    ranking = rank_users(users, {"interests": vec}, {"interests": 1.0}, 2, "r1", "t")
    rows = ranking.to_pylist()
    assert len(rows) == 8
    by_user = {}
    for r in rows:
        by_user.setdefault(r["user_handle"], []).append((r["similar_user_handle"], r["score"]))
    assert by_user[10] == [(20, 1.0), (30, 0.0)]
    assert by_user[40] == [(10, 0.0), (20, 0.0)]
    assert {r["run_id"] for r in rows} == {"r1"}


@settings(max_examples=80, deadline=None)
@given(z=int_matrices, k=st.integers(1, 6), cap=st.integers(1, 12))
def test_pruned_ranking_equals_exact_ranking_with_any_candidate_cap(z: np.ndarray, k: int, cap: int) -> None:
    """The chunk-maxima pruning and its many-ties fallback agree with the plain exact path."""
    from simcore.topk import _rank_rows_exact, rank_block

    scores = z @ z.T
    np.fill_diagonal(scores, -np.inf)
    k = min(k, z.shape[0] - 1)
    got = rank_block(scores, k, chunk=2, max_candidates=cap)
    want = _rank_rows_exact(scores, k)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])


def test_default_weights_agree_everywhere() -> None:
    """The defaults code reads, the CLI's and the dbt vars an analyst gets are the same numbers."""
    import yaml

    from contracts.defaults import default_weights
    from pipeline.cli import parse_args
    from simcore.ensemble import SIGNALS
    from tests.conftest import PROJECT_DIR

    dbt_vars = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text())["vars"]
    assert {s: dbt_vars[f"weight_{s}"] for s in SIGNALS} == default_weights()
    assert dict(zip(SIGNALS, parse_args([]).weights, strict=True)) == default_weights()
