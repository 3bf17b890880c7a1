"""The planted-group generator: the project's first, easy setting.

Users are drawn from latent groups with a shared topic profile; the profile
leaks, with noise, into interests, course views and assessments. The course
catalogue and tag vocabularies model the platform, so their size is fixed and
depends on the seed only; users are generated in fixed-size chunks, each with
its own random stream, so memory stays bounded at any ``--users`` and the same
(users, seed) always gives byte-identical files.

This setting shares the first model's assumptions (every group draws its own
profile; popularity is mild; view time says nothing about taste), so it cannot
tell a better model from one tuned to it. :mod:`datagen.realistic` is the
harder setting quality is judged on.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

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
    COURSE_TAGS,
    END_DAY,
    INTERESTS,
    N_DAYS,
    SCHEMAS,
    SECONDS_PER_DAY,
    START_DAY,
    VIEWS,
    Chunk,
    dates,
    timestamps,
)

# --------------------------------------------------------------------------
# Platform catalogue (fixed size whatever --users is; seed-dependent content).
# --------------------------------------------------------------------------
N_SHARED_TAGS = 620  # tags usable both as interests and course tags ("most of one vocabulary")
N_INTEREST_TAGS = 750  # real sample: ~750 distinct interest tags
N_COURSE_TAGS = 1_000  # real sample: ~1,000 distinct course tags
N_ASSESSMENT_TAGS = 54  # real sample: exactly 54 assessment tags, all from the shared tags
N_COURSES = 5_942  # real sample: 5,942 courses in course_tags
N_AUTHORS = 1_750  # authors own several courses each; handles are integers
AUTHOR_HANDLE_MAX = 9_999  # author handles are sampled from 1..this
MAX_COURSE_TAGS = 15  # longest tag list on one course in the real sample
COURSE_TAGS_GEOM_P = 0.521  # P(1 tag) ~ half; gives ~1.9 tags per course (~11,300 rows)
EMPTY_TAG_COURSE_SHARE = 0.019  # ~112 courses carry a single "" tag (~1% of rows)
LEVELS = ("Beginner", "Intermediate", "Advanced")
LEVEL_PROBS = (0.45, 0.40, 0.15)  # beginner material dominates a learning catalogue
TAG_POP_OFFSET = 10.0  # popularity ~ 1/(rank+offset): skewed, but every tag still used
COURSE_POP_SIGMA = 0.6  # lognormal course appeal: popular courses exist, yet ~99% get viewed
COURSE_LENGTH_SIGMA = 0.5  # per-course length factor on view time (long courses watched longer)

# --------------------------------------------------------------------------
# Latent groups.
# --------------------------------------------------------------------------
MEAN_GROUP_SIZE = 50  # ~N/50 groups
GROUP_ZIPF_EXPONENT = 0.5  # size ~ rank^-0.5: at N=10k largest ~350, smallest ~25 users
PROFILE_TAGS = 30  # topic profile size per group (small vs 750 interest tags)
PROFILE_ASSESSMENT_TAGS = 3  # profile tags that are assessment tags (topic shows in assessments)
PROFILE_POP_POWER = 0.5  # profiles lean to popular tags, so groups overlap (no clean partition)
PROFILE_POS_DECAY = 0.7  # weight of profile position j ~ (j+2)^-decay: core vs fringe topics
SKILL_OFFSET_SD = 20.0  # group skill shifts scores ...
SKILL_OFFSET_MAX = 30.0  # ... by at most +-30 points, so skill is a weak, noisy signal

# --------------------------------------------------------------------------
# Per-user behaviour (calibrated to the real sample at N=10,000).
# --------------------------------------------------------------------------
INTEREST_MEAN_DRAWS = 32.3  # tags drawn per user before dedup -> ~29.75 rows per user
INTEREST_NB_R = 1.5  # negative-binomial shape: many light followers, a few heavy ones
INTEREST_GROUP_SHARE = 0.55  # share of a user's interest draws taken from the group profile
# 1-4 follow sessions per user, each one timestamp shared by a block of tags.
FOLLOW_SESSION_PROBS = (0.4, 0.3, 0.2, 0.1)

VIEWER_SHARE = 0.87  # real sample: ~87% of users have course views
VIEW_COURSES_MEAN = 15.2  # distinct-course draws per viewer before dedup
VIEW_NB_R = 1.2  # dispersion of courses per viewer
VIEW_GROUP_SHARE = 0.55  # share of course draws from courses tagged with the group's topics
LEVEL_REDRAW_PROB = 0.5  # group draw off the group's level is redrawn once with this prob.
VIEW_DAYS_GEOM_P = 0.5  # days a (user, course) is viewed: geometric, mean 2
VIEW_DAYS_MAX = 20  # cap on days per (user, course)
VIEW_START_MEAN_DAYS = 45.0  # first view of a course: exponential delay after sign-up
# (a delay past the end date is redrawn uniformly, so late sign-ups still view)
VIEW_GAP_GEOM_P = 0.25  # gap between repeat views: geometric days, mean 4
VIEW_TIME_MEDIAN_S = 600.0  # median view time; lognormal gives the heavy right tail
VIEW_TIME_SIGMA = 1.1  # user-day noise of view time (mean ~1.9x median)
VIEW_TIME_MAX_S = 43_200  # 12 h: the lognormal tail beyond this is not a plausible day

ASSESS_USER_SHARE = 0.311  # real sample: ~3,110 of 10,000 users took assessments
ASSESS_GEOM_P = 0.473  # assessments per taker: geometric, mean ~2.11
ASSESS_MAX = 12  # most assessments by one user
ASSESS_GROUP_SHARE = 0.55  # pull of the group's assessment tags vs global popularity
SCORE_MEAN = 140.0  # real sample: scores ~N(140, 60) ...
SCORE_SD = 54.0  # ... individual noise; with group offsets total sd ~57
SCORE_MIN, SCORE_MAX = 0, 300  # observed score range

CHUNK_USERS = 50_000  # users per chunk: bounds memory at any N, fixed so output is stable

# Stream ids for np.random.default_rng([seed, stream, ...]).
_STREAM_CATALOGUE, _STREAM_GROUPS, _STREAM_USERS = 0, 1, 2

# fmt: off
_WORDS = (
    "python", "java", "javascript", "angular", "react", "node", "vue", "ruby", "rails",
    "php", "go", "rust", "swift", "kotlin", "scala", "haskell", "clojure", "elixir",
    "erlang", "perl", "bash", "powershell", "sql", "mysql", "postgresql", "oracle",
    "mongodb", "redis", "cassandra", "hadoop", "spark", "kafka", "docker", "kubernetes",
    "aws", "azure", "gcp", "linux", "windows", "unix", "git", "jenkins", "ansible",
    "puppet", "chef", "terraform", "devops", "security", "network", "cisco", "ccna",
    "firewall", "ethical", "hacking", "penetration", "testing", "forensics", "cloud",
    "data", "science", "machine", "learning", "deep", "neural", "statistics",
    "analytics", "visualization", "tableau", "excel", "powerbi", "r", "matlab",
    "pandas", "numpy", "tensorflow", "pytorch", "nlp", "vision", "web", "design", "css",
    "html", "bootstrap", "sass", "typescript", "jquery", "ajax", "rest", "api",
    "graphql", "microservices", "mvc", "asp", "net", "csharp", "dotnet", "entity",
    "framework", "wpf", "xamarin", "android", "ios", "mobile", "unity", "unreal",
    "game", "art", "animation", "maya", "blender", "modeling", "rigging", "texturing",
    "lighting", "rendering", "compositing", "nuke", "houdini", "zbrush", "sculpting",
    "photoshop", "illustrator", "indesign", "after", "effects", "premiere", "video",
    "audio", "music", "photography", "drawing", "painting", "cad", "autocad", "revit",
    "solidworks", "inventor", "catia", "architecture", "engineering", "electrical",
    "mechanical", "civil", "bim", "project", "management", "agile", "scrum", "kanban",
    "leadership", "business", "intelligence", "salesforce", "sharepoint", "office",
    "outlook", "word", "vmware", "virtualization", "storage", "backup", "exchange",
    "active", "directory", "server", "administration", "scripting", "automation",
    "selenium", "cucumber", "junit", "tdd", "algorithms", "structures", "patterns",
    "architecture-patterns", "functional", "reactive", "concurrency", "embedded", "iot",
    "arduino", "raspberry", "blockchain", "crypto", "fundamentals", "advanced", "intro",
    "essentials", "mastering", "building", "deploying", "optimizing", "troubleshooting",
)
_COURSE_WORDS = (
    "fundamentals", "intro", "getting", "started", "essentials", "advanced",
    "mastering", "building", "deploying", "beginners", "guide", "deep", "dive", "best",
    "practices", "workshop", "projects", "techniques", "tips", "tricks", "foundations",
    "path", "hands", "on", "volume", "part", "playbook", "recipes",
)
# fmt: on


# --------------------------------------------------------------------------
# Catalogue and groups.
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class Catalogue:
    """The platform: vocabulary, courses and their tags (independent of --users)."""

    vocab: pa.Array  # tag names; 0..shared-1 shared, then interest-only, then course-only
    tag_weight: FloatArray  # global popularity per vocab tag
    interest_tags: IntArray  # vocab ids usable as interests
    interest_cum: FloatArray  # global interest popularity over interest_tags
    assessment_tags: IntArray  # the 54 vocab ids used as assessments
    assessment_log_w: FloatArray  # log global popularity of each assessment tag
    course_ids: pa.Array  # sorted course ids
    course_level: IntArray  # index into LEVELS
    course_author: IntArray  # author handle
    course_length: FloatArray  # multiplicative view-time factor
    course_cum: FloatArray  # global course popularity
    tag_courses: SegmentSampler  # a course among a tag's courses, weighted by appeal
    course_tag_table: pa.Table  # the course_tags table


def _make_vocab(rng: np.random.Generator, n: int) -> list[str]:
    """Unique slug-like tag names built from the word list (one loop per tag, fixed n)."""
    words = sorted(set(_WORDS))
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < n:
        kind = rng.random()
        if kind < 0.18:
            name = str(rng.choice(words))
        elif kind < 0.85:
            a, b = rng.choice(words, size=2, replace=False)
            name = f"{a}-{b}"
        else:
            a, b = rng.choice(words, size=2, replace=False)
            name = f"{a}-{b}-{int(rng.integers(2, 6))}"
        if name not in seen:
            seen.add(name)
            out.append(name)
    return out


def _make_course_ids(rng: np.random.Generator, vocab: list[str], n: int) -> list[str]:
    """Slug course ids with a unique numeric suffix, e.g. 'python-fundamentals-1042'."""
    suffixes = rng.choice(np.arange(1_000, 10_000), size=n, replace=False)
    ids = []
    for i in range(n):
        stem = vocab[int(rng.integers(len(vocab)))]
        extra = rng.choice(_COURSE_WORDS, size=int(rng.integers(0, 3)), replace=False)
        ids.append("-".join([stem, *map(str, extra), str(int(suffixes[i]))]))
    return ids


def build_catalogue(seed: int) -> Catalogue:
    """Vocabulary, courses, authors, levels and course tags for ``seed``."""
    rng = np.random.default_rng([seed, _STREAM_CATALOGUE])
    n_vocab = N_INTEREST_TAGS + N_COURSE_TAGS - N_SHARED_TAGS
    names = _make_vocab(rng, n_vocab)
    vocab_np = np.array(names, dtype=object)

    # One popularity ranking for the whole vocabulary, shared by both uses.
    rank = rng.permutation(n_vocab)
    tag_weight = 1.0 / (rank + TAG_POP_OFFSET)
    interest_tags = np.arange(N_INTEREST_TAGS, dtype=np.int64)
    course_support = np.concatenate(
        (np.arange(N_SHARED_TAGS), np.arange(N_INTEREST_TAGS, n_vocab))
    ).astype(np.int64)

    # Assessment tags: shared tags, leaning to popular ones.
    w_shared = tag_weight[:N_SHARED_TAGS]
    assess = np.sort(
        gumbel_order(rng, np.log(w_shared)[None, :] * PROFILE_POP_POWER)[0, :N_ASSESSMENT_TAGS]
    ).astype(np.int64)

    # Courses, sorted by id so course_tags comes out in id order.
    course_names = sorted(_make_course_ids(rng, names, N_COURSES))
    level = rng.choice(len(LEVELS), size=N_COURSES, p=LEVEL_PROBS).astype(np.int64)
    author_pool = np.sort(rng.choice(np.arange(1, AUTHOR_HANDLE_MAX + 1), N_AUTHORS, replace=False))
    author_w = 1.0 / (np.arange(N_AUTHORS) + 3.0) ** 0.8  # a few prolific authors
    author = author_pool[rng.permutation(N_AUTHORS)][draw(cum(author_w), rng.random(N_COURSES))]
    appeal = rng.lognormal(0.0, COURSE_POP_SIGMA, N_COURSES)
    length = rng.lognormal(0.0, COURSE_LENGTH_SIGMA, N_COURSES)

    # Tags per course: geometric count; a few courses have only the empty tag.
    n_tags = np.minimum(rng.geometric(COURSE_TAGS_GEOM_P, N_COURSES), MAX_COURSE_TAGS)
    empty = rng.random(N_COURSES) < EMPTY_TAG_COURSE_SHARE
    tagged = np.flatnonzero(~empty)
    # Every course-support tag is the primary tag of at least one course.
    w_course = tag_weight[course_support]
    primary = course_support[draw(cum(w_course), rng.random(len(tagged)))]
    primary[rng.permutation(len(tagged))[: len(course_support)]] = course_support
    log_w = np.broadcast_to(np.log(w_course), (len(tagged), len(course_support))).copy()
    pos_of = np.full(n_vocab, -1, dtype=np.int64)
    pos_of[course_support] = np.arange(len(course_support))
    log_w[np.arange(len(tagged)), pos_of[primary]] = np.inf
    keys = log_w + rng.gumbel(size=log_w.shape)
    top = np.argpartition(-keys, MAX_COURSE_TAGS, axis=1)[:, :MAX_COURSE_TAGS]
    top = np.take_along_axis(top, np.argsort(-np.take_along_axis(keys, top, 1), axis=1), 1)
    keep = np.arange(MAX_COURSE_TAGS)[None, :] < n_tags[tagged][:, None]
    row_course = np.broadcast_to(tagged[:, None], top.shape)[keep]
    row_tag = course_support[top[keep]]

    # course_tags table: by course id, then tag name; empty-tag courses get "".
    all_course = np.concatenate((row_course, np.flatnonzero(empty)))
    all_tag = np.concatenate((row_tag, np.full(int(empty.sum()), -1)))
    tag_names = np.where(all_tag >= 0, vocab_np[np.maximum(all_tag, 0)], "")
    order = np.lexsort((tag_names.astype(str), all_course))
    course_ids = pa.array(course_names, pa.string())
    course_tag_table = pa.table(
        {
            "course_id": course_ids.take(pa.array(all_course[order])),
            "course_tags": pa.array(tag_names[order].tolist(), pa.string()),
        },
        schema=SCHEMAS[COURSE_TAGS],
    )

    # Per-tag course sampler: segment per tag, weight by course appeal.
    tag_courses = SegmentSampler.build(row_tag, row_course, appeal[row_course], n_vocab)

    return Catalogue(
        vocab=pa.array(names, pa.string()),
        tag_weight=tag_weight,
        interest_tags=interest_tags,
        interest_cum=cum(tag_weight[interest_tags]),
        assessment_tags=assess,
        assessment_log_w=np.log(tag_weight[assess] / tag_weight[assess].sum()),
        course_ids=course_ids,
        course_level=level,
        course_author=author.astype(np.int64),
        course_length=length,
        course_cum=cum(appeal),
        tag_courses=tag_courses,
        course_tag_table=course_tag_table,
    )


@dataclass(frozen=True)
class Groups:
    """Latent user groups: membership, topic profiles, level and skill."""

    user_group: IntArray  # group index (0-based) for user i+1
    profile: IntArray  # (groups, PROFILE_TAGS) vocab ids
    assess: IntArray  # (groups, PROFILE_ASSESSMENT_TAGS) positions in assessment_tags
    level: IntArray  # preferred level per group
    skill: FloatArray  # score offset per group


def group_sizes(users: int) -> IntArray:
    """Zipf-like group sizes summing to ``users``."""
    return zipf_sizes(users, max(1, round(users / MEAN_GROUP_SIZE)), GROUP_ZIPF_EXPONENT)


def build_groups(seed: int, users: int, cat: Catalogue) -> Groups:
    """Assign users to groups and draw each group's tastes."""
    rng = np.random.default_rng([seed, _STREAM_GROUPS])
    sizes = rng.permutation(group_sizes(users))
    n_groups = len(sizes)
    user_group = rng.permutation(np.repeat(np.arange(n_groups, dtype=np.int32), sizes))

    n_assess = len(cat.assessment_tags)
    a_order = gumbel_order(
        rng,
        np.broadcast_to(cat.assessment_log_w * PROFILE_POP_POWER, (n_groups, n_assess)),
    )
    assess = a_order[:, :PROFILE_ASSESSMENT_TAGS].astype(np.int64)
    # Other profile tags: shared tags (so they exist as interests and course tags), minus
    # the group's assessment tags; drawn in blocks of groups to bound memory.
    n_other = PROFILE_TAGS - PROFILE_ASSESSMENT_TAGS
    log_w = np.log(cat.tag_weight[:N_SHARED_TAGS]) * PROFILE_POP_POWER
    profile = np.empty((n_groups, PROFILE_TAGS), dtype=np.int64)
    for lo in range(0, n_groups, 2_000):
        hi = min(lo + 2_000, n_groups)
        lw = np.broadcast_to(log_w, (hi - lo, N_SHARED_TAGS)).copy()
        own = cat.assessment_tags[assess[lo:hi]]
        np.put_along_axis(lw, own, -np.inf, axis=1)
        profile[lo:hi, :PROFILE_ASSESSMENT_TAGS] = own
        profile[lo:hi, PROFILE_ASSESSMENT_TAGS:] = gumbel_order(rng, lw)[:, :n_other]
    profile = rng.permuted(profile, axis=1)  # assessment tags at random profile positions
    level = rng.choice(len(LEVELS), size=n_groups, p=LEVEL_PROBS).astype(np.int64)
    skill = np.clip(rng.normal(0.0, SKILL_OFFSET_SD, n_groups), -SKILL_OFFSET_MAX, SKILL_OFFSET_MAX)
    return Groups(user_group, profile, assess, level, skill)


