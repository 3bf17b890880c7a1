"""The realistic generator: the harder setting every quality figure is judged on.

The planted generator shares the first model's assumptions, so it can only
confirm them. This one models what real interaction logs have and what any
similarity model has to survive, without knowing how the model scores:

- **Popularity shared by everyone.** Tags and courses have long-tailed global
  popularity (Zipf over tags, lognormal course appeal), and a large share of
  every user's follows and views come from it, whatever the user's taste.
- **Confusable groups.** Groups come in families of sibling groups that share
  part of their topics and favourite courses; a user belongs to one group,
  and precision counts only that group.
- **Course identity.** Each group has favourite courses; two members watch the
  same courses, not only courses with the same tags.
- **Engagement.** Views of on-taste courses last longer and recur on more days
  than views picked up from popularity.
- **Thin users.** Interaction counts are heavily over-dispersed (many users
  with one to three items), some users follow no tags, some watch nothing.
- **Skill.** Families and groups shift assessment scores a little.

The course catalogue is a ``course_tags`` table: the synthetic one of the
planted generator by default, or a real export (``--catalogue FILE``). Levels,
authors and lengths are drawn per course. Output has the exact format of the
original export; ``truth/user_groups.csv`` has ``user_handle, group_id,
family_id``. Users come in fixed-size chunks with their own random streams, so
memory is bounded and (users, seed, setting, catalogue) gives identical files.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from datagen.sampling import (
    FloatArray,
    IntArray,
    SegmentSampler,
    cum,
    draw,
    gumbel_order,
    nb_counts,
    segment_starts,
    unique_sorted,
    zipf_sizes,
)
from datagen.tables import (
    ASSESSMENTS,
    END_DAY,
    INTERESTS,
    N_DAYS,
    SECONDS_PER_DAY,
    START_DAY,
    VIEWS,
    Chunk,
    dates,
    timestamps,
)

LEVELS = ("Beginner", "Intermediate", "Advanced")
LEVEL_PROBS = (0.45, 0.40, 0.15)
CHUNK_USERS = 50_000  # users per chunk: bounds memory at any N, fixed so output is stable
_STREAM_CATALOGUE, _STREAM_GROUPS, _STREAM_USERS = 10, 11, 12
_WORDS = ("core", "basics", "path", "lab", "club", "pro", "daily", "guild", "circle", "notes", "talks", "hub")


@dataclass(frozen=True)
class Setting:
    """Every knob of the realistic generator; :data:`SETTINGS` holds the named presets."""

    name: str = "realistic"
    # catalogue and global popularity (shared by every group)
    interest_course_tags: int = 620  # interest tags that are also course tags
    interest_only_tags: int = 130  # interest tags no course carries
    assessment_tags: int = 54
    assessment_course_tags: int = 16  # assessment tags that are also course tags (real sample: 16 of 54)
    tag_zipf: float = 1.0  # global tag popularity ~ (rank + offset)^-zipf
    tag_offset: float = 3.0
    course_appeal_sigma: float = 1.1  # lognormal course appeal: a few courses everyone watches
    # groups: families of siblings sharing topics and favourite courses
    mean_group_size: float = 50.0
    group_zipf: float = 0.5
    siblings_min: int = 2
    siblings_max: int = 5
    family_tags: int = 10  # topics every sibling of a family shares
    own_tags: int = 10  # topics of the group alone
    profile_pop_power: float = 0.6  # profiles lean to popular tags, so unrelated groups overlap too
    family_favourites: int = 20  # favourite courses every sibling shares
    own_favourites: int = 20
    group_level_share: float = 0.5  # a taste draw off the group's level is redrawn with this probability
    # interests
    no_interest_share: float = 0.08
    interest_mean: float = 40.0  # draws before de-duplication: ~26 tags per follower
    interest_dispersion: float = 0.8  # negative-binomial shape: small = many thin users
    interest_taste_share: float = 0.5  # rest from global popularity
    family_share: float = 0.5  # of taste draws, from the family's topics (else the group's own)
    # course views
    viewer_share: float = 0.87
    courses_mean: float = 17.0  # draws before de-duplication: ~15 courses per viewer
    courses_dispersion: float = 0.8
    view_taste_share: float = 0.5  # rest from global course popularity
    favourite_share: float = 0.5  # of taste draws, a favourite course (else any course of a topic)
    on_taste_median_s: float = 1_200.0
    off_taste_median_s: float = 300.0
    view_time_sigma: float = 1.0
    on_taste_days_p: float = 0.4  # geometric days per (user, course): mean 2.5 on taste ...
    off_taste_days_p: float = 0.75  # ... 1.3 off taste
    # assessments
    assess_user_share: float = 0.31
    assess_geom_p: float = 0.47
    assess_taste_share: float = 0.5
    family_assessments: int = 3
    family_skill_sd: float = 20.0
    group_skill_sd: float = 10.0
    score_sd: float = 50.0

    def with_overrides(self, overrides: dict[str, str]) -> Setting:
        """A copy with ``field=value`` overrides from the command line, typed like the defaults."""
        known = {f.name: f for f in fields(self)}
        typed: dict[str, object] = {}
        for key, raw in overrides.items():
            if key not in known or key == "name":
                raise ValueError(f"unknown setting {key!r}; known: {', '.join(k for k in known if k != 'name')}")
            typed[key] = type(getattr(self, key))(raw)
        return replace(self, **typed)


SETTINGS: dict[str, Setting] = {
    "realistic": Setting(),
    # thinner users, heavier popularity, closer siblings: the hard end of what real logs look like
    "sparse": Setting(
        name="sparse", tag_zipf=1.15, interest_mean=16.0, interest_dispersion=0.5, no_interest_share=0.25,
        interest_taste_share=0.45, family_share=0.6, viewer_share=0.75, courses_mean=9.0,
        courses_dispersion=0.5, view_taste_share=0.45, course_appeal_sigma=1.3,
    ),
}


@dataclass(frozen=True)
class Catalogue:
    """Courses, the tag vocabulary and global popularity (independent of the users)."""

    course_tag_table: pa.Table
    course_ids: pa.Array  # sorted
    course_level: IntArray
    course_author: IntArray
    course_length: FloatArray
    course_pop_cum: FloatArray  # global course popularity (off-taste views)
    course_appeal: FloatArray
    vocab: pa.Array  # interest vocabulary: course tags first, then interest-only tags
    n_course_tags: int  # vocab[:n_course_tags] carry courses
    tag_pop: FloatArray  # global popularity per vocab tag
    tag_courses: SegmentSampler  # a course of a vocab tag, weighted by appeal
    assessment_names: pa.Array
    assessment_pop: FloatArray


def read_catalogue(path: Path) -> pa.Table:
    """A ``course_tags`` export (course_id, course_tags), as text."""
    opts = pacsv.ConvertOptions(column_types={"course_id": pa.string(), "course_tags": pa.string()},
                                strings_can_be_null=False, include_columns=["course_id", "course_tags"])
    return pacsv.read_csv(path, convert_options=opts)


def _slug_names(rng: np.random.Generator, stems: list[str], n: int, taken: set[str]) -> list[str]:
    """``n`` new slug names built from existing tags, none in ``taken``."""
    out: list[str] = []
    while len(out) < n:
        name = f"{stems[int(rng.integers(len(stems)))]}-{_WORDS[int(rng.integers(len(_WORDS)))]}"
        if name not in taken:
            taken.add(name)
            out.append(name)
    return out


def build_catalogue(course_tags: pa.Table, seed: int, s: Setting) -> Catalogue:
    """Levels, authors, popularity and vocabularies around the given course-tag table."""
    rng = np.random.default_rng([seed, _STREAM_CATALOGUE])
    table = course_tags.sort_by([("course_id", "ascending"), ("course_tags", "ascending")])
    ids = pc.unique(table.column("course_id"))
    n_courses = len(ids)
    row_course = pc.index_in(table.column("course_id"), value_set=ids).to_numpy(zero_copy_only=False)
    tag_text = pc.utf8_trim_whitespace(table.column("course_tags"))
    has_tag = pc.not_equal(tag_text, "").to_numpy(zero_copy_only=False)
    tag_names = pc.unique(pc.filter(tag_text, has_tag)).to_pylist()

    # Popularity rank of course tags follows how many courses carry them, with noise.
    row_tag_all = pc.index_in(tag_text, value_set=pa.array(tag_names)).to_numpy(zero_copy_only=False)
    rc, rt = row_course[has_tag].astype(np.int64), row_tag_all[has_tag].astype(np.int64)
    courses_per_tag = np.bincount(rt, minlength=len(tag_names))
    score = np.log1p(courses_per_tag) + rng.normal(0, 1.0, len(tag_names))
    n_shared = min(s.interest_course_tags, len(tag_names))
    by_score = np.argsort(-score, kind="stable")
    # Interest vocabulary: the most prominent course tags plus tags no course carries.
    shared = by_score[:n_shared]
    taken = set(tag_names)
    extra = _slug_names(rng, [tag_names[i] for i in shared], s.interest_only_tags, taken)
    vocab_names = [tag_names[i] for i in shared] + extra
    n_vocab = len(vocab_names)
    rank = rng.permutation(n_vocab)
    rank[:n_shared] = np.argsort(np.argsort(-score[shared], kind="stable"), kind="stable")  # keep prominence order
    rank[n_shared:] = rng.integers(0, n_vocab, n_vocab - n_shared)
    tag_pop = (rank + s.tag_offset) ** -s.tag_zipf

    # course -> vocab tag rows (only tags in the interest vocabulary drive taste draws)
    vocab_of_tag = np.full(len(tag_names), -1, np.int64)
    vocab_of_tag[shared] = np.arange(n_shared)
    keep = vocab_of_tag[rt] >= 0
    vc, vt = rc[keep], vocab_of_tag[rt[keep]]
    appeal = rng.lognormal(0.0, s.course_appeal_sigma, n_courses)
    tag_courses = SegmentSampler.build(vt, vc, appeal[vc], n_vocab)
    # global course popularity: appeal times how popular its topics are
    topic_pop = np.bincount(vc, weights=tag_pop[vt], minlength=n_courses)
    course_pop = appeal * (topic_pop + tag_pop.min()) ** 0.5

    level = rng.choice(len(LEVELS), size=n_courses, p=LEVEL_PROBS).astype(np.int64)
    authors = np.sort(rng.choice(np.arange(1, 10_000), max(1, n_courses // 3), replace=False))
    author = authors[draw(cum(1.0 / (np.arange(len(authors)) + 3.0) ** 0.8), rng.random(n_courses))]
    length = rng.lognormal(0.0, 0.5, n_courses)

    # Assessments: a few course tags (popular ones) and tags of their own.
    n_ac = min(s.assessment_course_tags, n_shared)
    a_shared = [tag_names[i] for i in shared[:n_ac * 3][rng.permutation(min(n_ac * 3, n_shared))[:n_ac]]]
    a_names = a_shared + _slug_names(rng, a_shared or vocab_names, s.assessment_tags - len(a_shared), taken)
    a_pop = (rng.permutation(len(a_names)) + 2.0) ** -1.0
    return Catalogue(
        course_tag_table=table, course_ids=ids, course_level=level, course_author=author.astype(np.int64),
        course_length=length, course_pop_cum=cum(course_pop), course_appeal=appeal,
        vocab=pa.array(vocab_names, pa.string()), n_course_tags=n_shared, tag_pop=tag_pop,
        tag_courses=tag_courses, assessment_names=pa.array(a_names, pa.string()), assessment_pop=a_pop,
    )


@dataclass(frozen=True)
class Groups:
    """Latent groups in families: topics, favourite courses, level, assessments and skill."""

    user_group: IntArray  # group of user i+1
    family: IntArray  # family of each group
    topics: IntArray  # (groups, family_tags + own_tags) vocab ids, family topics first
    favourites: IntArray  # (groups, family_favourites + own_favourites) course ids
    level: IntArray
    assessments: IntArray  # (families, family_assessments) positions in the assessment tags
    skill: FloatArray  # score offset per group


def _weighted_pick(rng: np.random.Generator, log_w: FloatArray, n: int, exclude: IntArray | None = None) -> IntArray:
    """``n`` distinct columns per row of ``log_w`` without replacement; ``exclude`` columns are never picked."""
    lw = np.array(log_w, dtype=np.float64, copy=True)
    if exclude is not None and exclude.size:
        np.put_along_axis(lw, exclude, -np.inf, axis=1)
    return gumbel_order(rng, lw)[:, :n].astype(np.int64)


def _favourite_courses(rng: np.random.Generator, cat: Catalogue, topics: IntArray, n: int) -> IntArray:
    """``n`` courses per row drawn from the rows' topics (weighted by appeal); repeats are allowed."""
    rows = topics.shape[0]
    t = topics[np.arange(rows)[:, None], rng.integers(0, topics.shape[1], (rows, n))]
    return cat.tag_courses.draw(t.ravel(), rng.random(t.size)).reshape(rows, n)


