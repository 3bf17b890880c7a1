"""The approximate top k (simcore.ann) against the exact one, and the recall measure it is judged by."""
from __future__ import annotations

import numpy as np
import pytest

from simcore.ann import AnnParams, ann_top_k, search_widths
from simcore.precision import SCORE_DECIMALS
from simcore.recall import sampled_recall
from simcore.strategy import resolve_strategy
from simcore.topk import exact_rows, top_k


def clustered(n: int, d: int, groups: int, seed: int, empty: int = 0) -> np.ndarray:
    """Unit vectors around ``groups`` centres (like stacked user vectors), ``empty`` all-zero rows."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(groups, d))
    x = centres[rng.integers(0, groups, n)] + rng.normal(scale=0.8, size=(n, d))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    x[rng.choice(n, size=empty, replace=False)] = 0
    return x.astype(np.float32)


@pytest.fixture(scope="module")
def vectors() -> np.ndarray:
    return clustered(4_000, 48, 40, seed=3, empty=25)


def test_ann_finds_the_exact_neighbours_with_exact_scores(vectors: np.ndarray) -> None:
    k = 5
    got, got_scores = ann_top_k(vectors, k)
    exact, exact_scores = top_k(vectors, k)
    n = vectors.shape[0]
    assert got.shape == exact.shape == (n, k)
    assert not np.any(got == np.arange(n)[:, None]), "a user is its own neighbour"
    assert all(len(set(row)) == k for row in got.tolist()), "a neighbour listed twice"
    # every score is the exact dot product of the pair at the published precision, as on the exact path
    pair = np.einsum("ij,ikj->ik", vectors.astype(np.float64), vectors[got].astype(np.float64))
    np.testing.assert_array_equal(got_scores, np.round(pair, SCORE_DECIMALS))
    assert np.all(np.diff(got_scores, axis=1) <= 0), "not sorted by score"
    recall = sampled_recall(vectors, got, sample_size=n)
    assert recall.recall >= 0.95, recall
    assert np.mean(np.all(got == exact, axis=1)) >= 0.9
    np.testing.assert_array_equal(got_scores[:, 0], exact_scores[:, 0])


def test_users_without_data_get_the_exact_answer_of_all_ties(vectors: np.ndarray) -> None:
    got, scores = ann_top_k(vectors, 5)
    exact, _ = top_k(vectors, 5)
    idle = np.flatnonzero(~np.any(vectors != 0, axis=1))
    assert idle.size == 25
    np.testing.assert_array_equal(got[idle], exact[idle])
    assert np.all(scores[idle] == 0)


def test_ann_is_deterministic_across_rebuilds_and_thread_counts(vectors: np.ndarray) -> None:
    import faiss

    threads = faiss.omp_get_max_threads()
    try:
        faiss.omp_set_num_threads(1)
        one, _ = ann_top_k(vectors, 5)
        faiss.omp_set_num_threads(2)
        two, _ = ann_top_k(vectors, 5)
        again, _ = ann_top_k(vectors, 5)
    finally:
        faiss.omp_set_num_threads(threads)
    np.testing.assert_array_equal(one, two)
    np.testing.assert_array_equal(two, again)


def test_a_narrow_search_is_widened_until_the_probe_recall_is_reached() -> None:
    x = clustered(3_000, 64, 200, seed=8)  # weak structure: ef 4 alone misses many neighbours
    narrow = AnnParams(m=4, ef_construction=8, ef_search=4, max_ef_search=4, candidates=6)
    tuned = AnnParams(m=4, ef_construction=8, ef_search=4, max_ef_search=1024, candidates=6)
    low = sampled_recall(x, ann_top_k(x, 5, params=narrow)[0], sample_size=1_000).recall
    high = sampled_recall(x, ann_top_k(x, 5, params=tuned)[0], sample_size=1_000).recall
    assert low < 0.95 <= high, (low, high)


def test_sampled_recall_counts_misses_ties_duplicates_and_self() -> None:
    x = clustered(500, 16, 10, seed=1)
    exact, _ = top_k(x, 5)
    assert sampled_recall(x, exact, sample_size=500).recall == 1.0
    worst = np.argsort(x @ x.T, axis=1)[:, :1]  # each user's least similar user
    broken = exact.copy()
    broken[:, 4] = worst[:, 0]  # one of five wrong in every row
    assert sampled_recall(x, broken, sample_size=500).recall == pytest.approx(0.8)
    dup = exact.copy()
    dup[:, 4] = dup[:, 0]
    assert sampled_recall(x, dup, sample_size=500).recall == pytest.approx(0.8)
    own = exact.copy()
    own[:, 4] = np.arange(500)
    assert sampled_recall(x, own, sample_size=500).recall == pytest.approx(0.8)
    # a tie at the cut: any of the tied users is a correct 5th neighbour
    tied = np.zeros((6, 2), np.float32)
    tied[:, 0] = 1
    swapped = np.array([[1, 2, 3, 4, 5], [0, 2, 3, 4, 5], [0, 1, 3, 4, 5], [0, 1, 2, 4, 5], [0, 1, 2, 3, 5],
                        [0, 1, 2, 3, 4]])
    swapped[0] = [5, 4, 3, 2, 1]
    assert sampled_recall(tied, swapped, sample_size=6).recall == 1.0


def test_exact_rows_match_the_full_exact_top_k() -> None:
    x = clustered(700, 12, 7, seed=2, empty=5)
    rows = np.array([0, 5, 399, 699])
    full, full_scores = top_k(x, 5)
    got, got_scores = exact_rows(x, rows, 5)
    np.testing.assert_array_equal(got, full[rows])
    np.testing.assert_array_equal(got_scores, full_scores[rows])


@pytest.mark.parametrize(("method", "n", "want"), [
    ("auto", 20_000, "exact"), ("auto", 20_001, "ann"), ("exact", 10**7, "exact"), ("ann", 10, "ann")])
def test_auto_is_exact_up_to_the_threshold(method: str, n: int, want: str) -> None:
    assert resolve_strategy(method, n, 20_000).method == want


def test_unknown_method_is_refused() -> None:
    with pytest.raises(ValueError, match="topk_method must be one of"):
        resolve_strategy("faiss", 10, 20_000)


def test_the_search_width_sweep_reports_recall_that_grows_with_the_width(capsys) -> None:
    from benchmarks.ann_compare import _sweep

    x = clustered(3_000, 64, 200, seed=8)  # weak structure, as above: a narrow search misses neighbours
    rows = np.sort(np.random.default_rng(1).choice(3_000, size=300, replace=False))
    _sweep(x, 5, rows, [1, 256])
    lines = [line for line in capsys.readouterr().out.splitlines() if "recall@5" in line]
    recalls = [float(line.split("recall@5 ")[1].split(",")[0]) for line in lines]
    assert len(recalls) == 2
    assert recalls[0] < recalls[1] and recalls[1] >= 0.95, recalls


def test_search_widths_grow_by_the_factor_and_stop_at_the_cap() -> None:
    assert search_widths(AnnParams()) == [32, 48, 72, 108, 162, 243, 365, 548, 822, 1024]
    assert search_widths(AnnParams(ef_search=4, ef_growth=2.0, max_ef_search=20)) == [4, 8, 16, 20]
    assert search_widths(AnnParams(ef_search=64, max_ef_search=64)) == [64]
    with pytest.raises(ValueError, match="ef_growth"):
        search_widths(AnnParams(ef_growth=1.0))


def test_a_k_larger_than_the_candidate_count_still_gets_k_exact_neighbours(vectors: np.ndarray) -> None:
    """The smoothing's first pass asks for 20 neighbours, more than the 16 candidates fetched by default."""
    got, scores = ann_top_k(vectors, 20)
    exact, exact_scores = top_k(vectors, 20)
    assert got.shape == scores.shape == (vectors.shape[0], 20)
    assert not np.any(got == np.arange(vectors.shape[0])[:, None])
    assert sampled_recall(vectors, got, sample_size=1_000).recall >= 0.95
    np.testing.assert_array_equal(scores[:, 0], exact_scores[:, 0])
