"""The realistic and sparse settings of ``python -m datagen``: format, determinism and
the properties the harder evaluation relies on (popularity, siblings, course identity,
engagement, thin users)."""
from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from contracts.raw import RAW_TABLES, expected_columns
from datagen.generate import generate
from tests.conftest import PROJECT_DIR

REAL_CATALOGUE = PROJECT_DIR.parent / "shared" / "data" / "real" / "course_tags.csv"
USERS = 3_000


@pytest.fixture(scope="module")
def realistic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("realistic")
    generate(out, users=USERS, seed=11, setting="realistic")
    return out


def _sql(d: Path, query: str) -> list[tuple]:
    con = duckdb.connect()
    for table in RAW_TABLES:
        con.execute(f"create view {table} as select * from read_csv('{d / table}.csv', header=true)")
    con.execute(f"create view truth as select * from read_csv('{d / 'truth' / 'user_groups.csv'}')")
    return con.execute(query).fetchall()


def test_columns_follow_the_source_contract(realistic: Path) -> None:
    for table, columns in expected_columns().items():
        header = (realistic / f"{table}.csv").read_text().splitlines()[0]
        assert [c.strip('"') for c in header.split(",")] == list(columns)


def test_same_inputs_give_identical_files_and_seeds_differ(tmp_path: Path, realistic: Path) -> None:
    generate(tmp_path / "again", users=USERS, seed=11, setting="realistic")
    generate(tmp_path / "other", users=USERS, seed=12, setting="realistic")
    for table in RAW_TABLES:
        same = (realistic / f"{table}.csv").read_bytes()
        assert (tmp_path / "again" / f"{table}.csv").read_bytes() == same
    assert (tmp_path / "other" / "user_interests.csv").read_bytes() != (realistic / "user_interests.csv").read_bytes()


def test_truth_has_families_of_sibling_groups(realistic: Path) -> None:
    (users, groups, families, mixed), = _sql(realistic, """
        select count(*), count(distinct group_id), count(distinct family_id),
               (select count(*) from (select group_id from truth group by 1 having count(distinct family_id) > 1))
        from truth""")
    assert users == USERS
    assert mixed == 0, "a group belongs to exactly one family"
    assert families < groups, "families hold several sibling groups"


def test_popularity_is_shared_across_groups(realistic: Path) -> None:
    """The most popular course is watched by members of most groups (not one group's favourite)."""
    (share_top, groups_top, groups_all), = _sql(realistic, """
        with top as (select course_id from user_course_views group by 1 order by count(distinct user_handle) desc
                     limit 1)
        select count(distinct v.user_handle) / (select count(distinct user_handle) from user_course_views),
               count(distinct t.group_id), (select count(distinct group_id) from truth)
        from user_course_views v join top using (course_id) join truth t using (user_handle)""")
    assert share_top > 0.05
    assert groups_top > 0.5 * groups_all


def test_siblings_share_more_interests_than_strangers(realistic: Path) -> None:
    (sibling, stranger), = _sql(realistic, """
        with per_group as (
            select t.group_id, t.family_id, i.interest_tag, count(*) / any_value(n) as share
            from user_interests i join truth t using (user_handle)
            join (select group_id, count(*) n from truth group by 1) g using (group_id)
            group by 1, 2, 3),
        pairs as (
            select a.family_id = b.family_id as sib, sum(a.share * b.share) as overlap
            from per_group a join per_group b on a.interest_tag = b.interest_tag and a.group_id < b.group_id
            group by a.group_id, b.group_id, sib)
        select avg(overlap) filter (where sib), avg(overlap) filter (where not sib) from pairs""")
    assert sibling > 1.5 * stranger


def test_group_members_share_courses_not_only_tags(realistic: Path) -> None:
    """Course identity: a course is watched far more often within its viewers' groups than at random."""
    (within, expected), = _sql(realistic, """
        with gv as (select t.group_id, v.course_id, count(distinct v.user_handle) n
                    from user_course_views v join truth t using (user_handle) group by 1, 2)
        select max(n), avg(n) from gv""")
    assert within > 10 * expected


def test_on_taste_views_last_longer(realistic: Path) -> None:
    """Engagement: courses popular inside the viewer's group get longer total view time."""
    (own, other), = _sql(realistic, """
        with per_pair as (select user_handle, course_id, sum(view_time_seconds) secs
                          from user_course_views group by 1, 2),
        gv as (select t.group_id, p.course_id, count(*) n from per_pair p join truth t using (user_handle)
               group by 1, 2)
        select median(secs) filter (where gv.n >= 5), median(secs) filter (where gv.n = 1)
        from per_pair p join truth t using (user_handle) join gv on gv.group_id = t.group_id
             and gv.course_id = p.course_id""")
    assert own > 1.5 * other


def test_thin_users_and_users_without_interests(realistic: Path) -> None:
    (no_interest, thin), = _sql(realistic, f"""
        select 1 - count(distinct user_handle) / {USERS},
               avg((n <= 3)::int) from (select user_handle, count(*) n from user_interests group by 1)""")
    assert 0.04 < no_interest < 0.2
    assert thin > 0.05


def test_sparse_setting_is_thinner(tmp_path: Path, realistic: Path) -> None:
    generate(tmp_path / "sparse", users=USERS, seed=11, setting="sparse")
    dense_rows = _sql(realistic, "select count(*) from user_interests")[0][0]
    sparse_rows = _sql(tmp_path / "sparse", "select count(*) from user_interests")[0][0]
    assert sparse_rows < 0.6 * dense_rows


def test_real_catalogue_is_used_as_given(tmp_path: Path) -> None:
    generate(tmp_path / "r", users=500, seed=1, setting="realistic", catalogue=REAL_CATALOGUE)
    (unknown,), = _sql(tmp_path / "r", f"""
        select count(*) from user_course_views
        where course_id not in (select course_id from read_csv('{REAL_CATALOGUE}'))""")
    assert unknown == 0
    assert _sql(tmp_path / "r", "select count(distinct course_id) from course_tags")[0][0] == _sql(
        tmp_path / "r", f"select count(distinct course_id) from read_csv('{REAL_CATALOGUE}')")[0][0]


def test_overrides_are_typed_and_unknown_knobs_refused(tmp_path: Path) -> None:
    generate(tmp_path / "a", users=300, seed=1, setting="realistic", overrides={"no_interest_share": "0.5"})
    (no_interest,), = _sql(tmp_path / "a", "select 1 - count(distinct user_handle) / 300 from user_interests")
    assert no_interest > 0.35
    with pytest.raises(ValueError, match="unknown setting"):
        generate(tmp_path / "b", users=10, seed=1, setting="realistic", overrides={"nope": "1"})
    with pytest.raises(ValueError, match="realistic settings only"):
        generate(tmp_path / "c", users=10, seed=1, overrides={"no_interest_share": "0.5"})