def build_groups(seed: int, users: int, cat: Catalogue, s: Setting) -> Groups:
    """Assign users to groups and groups to families; draw each family's and group's tastes."""
    rng = np.random.default_rng([seed, _STREAM_GROUPS])
    n_groups = max(1, round(users / s.mean_group_size))
    sizes = rng.permutation(zipf_sizes(users, n_groups, s.group_zipf))
    user_group = rng.permutation(np.repeat(np.arange(n_groups, dtype=np.int64), sizes))
    fam_sizes = []
    while sum(fam_sizes) < n_groups:
        fam_sizes.append(int(rng.integers(s.siblings_min, s.siblings_max + 1)))
    fam_sizes[-1] -= sum(fam_sizes) - n_groups
    family = rng.permutation(np.repeat(np.arange(len(fam_sizes)), fam_sizes)).astype(np.int64)
    n_fam = len(fam_sizes)

    course_tag_log_w = np.log(cat.tag_pop[:cat.n_course_tags]) * s.profile_pop_power
    fam_topics = _weighted_pick(rng, np.broadcast_to(course_tag_log_w, (n_fam, cat.n_course_tags)), s.family_tags)
    own_topics = _weighted_pick(rng, np.broadcast_to(course_tag_log_w, (n_groups, cat.n_course_tags)), s.own_tags,
                                exclude=fam_topics[family])
    topics = np.hstack([fam_topics[family], own_topics])
    fam_fav = _favourite_courses(rng, cat, fam_topics, s.family_favourites)
    own_fav = _favourite_courses(rng, cat, own_topics, s.own_favourites)
    favourites = np.hstack([fam_fav[family], own_fav])
    level = rng.choice(len(LEVELS), size=n_groups, p=LEVEL_PROBS).astype(np.int64)
    a_log_w = np.log(cat.assessment_pop) * s.profile_pop_power
    assessments = _weighted_pick(rng, np.broadcast_to(a_log_w, (n_fam, len(a_log_w))), s.family_assessments)
    skill = rng.normal(0, s.family_skill_sd, n_fam)[family] + rng.normal(0, s.group_skill_sd, n_groups)
    return Groups(user_group, family, topics, favourites, level, assessments, skill)


