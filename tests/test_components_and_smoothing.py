"""Components by size (simcore.svd.variance_share, the cap) and neighbourhood smoothing (simcore.smoothing)."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
import scipy.sparse as sp

from simcore.ensemble import SIGNALS, signal_blocks, stack_weighted
from simcore.smoothing import smooth
from simcore.strategy import EXACT_LOCAL
from simcore.svd import reduce_to_variance, variance_share
from simcore.tables import rank_users, ranking_recall, stacked_vectors, user_neighbourhoods


def test_the_share_is_the_target_up_to_the_reference_size_then_grows_per_decade_to_the_cap() -> None:
    assert variance_share(500, 0.4, 0.45, 10_000, 0.9) == 0.4
    assert variance_share(10_000, 0.4, 0.45, 10_000, 0.9) == 0.4
    assert variance_share(100_000, 0.4, 0.45, 10_000, 0.9) == pytest.approx(0.85)
    assert variance_share(31_623, 0.4, 0.45, 10_000, 0.9) == pytest.approx(0.625, abs=1e-4)
    assert variance_share(1_000_000, 0.4, 0.45, 10_000, 0.9) == 0.9
    assert variance_share(10**7, 0.4, 0.0, 10_000, 0.9) == 0.4  # no growth: the flat share of the original
    with pytest.raises(ValueError, match="variance_max"):
        variance_share(10, 0.5, 0.1, 10_000, 0.4)
    with pytest.raises(ValueError, match="variance_growth"):
        variance_share(10, 0.5, -0.1, 10_000, 0.9)


@pytest.mark.parametrize("solver", ["dense", "lanczos"])
def test_max_components_caps_the_count_and_changes_nothing_when_not_reached(solver: str) -> None:
    x = sp.random(600, 300, density=0.05, random_state=1, format="csr")
    free = reduce_to_variance(x, 0.9, solver=solver)
    assert free.n_components > 40
    capped = reduce_to_variance(x, 0.9, max_components=40, solver=solver)
    assert capped.n_components == 40 == capped.vectors.shape[1]
    assert capped.variance_explained < 0.9
    wide = reduce_to_variance(x, 0.9, max_components=free.n_components + 50, solver=solver)
    assert wide.n_components == free.n_components
    np.testing.assert_allclose(wide.vectors @ wide.vectors.T, free.vectors @ free.vectors.T, atol=1e-5)
    with pytest.raises(ValueError, match="max_components"):
        reduce_to_variance(x, 0.9, max_components=0)


def _unit(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    v = rng.normal(size=(n, d))
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def test_smoothing_keeps_each_signal_a_scaled_unit_vector_and_missing_signals_zero() -> None:
    rng = np.random.default_rng(0)
    vectors = {"interests": _unit(rng, 50, 6), "course_views": _unit(rng, 50, 4)}
    vectors["course_views"][:7] = 0  # no course views
    weights = {"interests": 0.7, "assessments": 0.0, "course_views": 0.3}
    z = stack_weighted(vectors, weights)
    blocks = signal_blocks(vectors, weights)
    ids = np.array([[(i + 1) % 50, (i + 2) % 50] for i in range(50)])
    out = smooth(z, [(a, b, w) for _, a, b, w in blocks], ids, np.full(ids.shape, 0.5))
    for signal, a, b, w in blocks:
        norms = np.linalg.norm(out[:, a:b].astype(np.float64), axis=1)
        has = np.any(vectors[signal] != 0, axis=1)
        np.testing.assert_allclose(norms[has], np.sqrt(w), rtol=1e-6)
        assert np.all(norms[~has] == 0)
    # no neighbours (or only non-positive scores): the vectors are unchanged up to renormalising
    same = smooth(z, [(a, b, w) for _, a, b, w in blocks], np.full((50, 2), -1), np.zeros((50, 2)))
    np.testing.assert_allclose(same, z, atol=1e-6)


def test_smoothing_pulls_a_user_towards_their_neighbours() -> None:
    z = np.array([[1, 0], [0.6, 0.8], [0, 1]], np.float32)
    out = smooth(z, [(0, 2, 1.0)], np.array([[1], [0], [1]]), np.array([[1.0], [1.0], [1.0]]))
    assert out[0] @ z[2] > z[0] @ z[2]  # user 0 moved towards user 1's side, so nearer user 2


def _tables(n: int, seed: int) -> tuple[pa.Table, dict[str, pa.Table]]:
    rng = np.random.default_rng(seed)
    handles = np.arange(1, n + 1, dtype=np.int64) * 3

    def table(rows: np.ndarray, d: int) -> pa.Table:
        v = _unit(rng, rows.size, d)
        return pa.table({"user_handle": pa.array(handles[rows]),
                         "vector": pa.FixedSizeListArray.from_arrays(pa.array(v.ravel()), d)})

    tables = {"interests": table(np.arange(n), 5), "assessments": table(np.arange(0, n, 2), 3),
              "course_views": table(np.arange(n // 3, n), 4)}
    return pa.table({"user_handle": pa.array(handles)}), tables


def test_neighbourhoods_list_the_exact_first_pass_and_smoothed_scores_add_up_per_signal() -> None:
    users, tables = _tables(300, seed=3)
    weights = {"interests": 0.6, "assessments": 0.1, "course_views": 0.3}
    hoods = user_neighbourhoods(users, tables, weights, 8, EXACT_LOCAL)
    assert hoods.num_rows == 300 and set(hoods.column("topk_method").to_pylist()) == {"exact"}
    row = hoods.slice(0, 1).to_pylist()[0]
    assert len(row["neighbour_handles"]) == 8 and row["user_handle"] not in row["neighbour_handles"]
    assert row["neighbour_scores"] == sorted(row["neighbour_scores"], reverse=True)

    plain = rank_users(users, tables, weights, 5, "r", "t")
    smoothed = rank_users(users, tables, weights, 5, "r", "t", neighbourhoods=hoods)
    assert plain.column("similar_user_handle").to_pylist() != smoothed.column("similar_user_handle").to_pylist()
    for r in smoothed.to_pylist():
        total = sum(weights[s] * r[f"score_{s}"] for s in SIGNALS)
        assert total == pytest.approx(r["score"], abs=3e-6)
    # the recall of the smoothed ranking is measured on the smoothed vectors: exact gives 1.0
    ranking = smoothed.select(["user_handle", "rank", "similar_user_handle"])
    assert ranking_recall(users, tables, weights, ranking, 300, neighbourhoods=hoods).recall == 1.0
    assert ranking_recall(users, tables, weights, ranking, 300).recall < 1.0


def test_no_smoothing_neighbours_means_the_plain_ranking() -> None:
    users, tables = _tables(60, seed=4)
    weights = {"interests": 1.0, "assessments": 0.0, "course_views": 0.0}
    hoods = user_neighbourhoods(users, tables, weights, 0, EXACT_LOCAL)
    assert hoods.num_rows == 60 and all(len(h) == 0 for h in hoods.column("neighbour_handles").to_pylist())
    _, _, z_plain = stacked_vectors(users, tables, weights)
    _, _, z_hood = stacked_vectors(users, tables, weights, hoods)
    np.testing.assert_array_equal(z_plain, z_hood)
    with pytest.raises(ValueError, match="smoothing_neighbours"):
        user_neighbourhoods(users, tables, weights, -1, EXACT_LOCAL)