# --------------------------------------------------------------------------
# Per-chunk user behaviour.
# --------------------------------------------------------------------------
_PROFILE_LOG_W = -PROFILE_POS_DECAY * np.log(np.arange(PROFILE_TAGS) + 2.0)
_PROFILE_CUM = cum(np.exp(_PROFILE_LOG_W))


def _interests(
    rng: np.random.Generator, g: IntArray, signup: IntArray, cat: Catalogue, grp: Groups
) -> tuple[IntArray, IntArray, IntArray]:
    """(user index, vocab id, follow timestamp) rows for one chunk."""
    n = len(g)
    k = nb_counts(rng, n, INTEREST_MEAN_DRAWS, INTEREST_NB_R)
    k_group = np.minimum(rng.binomial(k, INTEREST_GROUP_SHARE), PROFILE_TAGS)
    k_global = k - k_group
    # Group part: distinct profile tags, weighted by profile position.
    order = gumbel_order(rng, np.broadcast_to(_PROFILE_LOG_W, (n, PROFILE_TAGS)))
    take = np.arange(PROFILE_TAGS)[None, :] < k_group[:, None]
    gu = np.broadcast_to(np.arange(n)[:, None], take.shape)[take]
    gt = grp.profile[g[gu], order[take]]
    # Global part: popularity-weighted, duplicates collapse below.
    pu = np.repeat(np.arange(n), k_global)
    pt = cat.interest_tags[draw(cat.interest_cum, rng.random(len(pu)))]
    n_vocab = len(cat.vocab)
    key = unique_sorted(np.concatenate((gu * n_vocab + gt, pu * n_vocab + pt)))
    uid, tag = key // n_vocab, key % n_vocab

    # Follow sessions: first at sign-up, the others later; each a block of tags.
    n_sess = 1 + draw(cum(FOLLOW_SESSION_PROBS), rng.random(n))
    left = END_DAY - signup + 1
    sess_day = signup[:, None] + (rng.random((n, 4)) * left[:, None]).astype(np.int64)
    sess_day[:, 0] = signup
    sess_ts = sess_day * SECONDS_PER_DAY + rng.integers(0, SECONDS_PER_DAY, (n, 4))
    sess = (rng.random(len(uid)) * n_sess[uid]).astype(np.int64)
    ts = sess_ts[uid, sess]
    o = np.lexsort((tag, ts, uid))
    return uid[o], tag[o], ts[o]