_TOPIC_DECAY = 0.5  # weight of a topic at position j among its kind ~ (j + 2)^-decay: core vs fringe


def _topic_draws(rng: np.random.Generator, s: Setting, grp: Groups, groups: IntArray) -> IntArray:
    """One topic per entry of ``groups``: a family topic with probability ``family_share``, else an own one."""
    fam = rng.random(len(groups)) < s.family_share
    n_kind = np.where(fam, s.family_tags, s.own_tags)
    pos = np.minimum((rng.random(len(groups)) ** (1 + _TOPIC_DECAY) * n_kind).astype(np.int64), n_kind - 1)
    return grp.topics[groups, np.where(fam, pos, s.family_tags + pos)]


def _interests(rng: np.random.Generator, s: Setting, g: IntArray, signup: IntArray, cat: Catalogue,
               grp: Groups) -> tuple[IntArray, IntArray, IntArray]:
    """(user index, vocab id, follow timestamp) rows for one chunk."""
    n = len(g)
    followers = np.flatnonzero(rng.random(n) >= s.no_interest_share)
    k = nb_counts(rng, len(followers), s.interest_mean, s.interest_dispersion)
    uid = np.repeat(followers, k)
    taste = rng.random(len(uid)) < s.interest_taste_share
    tag = draw(cum(cat.tag_pop), rng.random(len(uid)))
    tag[taste] = _topic_draws(rng, s, grp, g[uid[taste]])
    n_vocab = len(cat.vocab)
    key = unique_sorted(uid * n_vocab + tag)
    uid, tag = key // n_vocab, key % n_vocab
    # follow sessions: the first at sign-up, up to three later; each a block of tags at one timestamp
    n_sess = 1 + draw(cum((0.4, 0.3, 0.2, 0.1)), rng.random(n))
    left = END_DAY - signup + 1
    sess_day = signup[:, None] + (rng.random((n, 4)) * left[:, None]).astype(np.int64)
    sess_day[:, 0] = signup
    sess_ts = sess_day * SECONDS_PER_DAY + rng.integers(0, SECONDS_PER_DAY, (n, 4))
    ts = sess_ts[uid, (rng.random(len(uid)) * n_sess[uid]).astype(np.int64)]
    o = np.lexsort((tag, ts, uid))
    return uid[o], tag[o], ts[o]


