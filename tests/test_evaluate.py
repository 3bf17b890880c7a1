"""Unit tests of the evaluation: metrics on hand-made inputs whose answers are worked
out by hand in the comments, the holdout step, the baselines and the CLI."""
from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import scipy.sparse as sp
from hypothesis import example, given, settings
from hypothesis import strategies as st

from evaluation.cli import main
from evaluation.holdout import hidden_pair_mask, holdout
from evaluation.items import heldout_file, read_pairs, read_raw
from evaluation.metrics import (
    bucket_labels,
    heldout_counts,
    neighbour_candidates,
    neighbour_rows,
    paired_difference,
    planted_precision,
    popular_candidates,
    summarise_heldout,
)
from evaluation.neighbours import (
    MISSING,
    Neighbours,
    from_long,
    most_active_neighbours,
    random_neighbours,
    read_ranking,
)
from evaluation.plain_cosine import sparse_top_k, stacked_cosine_matrix
from evaluation.scoring import Truth, score_methods
from pipeline.publish import COLUMN_NAMES, RunRecord, publish_ranking
from simcore.topk import brute_force_top_k


@pytest.fixture(autouse=True)
def _own_warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing here may touch data/warehouse."""
    monkeypatch.setenv("USER_SIM_WAREHOUSE_DIR", str(tmp_path / "warehouse"))
    monkeypatch.setenv("USER_SIM_DATA_ROOT", str(tmp_path / "data"))


def _neighbours(rows: dict[int, list[int]]) -> Neighbours:
    users = sorted(rows)
    k = max(len(v) for v in rows.values())
    return Neighbours(np.array(users), np.array([rows[u] + [MISSING] * (k - len(rows[u])) for u in users]))


# -- planted-group precision --------------------------------------------------------
# groups: A = {1, 2, 3}, B = {4, 5}, C = {6}
TRUTH_USERS = np.array([1, 2, 3, 4, 5, 6])
TRUTH_GROUPS = np.array([10, 10, 10, 20, 20, 30])


def test_precision_by_hand() -> None:
    ranking = _neighbours({
        1: [2, 4],  # 1 of 2 in A        -> 0.5
        2: [1, 3],  # both in A          -> 1.0
        3: [4, 5],  # none in A          -> 0.0
        4: [5, 1],  # 5 is in B          -> 0.5
        5: [4],     # missing 2nd = miss -> 0.5
    })              # 6 not ranked       -> 0.0
    p = planted_precision(ranking, TRUTH_USERS, TRUTH_GROUPS, k=2, edges=(1, 2))
    assert p.precision == pytest.approx(2.5 / 6)
    assert p.coverage == pytest.approx(5 / 6)
    assert p.n_users == 6
    # buckets by own group size: C (size 1) = {6}; B (size 2) = {4, 5}; A (size 3) = {1, 2, 3}
    assert p.buckets == {"<=1": (0.0, 1), "2-2": (0.5, 2), ">2": (pytest.approx(0.5), 3)}


def test_precision_at_smaller_k_uses_the_first_neighbours() -> None:
    ranking = _neighbours({1: [2, 4], 2: [4, 1], 3: [1, 2]})
    p = planted_precision(ranking, TRUTH_USERS[:3], TRUTH_GROUPS[:3], k=1)
    assert p.precision == pytest.approx(2 / 3)  # 1 -> 2 hit, 2 -> 4 miss, 3 -> 1 hit
    with pytest.raises(ValueError, match="holds only 2"):
        planted_precision(ranking, TRUTH_USERS, TRUTH_GROUPS, k=3)


def test_paired_difference_by_hand() -> None:
    diff, half_width = paired_difference(np.array([1, 0, 1, 1]), np.array([0, 0, 1, 0]))
    # differences 1, 0, 0, 1: mean 0.5, sample sd sqrt(1/3), standard error sqrt(1/3) / 2
    assert diff == 0.5
    assert half_width == pytest.approx(1.96 * np.sqrt(1 / 3) / 2)


def test_score_methods_pairs_every_row_with_the_reference() -> None:
    truth = Truth(TRUTH_USERS, TRUTH_GROUPS)
    good = _neighbours({1: [2], 2: [1], 3: [1], 4: [5], 5: [4], 6: [1]})  # 5 of 6 users hit
    bad = _neighbours({1: [4], 2: [4], 3: [4], 4: [1], 5: [1], 6: [1]})  # no user hits
    rows = score_methods({"good": good, "bad": bad}, 1, truth=truth, reference="good")
    assert rows["good"]["precision"] == pytest.approx(5 / 6) and rows["bad"]["precision"] == 0.0
    assert rows["bad"]["dprecision"] == pytest.approx(-5 / 6)
    assert "dprecision" not in rows["good"]


def test_bucket_labels() -> None:
    assert bucket_labels() == ["<=30", "31-60", "61-120", ">120"]


# -- held-out hit rate and recall --------------------------------------------------
def _matrix(rows: list[set[int]], n_items: int) -> sp.csr_matrix:
    dense = np.zeros((len(rows), n_items), bool)
    for r, items in enumerate(rows):
        dense[r, list(items)] = True
    return sp.csr_matrix(dense)


A, B, C, D = range(4)
UNIVERSE = np.array([1, 2, 3])
VISIBLE = _matrix([{A}, {A, B, C}, {D}], 4)
HIDDEN = _matrix([{B, D}, set(), {C}], 4)


def test_hit_rate_and_recall_by_hand() -> None:
    ranking = _neighbours({1: [2], 2: [1], 3: [1]})
    rows = neighbour_rows(ranking, UNIVERSE)
    candidates = neighbour_candidates(rows, VISIBLE)
    # user 1: neighbour 2 holds {a, b, c}, minus own {a} -> {b, c}: finds hidden b, not d
    # user 2: nothing hidden (not counted)
    # user 3: neighbour 1 holds {a} -> {a}: misses hidden c
    assert [set(candidates[r].indices) for r in range(3)] == [{B, C}, set(), {A}]
    counts = heldout_counts(candidates, HIDDEN)
    assert counts.hidden.tolist() == [2, 0, 1]
    assert counts.found.tolist() == [1, 0, 0]
    s = summarise_heldout(counts)
    assert (s.hit_rate, s.recall, s.n_users, s.n_hidden, s.n_found) == (0.5, pytest.approx(1 / 3), 2, 3, 1)
    assert s.mean_candidates == 1.5  # (2 + 1) / 2 over users with a hidden item
    assert s.item_yield == pytest.approx(1 / 3)  # 1 hidden item found among 2 + 1 listed


def test_popular_items_skip_own_items_and_match_the_list_length() -> None:
    # popularity (users holding it): a 2, b 1, c 1, d 1 -> order a, b, c, d (ties: lower id first)
    candidates = popular_candidates(VISIBLE, np.array([2, 0, 1]))
    # user 1 owns a -> next two: b, c; user 3 owns d -> a
    assert [set(candidates[r].indices) for r in range(3)] == [{B, C}, set(), {A}]
    s = summarise_heldout(heldout_counts(candidates, HIDDEN))
    assert (s.hit_rate, s.recall) == (0.5, pytest.approx(1 / 3))


def test_popular_items_list_is_capped_by_the_catalogue() -> None:
    candidates = popular_candidates(VISIBLE, np.array([10, 10, 10]))
    assert [candidates[r].nnz for r in range(3)] == [3, 1, 3]  # 4 items minus the user's own


# -- neighbour lists and baselines ------------------------------------------------
def test_from_long_fills_gaps_with_missing() -> None:
    n = from_long(np.array([5, 5, 7]), np.array([1, 2, 1]), np.array([7, 9, 5]))
    assert n.users.tolist() == [5, 7]
    assert n.handles.tolist() == [[7, 9], [5, MISSING]]


def test_random_neighbours_are_distinct_others_and_reproducible() -> None:
    users = np.arange(100, 130)
    a, b = random_neighbours(users, 5, seed=3), random_neighbours(users, 5, seed=3)
    assert np.array_equal(a.handles, b.handles)
    assert not np.array_equal(a.handles, random_neighbours(users, 5, seed=4).handles)
    assert all(len(set(row)) == 5 and u not in row for u, row in zip(users, a.handles.tolist(), strict=True))


def test_most_active_neighbours_skip_the_user_itself() -> None:
    users = np.array([1, 2, 3, 4])
    n = most_active_neighbours(users, candidates=np.array([1, 2, 3, 4]), activity=np.array([9, 7, 7, 1]), k=2)
    # order by activity, ties to the lower handle: 1, 2, 3, 4
    assert n.handles.tolist() == [[2, 3], [1, 3], [1, 2], [1, 2]]


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 40), st.integers(1, 6), st.integers(0, 2**16), st.floats(0.05, 0.9))
@example(37, 4, 2859, 0.548828125)  # a tie at a rounding boundary that float32 products split
def test_sparse_plain_cosine_equals_brute_force(n: int, k: int, seed: int, density: float) -> None:
    rng = np.random.default_rng(seed)
    matrices = {s: sp.random(n, d, density=density, format="csr", random_state=rng, dtype=np.float64)
                for s, d in (("interests", 7), ("assessments", 3), ("course_views", 5))}
    matrices = {s: m.ceil() for s, m in matrices.items()}  # small integer counts: many exact ties
    z = stacked_cosine_matrix(matrices, {"interests": 0.5, "assessments": 0.3, "course_views": 0.2})
    index, scores = sparse_top_k(z, k, block_rows=3)
    want_index, want_scores = brute_force_top_k(z.toarray(), k)
    assert np.allclose(scores, want_scores, atol=1e-5)
    assert np.array_equal(index, want_index)


# -- published rankings -------------------------------------------------------------
def _publish(db: Path, run_id: str, pairs: dict[int, list[int]]) -> None:
    rows = [{c: None for c in COLUMN_NAMES} | {"user_handle": u, "rank": r + 1, "similar_user_handle": v,
                                                 "score": 1.0 - r / 10, "run_id": run_id, "run_at": "2026-01-01"}
            for u, vs in pairs.items() for r, v in enumerate(vs)]
    table = pa.Table.from_pylist(rows)
    publish_ranking(db, RunRecord(run_id, "ranks", "2026-01-01T00:00:00"), table, keep_runs=5)


def test_read_ranking_current_and_kept_runs(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    _publish(db, "run-a", {1: [2, 3], 2: [1, 3], 3: [1, 2]})
    _publish(db, "run-b", {1: [3, 2], 2: [3, 1], 3: [2, 1]})
    current, run = read_ranking(db, "ranks")
    assert run == "run-b" and current.handles.tolist() == [[3, 2], [3, 1], [2, 1]]
    old, run = read_ranking(db, "ranks", "run-a")
    assert run == "run-a" and old.handles.tolist() == [[2, 3], [1, 3], [1, 2]]
    with pytest.raises(ValueError, match="kept runs: run-b, run-a"):
        read_ranking(db, "ranks", "run-zzz")


# -- the holdout step ---------------------------------------------------------------
def test_hidden_pair_mask_counts() -> None:
    rng = np.random.default_rng(0)
    users = np.repeat([1, 2, 3], [10, 1, 5])
    hide = hidden_pair_mask(users, 0.2, rng)
    # 10 items: exactly 2; 1 item: never (keeps one); 5 items: exactly 1
    assert [int(hide[users == u].sum()) for u in (1, 2, 3)] == [2, 0, 1]
    # 3 items at 0.5 -> 1.5: 1 or 2 hidden, never all 3; about half of the users get 2
    many = np.repeat(np.arange(2000), 3)
    per_user = np.bincount(many[hidden_pair_mask(many, 0.5, np.random.default_rng(1))], minlength=2000)
    assert set(per_user.tolist()) == {1, 2}
    assert per_user.mean() == pytest.approx(1.5, abs=0.05)


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)


@pytest.fixture
def tiny_raw(tmp_path: Path) -> Path:
    """Hand-made raw tables: user 1 follows 10 tags, user 2 one tag; user 1 viewed 5 courses, one on 3 days."""
    raw = tmp_path / "raw"
    raw.mkdir()
    interests = [[str(1), f"Tag {i}", "2017-01-01 00:00:00"] for i in range(10)] + [["2", "solo", "2017-01-01"]]
    interests.append(["1", " TAG 3 ", "2017-02-01 00:00:00"])  # the same tag again, other spelling and date
    _write_csv(raw / "user_interests.csv", ["user_handle", "interest_tag", "date_followed"], interests)
    views = [["1", f"2017-01-0{d}", "course-0", "9", "Beginner", "60"] for d in (1, 2, 3)]
    views += [["1", "2017-01-05", f"course-{c}", "9", "Beginner", "60"] for c in range(1, 5)]
    _write_csv(raw / "user_course_views.csv",
               ["user_handle", "view_date", "course_id", "author_handle", "level", "view_time_seconds"], views)
    _write_csv(raw / "user_assessment_scores.csv",
               ["user_handle", "assessment_tag", "user_assessment_date", "user_assessment_score"],
               [["1", "python", "2017-01-01 00:00:00", "100"]])
    _write_csv(raw / "course_tags.csv", ["course_id", "course_tags"], [[f"course-{c}", "python"] for c in range(5)])
    return raw


def _rows(path: Path) -> Counter:
    table = read_raw(path)
    return Counter(zip(*(table.column(c).to_pylist() for c in table.column_names), strict=True))


def test_holdout_by_hand(tiny_raw: Path, tmp_path: Path) -> None:
    out = tmp_path / "masked"
    summaries = {s.kind: s for s in holdout(tiny_raw, out, fraction=0.2, seed=1)}
    # interests: user 1 has 10 distinct tags ('tag-3' twice in raw) -> exactly 2 hidden; user 2 keeps its only tag
    assert (summaries["interests"].pairs, summaries["interests"].hidden_pairs) == (11, 2)
    # courses: user 1 has 5 courses -> exactly 1 hidden, with all of its view rows
    assert (summaries["courses"].pairs, summaries["courses"].hidden_pairs) == (5, 1)
    hidden_courses = read_raw(out / heldout_file("courses")).column("course_id").to_pylist()
    assert len(set(hidden_courses)) == 1
    assert len(hidden_courses) == (3 if hidden_courses[0] == "course-0" else 1)
    # a hidden item is gone from the masked table, in every spelling
    visible_tags = set(read_pairs(out / "user_interests.csv", "interests")[1])
    hidden_tags = set(read_pairs(out / heldout_file("interests"), "interests")[1])
    assert len(hidden_tags) == 2 and not visible_tags & hidden_tags
    # untouched tables are byte-for-byte copies
    for name in ("user_assessment_scores.csv", "course_tags.csv"):
        assert (out / name).read_bytes() == (tiny_raw / name).read_bytes()
    assert json.loads((out / "holdout.json").read_text())["fraction"] == 0.2


def test_holdout_on_generated_data(tmp_path: Path) -> None:
    """Fraction, determinism and nothing lost (masked + held-out = original) on 300 generated users."""
    from datagen.generate import generate

    raw = tmp_path / "raw"
    generate(raw, users=300, seed=5)
    first, again, other = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    summaries = holdout(raw, first, fraction=0.2, seed=9)
    holdout(raw, again, fraction=0.2, seed=9)
    holdout(raw, other, fraction=0.2, seed=10)
    for s in summaries:
        assert 0.17 < s.hidden_share < 0.21  # 0.2 in expectation, a little less: every user keeps one item
    for kind, table in (("interests", "user_interests.csv"), ("courses", "user_course_views.csv")):
        assert (first / table).read_bytes() == (again / table).read_bytes()
        assert (first / table).read_bytes() != (other / table).read_bytes()
        original, masked, hidden = _rows(raw / table), _rows(first / table), _rows(first / heldout_file(kind))
        assert masked + hidden == original
        users_before = set(read_pairs(raw / table, kind)[0])
        assert set(read_pairs(first / table, kind)[0]) == users_before  # nobody lost every item
    assert (first / "truth" / "user_groups.csv").read_bytes() == (raw / "truth" / "user_groups.csv").read_bytes()


def test_holdout_refuses_to_overwrite(tiny_raw: Path, tmp_path: Path) -> None:
    out = tmp_path / "masked"
    holdout(tiny_raw, out)
    with pytest.raises(FileExistsError):
        holdout(tiny_raw, out)
    with pytest.raises(ValueError, match="must differ"):
        holdout(tiny_raw, tiny_raw, force=True)


# -- the command line -------------------------------------------------------------
def test_cli_score_prints_a_table_and_one_json_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "r.db"
    _publish(db, "run-a", {1: [2, 4], 2: [1, 3], 3: [4, 5], 4: [5, 1], 5: [4, 6], 6: [1, 2]})
    truth = tmp_path / "truth.csv"
    _write_csv(truth, ["user_handle", "group_id"], [[str(u), str(g)] for u, g in zip(TRUTH_USERS, TRUTH_GROUPS,
                                                                                       strict=True)])
    assert main(["score", "--sqlite-path", str(db), "--results_table", "ranks", "--truth", str(truth)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[1].startswith("method") and "P@2" in lines[1]
    payload = json.loads(lines[-1])
    assert payload["run_id"] == "run-a" and payload["k"] == 2
    # 0.5 + 1 + 0 + 0.5 + 0.5 + 0 over 6 users
    assert payload["rows"][0]["precision"] == pytest.approx(2.5 / 6, abs=1e-6)
    assert [r["method"] for r in payload["rows"]] == ["ranking ranks", "random users"]


@pytest.mark.parametrize("command", ["holdout", "score", "compare", "tune", "fill-missing", "features"])
def test_cli_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert "usage: python -m evaluation " + command in capsys.readouterr().out


def test_cli_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["score", "--sqlite-path", str(tmp_path / "none.db"), "--truth", str(tmp_path / "t.csv")]) == 1
    assert capsys.readouterr().err.startswith("error: no SQLite file")


def test_fill_missing_then_holdout_on_the_real_sample(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The real sample has two of the four tables: completed with headers, its assessments can be held out."""
    from tests.conftest import require_real_data

    real_data = require_real_data()
    raw = tmp_path / "real"
    assert main(["fill-missing", "--data-dir", str(real_data), "--out", str(raw)]) == 0
    assert (raw / "user_interests.csv").read_text() == "user_handle,interest_tag,date_followed\n"
    assert (raw / "course_tags.csv").read_bytes() == (real_data / "course_tags.csv").read_bytes()
    summary = holdout(raw, tmp_path / "masked", fraction=0.2, seed=11, kinds=["assessments"])[0]
    # 6,571 (user, tag) pairs of 3,114 users; 1,734 users have one assessment and keep it
    assert (summary.pairs, summary.users) == (6571, 3114)
    assert summary.hidden_pairs == 978  # the split behind docs/results/compare_real_seed11
    masked = read_pairs(tmp_path / "masked" / "user_assessment_scores.csv", "assessments")
    assert len(masked[0]) + summary.hidden_pairs == summary.pairs