def _views(
    rng: np.random.Generator, g: IntArray, signup: IntArray, cat: Catalogue, grp: Groups
) -> tuple[IntArray, IntArray, IntArray, IntArray]:
    """(user index, course, epoch day, view seconds) rows for one chunk."""
    n = len(g)
    viewers = np.flatnonzero(rng.random(n) < VIEWER_SHARE)
    c = nb_counts(rng, len(viewers), VIEW_COURSES_MEAN, VIEW_NB_R)
    uid = np.repeat(viewers, c)
    from_group = rng.random(len(uid)) < VIEW_GROUP_SHARE
    gu = uid[from_group]

    def topic_course(users: IntArray) -> IntArray:
        """A course tagged with one of the users' group topics, weighted by appeal."""
        tag = grp.profile[g[users], draw(_PROFILE_CUM, rng.random(len(users)))]
        return cat.tag_courses.draw(tag, rng.random(len(users)))

    first, second = topic_course(gu), topic_course(gu)
    redraw = (cat.course_level[first] != grp.level[g[gu]]) & (
        rng.random(len(gu)) < LEVEL_REDRAW_PROB
    )
    course = draw(cat.course_cum, rng.random(len(uid)))
    course[from_group] = np.where(redraw, second, first)
    n_courses = len(cat.course_level)
    key = unique_sorted(uid * n_courses + course)
    pu, pc_ = key // n_courses, key % n_courses

    # Each (user, course) is viewed on 1+ distinct days after sign-up.
    days = np.minimum(rng.geometric(VIEW_DAYS_GEOM_P, len(pu)), VIEW_DAYS_MAX)
    left = END_DAY - signup[pu] + 1
    delay = rng.exponential(VIEW_START_MEAN_DAYS, len(pu)).astype(np.int64)
    uniform = (rng.random(len(pu)) * left).astype(np.int64)
    start = signup[pu] + np.where(delay < left, delay, uniform)
    ru, rc = np.repeat(pu, days), np.repeat(pc_, days)
    step = rng.geometric(VIEW_GAP_GEOM_P, len(ru)).astype(np.int64)
    step[segment_starts(days)] = 0
    cs = np.cumsum(step)
    day = np.repeat(start, days) + cs - np.repeat(cs[segment_starts(days)], days)
    ok = day <= END_DAY
    ru, rc, day = ru[ok], rc[ok], day[ok]
    secs = VIEW_TIME_MEDIAN_S * cat.course_length[rc] * rng.lognormal(0, VIEW_TIME_SIGMA, len(ru))
    secs = np.clip(np.rint(secs), 1, VIEW_TIME_MAX_S).astype(np.int64)
    o = np.lexsort((rc, day, ru))
    return ru[o], rc[o], day[o], secs[o]