def _views(rng: np.random.Generator, s: Setting, g: IntArray, signup: IntArray, cat: Catalogue,
           grp: Groups) -> tuple[IntArray, IntArray, IntArray, IntArray]:
    """(user index, course, epoch day, view seconds) rows for one chunk."""
    n = len(g)
    viewers = np.flatnonzero(rng.random(n) < s.viewer_share)
    uid = np.repeat(viewers, nb_counts(rng, len(viewers), s.courses_mean, s.courses_dispersion))
    taste = rng.random(len(uid)) < s.view_taste_share
    course = draw(cat.course_pop_cum, rng.random(len(uid)))
    tu = uid[taste]
    fav = rng.random(len(tu)) < s.favourite_share
    n_fav = grp.favourites.shape[1]
    picked = grp.favourites[g[tu], (rng.random(len(tu)) ** 1.5 * n_fav).astype(np.int64)]

    def topic_course() -> IntArray:
        return cat.tag_courses.draw(_topic_draws(rng, s, grp, g[tu]), rng.random(len(tu)))

    first, second = topic_course(), topic_course()
    redraw = (cat.course_level[first] != grp.level[g[tu]]) & (rng.random(len(tu)) < s.group_level_share)
    course[taste] = np.where(fav, picked, np.where(redraw, second, first))
    n_courses = len(cat.course_level)
    key = uid * n_courses + course
    # a (user, course) drawn once on taste counts as on taste
    order = np.lexsort((~taste, key))
    key, on = key[order], taste[order]
    first_of = np.concatenate(([True], key[1:] != key[:-1]))
    key, on = key[first_of], on[first_of]
    pu, pc_ = key // n_courses, key % n_courses

    days = np.minimum(rng.geometric(np.where(on, s.on_taste_days_p, s.off_taste_days_p)), 20)
    left = END_DAY - signup[pu] + 1
    delay = rng.exponential(45.0, len(pu)).astype(np.int64)
    start = signup[pu] + np.where(delay < left, delay, (rng.random(len(pu)) * left).astype(np.int64))
    ru, rc, ron = np.repeat(pu, days), np.repeat(pc_, days), np.repeat(on, days)
    step = rng.geometric(0.25, len(ru)).astype(np.int64)
    starts = segment_starts(days)
    step[starts] = 0
    cs = np.cumsum(step)
    day = np.repeat(start, days) + cs - np.repeat(cs[starts], days)
    ok = day <= END_DAY
    ru, rc, ron, day = ru[ok], rc[ok], ron[ok], day[ok]
    median = np.where(ron, s.on_taste_median_s, s.off_taste_median_s) * cat.course_length[rc]
    secs = np.clip(np.rint(median * rng.lognormal(0, s.view_time_sigma, len(ru))), 1, 43_200).astype(np.int64)
    o = np.lexsort((rc, day, ru))
    return ru[o], rc[o], day[o], secs[o]