def test_raw_pairs_follow_the_staging_handle_and_tag_rules() -> None:
    """The evaluation parses raw rows with the staging macros: '+7', '1e3' and 0 are invalid handles, as in staging."""
    from evaluation.items import row_pairs

    raw = pa.table({"user_handle": [" 007 ", "+7", "1e3", "0", "8", "9"],
                    "interest_tag": [" Machine  Learning ", "python", "python", "python", "", "R"],
                    "date_followed": ["2017-01-01"] * 6})
    handles, items, valid = row_pairs(raw, "interests")
    assert [(int(h), str(i)) for h, i, ok in zip(handles, items, valid, strict=True) if ok] == [
        (7, "machine-learning"), (9, "r")]


def test_the_baselines_classic_idf_counts_only_the_users_of_the_signal() -> None:
    from evaluation.idf_baseline import classic_idf

    m = sp.csr_matrix(np.array([[1.0, 2.0], [1.0, 0.0], [0.0, 0.0], [1.0, 0.0]]))  # user 3 has no data
    weighted = classic_idf(m).toarray()
    # n = 3 users with data; feature 0 held by all 3 (idf 0), feature 1 by one (idf ln 3)
    np.testing.assert_allclose(weighted, [[0, 2 * np.log(3)], [0, 0], [0, 0], [0, 0]])
