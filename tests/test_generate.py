"""Tests for the planted setting of ``python -m datagen``: exact raw format, determinism, the real sample's
statistics at N=10,000, the latent group structure, safe writing and the CLI."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
import scipy.sparse as sp

from datagen import planted
from datagen.generate import generate
from datagen.tables import SCHEMAS
from tests.conftest import PROJECT_DIR as ROOT

N = 10_000
SEED = 42
SMALL_N = 300
TABLES = (
    "user_assessment_scores",
    "course_tags",
    "user_course_views",
    "user_interests",
)
HEADERS = {
    "user_assessment_scores": '"user_handle","assessment_tag","user_assessment_date",'
    '"user_assessment_score"',
    "course_tags": '"course_id","course_tags"',
    "user_course_views": "user_handle,view_date,course_id,author_handle,level,view_time_seconds",
    "user_interests": "user_handle,interest_tag,date_followed",
}
_SLUG = r"[a-z0-9]+(?:-[a-z0-9]+)*"
_TS = r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}"
LINE_RE = {
    "user_assessment_scores": re.compile(rf'^\d+,"{_SLUG}","{_TS}",\d+$'),
    "course_tags": re.compile(rf'^"{_SLUG}-\d+","(?:{_SLUG})?"$'),
    "user_course_views": re.compile(
        rf"^\d+,\d{{4}}-\d{{2}}-\d{{2}},{_SLUG}-\d+,\d+,(?:Beginner|Intermediate|Advanced),\d+$"
    ),
    "user_interests": re.compile(rf"^\d+,{_SLUG},{_TS}$"),
}
FIRST_DAY, LAST_DAY = "2016-07-13", "2017-11-28"


def _files(d: Path, fmt: str = "csv") -> list[Path]:
    """Every generated file, truth included."""
    return [d / f"{t}.{fmt}" for t in TABLES] + [d / "truth" / "user_groups.csv"]


def _read_csv(d: Path, table: str) -> pa.Table:
    """Read one table with the generator's column types (dates stay strings)."""
    schema = SCHEMAS[table]
    opts = pacsv.ConvertOptions(
        column_types=dict(zip(schema.names, schema.types, strict=True)),
        strings_can_be_null=False,
    )
    return pacsv.read_csv(d / f"{table}.csv", convert_options=opts)