def _assessments(
    rng: np.random.Generator, g: IntArray, signup: IntArray, cat: Catalogue, grp: Groups
) -> tuple[IntArray, IntArray, IntArray, IntArray]:
    """(user index, assessment position, timestamp, score) rows for one chunk."""
    n = len(g)
    takers = np.flatnonzero(rng.random(n) < ASSESS_USER_SHARE)
    k = np.minimum(rng.geometric(ASSESS_GEOM_P, len(takers)), ASSESS_MAX)
    n_assess = len(cat.assessment_tags)
    # Mixture weights: global popularity plus the group's own assessment tags.
    w = np.broadcast_to(
        (1 - ASSESS_GROUP_SHARE) * np.exp(cat.assessment_log_w), (len(takers), n_assess)
    ).copy()
    rows = np.repeat(np.arange(len(takers)), PROFILE_ASSESSMENT_TAGS)
    w[rows, grp.assess[g[takers]].ravel()] += ASSESS_GROUP_SHARE / PROFILE_ASSESSMENT_TAGS
    order = gumbel_order(rng, np.log(w))
    take = np.arange(n_assess)[None, :] < k[:, None]
    uid = np.broadcast_to(takers[:, None], take.shape)[take]
    a = order[take]
    left = END_DAY - signup[uid] + 1
    day = signup[uid] + (rng.random(len(uid)) * left).astype(np.int64)
    ts = day * SECONDS_PER_DAY + rng.integers(0, SECONDS_PER_DAY, len(uid))
    raw = rng.normal(SCORE_MEAN + grp.skill[g[uid]], SCORE_SD)
    score = np.clip(np.rint(raw), SCORE_MIN, SCORE_MAX).astype(np.int64)
    o = np.lexsort((a, ts, uid))
    return uid[o], a[o], ts[o], score[o]