def _assessments(rng: np.random.Generator, s: Setting, g: IntArray, signup: IntArray, cat: Catalogue,
                 grp: Groups) -> tuple[IntArray, IntArray, IntArray, IntArray]:
    """(user index, assessment position, timestamp, score) rows for one chunk."""
    n = len(g)
    takers = np.flatnonzero(rng.random(n) < s.assess_user_share)
    k = np.minimum(rng.geometric(s.assess_geom_p, len(takers)), 12)
    n_a = len(cat.assessment_pop)
    w = np.broadcast_to((1 - s.assess_taste_share) * cat.assessment_pop / cat.assessment_pop.sum(),
                        (len(takers), n_a)).copy()
    own = grp.assessments[grp.family[g[takers]]]
    rows = np.repeat(np.arange(len(takers)), own.shape[1])
    w[rows, own.ravel()] += s.assess_taste_share / own.shape[1]
    order = gumbel_order(rng, np.log(w))
    take = np.arange(n_a)[None, :] < k[:, None]
    uid = np.broadcast_to(takers[:, None], take.shape)[take]
    a = order[take]
    left = END_DAY - signup[uid] + 1
    day = signup[uid] + (rng.random(len(uid)) * left).astype(np.int64)
    ts = day * SECONDS_PER_DAY + rng.integers(0, SECONDS_PER_DAY, len(uid))
    score = np.clip(np.rint(rng.normal(140.0 + grp.skill[g[uid]], s.score_sd)), 0, 300).astype(np.int64)
    o = np.lexsort((a, ts, uid))
    return uid[o], a[o], ts[o], score[o]