def within(value: float, target: float, tol: float = 0.10) -> bool:
    """True when value is within +-tol (relative) of target."""
    return abs(value - target) <= tol * target


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small CSV data set for format checks."""
    out = tmp_path_factory.mktemp("small") / "raw"
    generate(out, users=SMALL_N, seed=7)
    return out


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    """The N=10,000 data set the statistics are checked on (generated once)."""
    out = tmp_path_factory.mktemp("big") / "raw"
    counts = generate(out, users=N, seed=SEED)
    return out, counts


@pytest.fixture(scope="module")
def con(big: tuple[Path, dict[str, int]]) -> duckdb.DuckDBPyConnection:
    """DuckDB connection with the four tables (a, ct, v, i) and truth (t) registered."""
    d, _ = big
    c = duckdb.connect()
    for alias, table in (
        ("a", "user_assessment_scores"),
        ("ct", "course_tags"),
        ("v", "user_course_views"),
        ("i", "user_interests"),
    ):
        c.register(alias, _read_csv(d, table))
    c.register("t", pacsv.read_csv(d / "truth" / "user_groups.csv"))
    return c


def one(c: duckdb.DuckDBPyConnection, sql: str) -> tuple:
    """The single result row of a query."""
    rows = c.sql(sql).fetchall()
    assert len(rows) == 1
    return rows[0]


# ---------------------------------------------------------------- format
def test_headers_and_quoting_exact(small: Path) -> None:
    for table in TABLES:
        lines = (small / f"{table}.csv").read_text().split("\n")
        assert lines[0] == HEADERS[table]
        assert lines[-1] == "", "file must end with a newline"
        body = lines[1:-1]
        assert body, table
        bad = [ln for ln in body if not LINE_RE[table].match(ln)]
        assert not bad, f"{table}: {bad[:3]}"
    truth = (small / "truth" / "user_groups.csv").read_text().splitlines()
    assert truth[0] == "user_handle,group_id"
    assert all(re.fullmatch(r"\d+,\d+", ln) for ln in truth[1:])


def test_empty_tag_written_as_quoted_empty_string(
    big: tuple[Path, dict[str, int]],
) -> None:
    d, _ = big
    lines = (d / "course_tags.csv").read_text().splitlines()
    assert any(ln.endswith(',""') for ln in lines)


def test_parquet_same_columns_types_and_values(tmp_path: Path, small: Path) -> None:
    out = tmp_path / "pq"
    counts = generate(out, users=SMALL_N, seed=7, fmt="parquet")
    for table in TABLES:
        got = pq.read_table(out / f"{table}.parquet")
        assert got.schema.names == SCHEMAS[table].names
        assert got.schema.types == SCHEMAS[table].types
        assert got.num_rows == counts[table]
        # Same rows as the CSV of the same (N, seed): downstream typing is identical.
        assert got.equals(_read_csv(small, table))
    assert (out / "truth" / "user_groups.csv").exists()
    assert not list(out.glob("*.csv"))


# ---------------------------------------------------------------- determinism
def test_same_seed_byte_identical_other_seed_differs(tmp_path: Path, small: Path) -> None:
    again = tmp_path / "again"
    generate(again, users=SMALL_N, seed=7)
    for a, b in zip(_files(small), _files(again), strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
    other = tmp_path / "other"
    generate(other, users=SMALL_N, seed=8)
    for a, b in zip(_files(small), _files(other), strict=True):
        assert a.read_bytes() != b.read_bytes(), a.name


def test_multi_chunk_runs_are_deterministic_and_ordered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(planted, "CHUNK_USERS", 70)  # force several chunks
    a, b = tmp_path / "a", tmp_path / "b"
    generate(a, users=250, seed=3)
    generate(b, users=250, seed=3)
    for fa, fb in zip(_files(a), _files(b), strict=True):
        assert fa.read_bytes() == fb.read_bytes()
    for table in ("user_assessment_scores", "user_course_views", "user_interests"):
        handles = _read_csv(a, table)["user_handle"].to_numpy()
        assert np.all(np.diff(handles) >= 0), table
    truth = pacsv.read_csv(a / "truth" / "user_groups.csv")["user_handle"].to_numpy()
    assert truth.tolist() == list(range(1, 251))


def test_catalogue_independent_of_users(tmp_path: Path, small: Path) -> None:
    out = tmp_path / "more"
    generate(out, users=SMALL_N * 2, seed=7)
    assert (out / "course_tags.csv").read_bytes() == (small / "course_tags.csv").read_bytes()


# ---------------------------------------------------------------- statistics at N=10,000
def test_row_counts_match_returned_counts(big: tuple[Path, dict[str, int]]) -> None:
    d, counts = big
    for table in TABLES:
        lines = (d / f"{table}.csv").read_bytes().count(b"\n") - 1
        assert lines == counts[table], table


def test_interest_statistics(con: duckdb.DuckDBPyConnection) -> None:
    rows, users, tags, min_u, max_u = one(
        con,
        "select count(*), count(distinct user_handle), count(distinct interest_tag), "
        "min(user_handle), max(user_handle) from i",
    )
    assert within(rows, 297_500)
    assert users == N and (min_u, max_u) == (1, N), "every user follows >= 1 tag"
    assert within(tags, 750)
    dup = one(con, "select count(*) - count(distinct (user_handle, interest_tag)) from i")[0]
    assert dup == 0
    # Follow sessions: 1-4 timestamps per user, most users follow a block at once.
    lo, hi = one(
        con,
        "select min(c), max(c) from (select count(distinct date_followed) c from i group by user_handle)",
    )
    assert (lo, hi) == (1, 4)
    block = one(
        con,
        "select avg(b::int) from (select user_handle, max(c) >= 2 b from "
        "(select user_handle, date_followed, count(*) c from i group by all) group by 1)",
    )[0]
    assert block > 0.8


def test_view_statistics(con: duckdb.DuckDBPyConnection) -> None:
    rows, viewers, courses = one(
        con,
        "select count(*), count(distinct user_handle), count(distinct course_id) from v",
    )
    assert within(rows, 249_000)
    assert 0.84 <= viewers / N <= 0.90
    assert within(rows / viewers, 28.5)
    assert within(courses, 5_900, 0.05) and courses <= planted.N_COURSES
    dup = one(
        con,
        "select count(*) - count(distinct (user_handle, course_id, view_date)) from v",
    )[0]
    assert dup == 0, "one row per (user, course, day)"
    repeat = one(
        con,
        "select avg((c > 1)::int) from (select count(*) c from v group by user_handle, course_id)",
    )[0]
    assert 0.2 < repeat < 0.8, "users often view a course on several days"
    levels = {r[0] for r in con.sql("select distinct level from v").fetchall()}
    assert levels == {"Beginner", "Intermediate", "Advanced"}
    varying = one(
        con,
        "select count(*) from (select course_id from v group by 1 "
        "having count(distinct level) > 1 or count(distinct author_handle) > 1)",
    )[0]
    assert varying == 0, "level and author are fixed per course"
    missing = one(con, "select count(distinct course_id) from v anti join ct using (course_id)")[0]
    assert missing == 0


def test_view_time_is_positive_and_right_skewed(con: duckdb.DuckDBPyConnection) -> None:
    lo, med, mean, hi = one(
        con,
        "select min(view_time_seconds), median(view_time_seconds), "
        "avg(view_time_seconds), max(view_time_seconds) from v",
    )
    assert lo >= 1
    assert 200 <= med <= 1_500
    assert mean > 1.5 * med
    assert hi >= 10_000


def test_assessment_statistics(con: duckdb.DuckDBPyConnection) -> None:
    rows, users, tags, mean, sd, lo, hi = one(
        con,
        "select count(*), count(distinct user_handle), count(distinct assessment_tag), "
        "avg(user_assessment_score), stddev_pop(user_assessment_score), "
        "min(user_assessment_score), max(user_assessment_score) from a",
    )
    assert within(rows, 6_570)
    assert within(users, 3_110)
    assert tags == 54
    assert 130 <= mean <= 150
    assert 50 <= sd <= 65
    assert 0 <= lo and hi <= 300
    dup = one(con, "select count(*) - count(distinct (user_handle, assessment_tag)) from a")[0]
    assert dup == 0, "each tag at most once per user"
    single, most = one(
        con,
        "select avg((c = 1)::int), max(c) from (select count(*) c from a group by user_handle)",
    )
    assert 0.35 <= single <= 0.65, "many users take one assessment"
    assert 6 <= most <= 12, "geometric tail up to ~12"


def test_course_tag_statistics(con: duckdb.DuckDBPyConnection) -> None:
    rows, courses, tags, empty = one(
        con,
        "select count(*), count(distinct course_id), "
        "count(distinct course_tags) filter (where course_tags <> ''), "
        "count(*) filter (where course_tags = '') from ct",
    )
    assert within(rows, 11_300)
    assert within(courses, 5_942, 0.01)
    assert within(tags, 1_000)
    assert 0.005 <= empty / rows <= 0.015
    assert one(con, "select count(*) - count(distinct (course_id, course_tags)) from ct")[0] == 0
    single, most = one(
        con,
        "select avg((c = 1)::int), max(c) from (select count(*) c from ct group by course_id)",
    )
    assert 0.4 <= single <= 0.6
    assert 8 <= most <= 15


def test_dates_in_range(con: duckdb.DuckDBPyConnection) -> None:
    for table, col in (
        ("a", "user_assessment_date"),
        ("i", "date_followed"),
        ("v", "view_date"),
    ):
        lo, hi = one(con, f"select min({col}), max({col}) from {table}")
        assert lo[:10] >= FIRST_DAY and hi[:10] <= LAST_DAY, table
    # The strings parse as real dates/timestamps.
    one(con, "select max(strptime(user_assessment_date, '%Y-%m-%d %H:%M:%S')) from a")
    one(con, "select max(strptime(date_followed, '%Y-%m-%d %H:%M:%S')) from i")
    one(con, "select max(view_date::date) from v")


def test_vocabularies_are_shared(con: duckdb.DuckDBPyConnection) -> None:
    interest_in_course = one(
        con,
        "select avg((interest_tag in (select course_tags from ct))::int) "
        "from (select distinct interest_tag from i)",
    )[0]
    assert interest_in_course > 0.6, "interest and course tags share most of one vocabulary"
    for other in ("select interest_tag from i", "select course_tags from ct"):
        n = one(
            con,
            f"select count(distinct assessment_tag) from a where assessment_tag in ({other})",
        )[0]
        assert n == 54


# ---------------------------------------------------------------- latent structure
def test_truth_covers_every_user_once(con: duckdb.DuckDBPyConnection) -> None:
    rows, users, lo, hi, groups = one(
        con,
        "select count(*), count(distinct user_handle), min(user_handle), max(user_handle), "
        "count(distinct group_id) from t",
    )
    assert (rows, users, lo, hi) == (N, N, 1, N)
    assert within(groups, N / 50)
    smallest, largest = one(
        con, "select min(c), max(c) from (select count(*) c from t group by group_id)"
    )
    assert 10 <= smallest <= 40 and largest >= 5 * smallest, "group sizes vary"


def _pair_overlap(
    con: duckdb.DuckDBPyConnection, sql: str, seed: int = 0, pairs: int = 20_000
) -> tuple[float, float]:
    """Mean Jaccard of item sets for random same-group and different-group user pairs."""
    users, items = (np.asarray(x) for x in zip(*con.sql(sql).fetchall(), strict=True))
    _, item_idx = np.unique(items, return_inverse=True)
    x = sp.csr_matrix((np.ones(len(users)), (users - 1, item_idx)), shape=(N, item_idx.max() + 1))
    x.data[:] = 1.0
    group = (
        con.sql("select group_id from t order by user_handle").fetchnumpy()["group_id"].astype(int)
    )
    active = np.flatnonzero(np.asarray(x.sum(axis=1)).ravel() > 0)
    rng = np.random.default_rng(seed)
    a = rng.choice(active, pairs)
    # Same group: a random other active member of a's group.
    order = active[np.argsort(group[active], kind="stable")]
    g_sorted = group[order]
    start = np.searchsorted(g_sorted, group[a], side="left")
    size = np.searchsorted(g_sorted, group[a], side="right") - start
    b_same = order[start + (rng.random(pairs) * size).astype(int)]
    b_any = rng.choice(active, pairs)

    def jaccard(u: np.ndarray, w: np.ndarray) -> np.ndarray:
        inter = np.asarray(x[u].multiply(x[w]).sum(axis=1)).ravel()
        union = np.asarray(x[u].sum(axis=1)).ravel() + np.asarray(x[w].sum(axis=1)).ravel() - inter
        return inter / union

    keep_same = b_same != a
    keep_diff = group[b_any] != group[a]
    return (
        float(jaccard(a[keep_same], b_same[keep_same]).mean()),
        float(jaccard(a[keep_diff], b_any[keep_diff]).mean()),
    )


def test_same_group_users_share_more_interests(con: duckdb.DuckDBPyConnection) -> None:
    same, diff = _pair_overlap(con, "select user_handle, interest_tag from i")
    assert same > 2 * diff
    assert same < 0.5, "signal must stay noisy, not a perfect partition"


def test_same_group_users_share_more_courses(con: duckdb.DuckDBPyConnection) -> None:
    same, diff = _pair_overlap(con, "select distinct user_handle, course_id from v")
    assert same > 1.5 * diff
    assert same < 0.5


def test_group_shows_in_assessments(con: duckdb.DuckDBPyConnection) -> None:
    same, diff = _pair_overlap(con, "select user_handle, assessment_tag from a")
    assert same > 1.3 * diff
    # Skill: group mean scores spread more than the individual noise alone explains.
    g_mean, g_n = (
        con.sql(
            "select avg(user_assessment_score) m, count(*) n from a join t using (user_handle) "
            "group by group_id having count(*) >= 20"
        )
        .fetchnumpy()
        .values()
    )
    noise_var = np.mean(planted.SCORE_SD**2 / g_n)
    assert np.var(g_mean) > 2 * noise_var


# ---------------------------------------------------------------- safe writing and CLI
def test_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    out = tmp_path / "raw"
    generate(out, users=50, seed=1)
    before = (out / "user_interests.csv").read_bytes()
    with pytest.raises(FileExistsError, match="--force"):
        generate(out, users=50, seed=2)
    assert (out / "user_interests.csv").read_bytes() == before
    generate(out, users=50, seed=2, force=True)
    assert (out / "user_interests.csv").read_bytes() != before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["raw"], "no temp folder left"


def test_force_keeps_unrelated_files_and_drops_other_format(tmp_path: Path) -> None:
    out = tmp_path / "raw"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    generate(out, users=50, seed=1)  # no tables yet: no --force needed
    generate(out, users=50, seed=1, fmt="parquet", force=True)
    assert (out / "notes.txt").read_text() == "keep me"
    assert all(p.exists() for p in _files(out, "parquet"))
    assert not list(out.glob("*.csv"))


def test_interrupted_run_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = planted._chunk_tables
    calls = []

    def failing(*args: object, **kwargs: object) -> dict[str, pa.Table]:
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(planted, "CHUNK_USERS", 40)
    monkeypatch.setattr(planted, "_chunk_tables", failing)
    with pytest.raises(KeyboardInterrupt):
        generate(tmp_path / "raw", users=100, seed=1)
    assert list(tmp_path.iterdir()) == []


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the generator as a module from the repo root."""
    return subprocess.run(
        [sys.executable, "-m", "datagen", *args],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "cli"
    res = _cli("--users", "200", "--seed", "5", "--out", str(out))
    assert res.returncode == 0, res.stderr
    for table in TABLES:
        assert table in res.stdout
    assert re.search(r"in \d+\.\d+ s", res.stdout)
    assert all(p.exists() for p in _files(out))
    expected = generate(tmp_path / "api", users=200, seed=5)
    assert (out / "user_interests.csv").read_bytes() == (
        tmp_path / "api" / "user_interests.csv"
    ).read_bytes()
    assert f"user_interests: {expected['user_interests']:,} rows" in res.stdout

    again = _cli("--users", "200", "--seed", "5", "--out", str(out))
    assert again.returncode == 2
    assert "--force" in again.stderr
    forced = _cli(
        "--users",
        "200",
        "--seed",
        "6",
        "--out",
        str(out),
        "--force",
        "--format",
        "parquet",
    )
    assert forced.returncode == 0, forced.stderr
    assert all(p.exists() for p in _files(out, "parquet"))


def test_cli_help_documents_flags() -> None:
    res = _cli("--help")
    assert res.returncode == 0
    for flag in ("--users", "--seed", "--out", "--format", "--force"):
        assert flag in res.stdout