def _chunk_tables(
    seed: int, chunk: int, lo: int, hi: int, cat: Catalogue, grp: Groups
) -> dict[str, pa.Table]:
    """All behaviour rows for users lo+1..hi, from the chunk's own random stream."""
    rng = np.random.default_rng([seed, _STREAM_USERS, chunk])
    g = grp.user_group[lo:hi].astype(np.int64)
    n = hi - lo
    signup = START_DAY + rng.integers(0, N_DAYS, n)
    handle = np.arange(lo + 1, hi + 1, dtype=np.int64)
    out: dict[str, pa.Table] = {}

    u, a, ts, score = _assessments(rng, g, signup, cat, grp)
    out[ASSESSMENTS] = pa.table(
        [
            pa.array(handle[u]),
            cat.vocab.take(pa.array(cat.assessment_tags[a])),
            timestamps(ts),
            pa.array(score),
        ],
        schema=SCHEMAS[ASSESSMENTS],
    )
    u, c, day, secs = _views(rng, g, signup, cat, grp)
    out[VIEWS] = pa.table(
        [
            pa.array(handle[u]),
            dates(day),
            cat.course_ids.take(pa.array(c)),
            pa.array(cat.course_author[c]),
            pa.array(LEVELS, pa.string()).take(pa.array(cat.course_level[c])),
            pa.array(secs),
        ],
        schema=SCHEMAS[VIEWS],
    )
    u, t, ts = _interests(rng, g, signup, cat, grp)
    out[INTERESTS] = pa.table(
        [pa.array(handle[u]), cat.vocab.take(pa.array(t)), timestamps(ts)],
        schema=SCHEMAS[INTERESTS],
    )
    return out


def chunks(users: int, seed: int) -> tuple[pa.Table, Iterator[Chunk]]:
    """The course-tag table and a stream of user chunks (tables + truth rows) for ``write_dataset``."""
    cat = build_catalogue(seed)
    grp = build_groups(seed, users, cat)

    def stream() -> Iterator[Chunk]:
        for chunk, lo in enumerate(range(0, users, CHUNK_USERS)):
            hi = min(lo + CHUNK_USERS, users)
            truth = pa.table({
                "user_handle": pa.array(np.arange(lo + 1, hi + 1, dtype=np.int64)),
                "group_id": pa.array(grp.user_group[lo:hi].astype(np.int64) + 1),
            })
            yield _chunk_tables(seed, chunk, lo, hi, cat, grp), truth

    return cat.course_tag_table, stream()