def _chunk(seed: int, s: Setting, chunk: int, lo: int, hi: int, cat: Catalogue, grp: Groups) -> Chunk:
    rng = np.random.default_rng([seed, _STREAM_USERS, chunk])
    g = grp.user_group[lo:hi]
    signup = START_DAY + rng.integers(0, N_DAYS, hi - lo)
    handle = np.arange(lo + 1, hi + 1, dtype=np.int64)
    u, a, ts, score = _assessments(rng, s, g, signup, cat, grp)
    tables = {ASSESSMENTS: pa.table({
        "user_handle": handle[u], "assessment_tag": cat.assessment_names.take(pa.array(a)),
        "user_assessment_date": timestamps(ts), "user_assessment_score": score})}
    u, c, day, secs = _views(rng, s, g, signup, cat, grp)
    tables[VIEWS] = pa.table({
        "user_handle": handle[u], "view_date": dates(day), "course_id": cat.course_ids.take(pa.array(c)),
        "author_handle": cat.course_author[c], "level": pa.array(LEVELS).take(pa.array(cat.course_level[c])),
        "view_time_seconds": secs})
    u, t, ts = _interests(rng, s, g, signup, cat, grp)
    tables[INTERESTS] = pa.table({
        "user_handle": handle[u], "interest_tag": cat.vocab.take(pa.array(t)), "date_followed": timestamps(ts)})
    truth = pa.table({"user_handle": handle, "group_id": g + 1, "family_id": grp.family[g] + 1})
    return tables, truth


def chunks(users: int, seed: int, setting: Setting, course_tags: pa.Table) -> tuple[pa.Table, Iterator[Chunk]]:
    """The course-tag table and a stream of user chunks for :func:`datagen.tables.write_dataset`."""
    cat = build_catalogue(course_tags, seed, setting)
    grp = build_groups(seed, users, cat, setting)

    def stream() -> Iterator[Chunk]:
        for chunk, lo in enumerate(range(0, users, CHUNK_USERS)):
            yield _chunk(seed, setting, chunk, lo, min(lo + CHUNK_USERS, users), cat, grp)

    return cat.course_tag_table, stream()
