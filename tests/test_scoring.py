"""Scores at the published precision: the ranking must not depend on how BLAS sums a float32 product."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from simcore.precision import SCORE_DECIMALS
from simcore.scoring import block_top_k, candidate_pairs, float32_error_bound, merge_top_k
from simcore.topk import brute_force_top_k, exact_rows, score_margin, top_k


def near_ties(n: int, d: int, seed: int) -> np.ndarray:
    """Unit vectors in a few tight bundles: many scores differ only in the 6th or 7th decimal."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(6, d))
    x = centres[rng.integers(0, 6, n)] + rng.normal(scale=1e-3, size=(n, d))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float32)


def test_the_error_bound_covers_every_float32_product() -> None:
    x = near_ties(300, 200, seed=1)
    exact = x.astype(np.float64) @ x.T.astype(np.float64)
    single = x @ x.T
    assert np.abs(single - exact).max() <= float32_error_bound(200, 1.0)


def test_another_summation_order_gives_the_same_ranking() -> None:
    """Permuting the dimensions sums every float32 product in another order, as another BLAS kernel does."""
    x = near_ties(800, 96, seed=2)
    perm = np.random.default_rng(0).permutation(96)
    raw = x @ x.T
    assert np.any(raw != (x[:, perm] @ x[:, perm].T)), "the permutation did not change the float32 products"
    a_idx, a_scores = top_k(x, 5, block_rows=100)
    b_idx, b_scores = top_k(np.ascontiguousarray(x[:, perm]), 5, block_rows=37)
    np.testing.assert_array_equal(a_idx, b_idx)
    np.testing.assert_array_equal(a_scores, b_scores)


def test_scores_are_float64_rounded_to_the_published_precision() -> None:
    x = near_ties(200, 32, seed=3)
    idx, scores = top_k(x, 4)
    assert scores.dtype == np.float64
    np.testing.assert_array_equal(scores, np.round(scores, SCORE_DECIMALS))
    want = np.round(np.einsum("ij,ikj->ik", x.astype(np.float64), x[idx].astype(np.float64)), SCORE_DECIMALS)
    np.testing.assert_array_equal(scores, want)


@settings(max_examples=80, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(1, 6), margin=st.floats(0, 1e-3))
def test_candidates_always_hold_the_top_k_within_the_margin(seed: int, k: int, margin: float) -> None:
    rng = np.random.default_rng(seed)
    scores = np.round(rng.normal(size=(7, 300)), 2).astype(np.float32)  # coarse: many ties at the cut
    scores[np.arange(7), np.arange(7)] = -np.inf
    rows, cols = candidate_pairs(scores, k, margin)
    for row in range(7):
        kth = np.sort(scores[row])[::-1][k - 1]
        want = set(np.flatnonzero(scores[row] >= kth - 2 * margin).tolist())
        assert set(cols[rows == row].tolist()) == want


def test_rows_with_hundreds_of_ties_take_the_dense_path_and_keep_the_tie_rule() -> None:
    x = np.zeros((1_500, 4), np.float32)
    x[:, 0] = 1  # everyone identical: every row ties with all others
    x[::3] = 0   # and a third have no data: they tie at 0 with everyone
    idx, scores = exact_rows(x, np.arange(1_500), 5)
    want_idx, want_scores = brute_force_top_k(x, 5)
    np.testing.assert_array_equal(idx, want_idx)
    np.testing.assert_array_equal(scores, want_scores)


def test_a_block_never_ranks_a_query_against_itself_even_among_other_members() -> None:
    x = near_ties(50, 8, seed=4)
    members = np.array([3, 7, 10, 20, 30, 40])
    ids, _ = block_top_k(x[[7, 20]], np.array([7, 20]), x[members], members, 3, score_margin(x))
    assert 7 not in ids[0] and 20 not in ids[1]
    assert set(ids.ravel()) <= set(members.tolist())


def test_merge_keeps_the_best_k_by_score_then_lower_id_and_ignores_padding() -> None:
    ids, scores = merge_top_k(np.array([[4, -1]]), np.array([[0.5, -np.inf]]),
                              np.array([[2, 9]]), np.array([[0.5, 0.7]]), 3)
    np.testing.assert_array_equal(ids, [[9, 2, 4]])
    np.testing.assert_array_equal(scores, [[0.7, 0.5, 0.5]])


def test_the_thread_count_changes_nothing() -> None:
    from threadpoolctl import threadpool_limits

    x = near_ties(600, 64, seed=5)
    with threadpool_limits(limits=1, user_api="blas"):
        one = top_k(x, 5, block_rows=128)
    with threadpool_limits(limits=2, user_api="blas"):
        two = top_k(x, 5, block_rows=128)
    np.testing.assert_array_equal(one[0], two[0])
    np.testing.assert_array_equal(one[1], two[1])
