"""Dirty copies of clean raw tables, each with the exact effect the product must show.

``make_messy(clean_dir, out_dir, kinds)`` writes the four CSV tables of
``clean_dir`` to ``out_dir`` with each kind of dirt in ``kinds`` injected, and
returns (and writes as ``EXPECTED_DIRT.json``) what a run on them must do:

- row kinds add or alter rows that the staging rules drop or clean; the
  expected effect is the exact count each rule adds to ``audit_dropped_rows``
  or ``audit_cleaned_rows``. The added rows are copies of real rows with one
  field broken, and the altered rows normalise back to their clean value, so
  the published ranking must equal the clean data's ranking exactly.
- ``extra_column`` and ``reordered_columns`` change a file's layout only:
  the run succeeds with the same ranking (an extra column is reported).
- fatal kinds break a file's structure: the run must stop before dbt, with an
  error naming the file, the line and the column (``errors`` holds the text).

Kinds use disjoint rows, so any combination has the sum of their effects.
``python -m datagen --dirt KIND`` applies this to a generated sample.
"""
from __future__ import annotations

import csv
import json
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from contracts.raw import RAW_TABLES as TABLES

HANDLE_TABLES = ("user_interests", "user_assessment_scores", "user_course_views")
TAG_COLUMNS = {"user_interests": "interest_tag", "user_assessment_scores": "assessment_tag",
               "course_tags": "course_tags"}
DATE_COLUMNS = {"user_interests": "date_followed", "user_assessment_scores": "user_assessment_date",
                "user_course_views": "view_date"}
QUOTED_EMPTY = "\0quoted-empty\0"  # written as "" (a quoted empty string), not as an empty field

ROW_KINDS = ("missing_values", "duplicates", "case_and_whitespace", "non_numeric_handles", "bad_dates",
             "bad_view_times", "bad_scores", "unknown_courses")
LAYOUT_KINDS = ("extra_column", "reordered_columns")
FATAL_KINDS = ("missing_column", "wrong_delimiter", "empty_file", "truncated_last_line", "non_utf8")
GROUPS = {"all-rows": ROW_KINDS + LAYOUT_KINDS, "all-files": FATAL_KINDS}
ALL_KINDS = ROW_KINDS + LAYOUT_KINDS + FATAL_KINDS


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]

    def col(self, name: str) -> int:
        return self.header.index(name)


@dataclass
class Expected:
    """What a run on the dirty files must do, relative to the same run on the clean files."""

    kinds: list[str]
    dropped: dict[str, Counter[str]] = field(default_factory=lambda: {t: Counter() for t in TABLES})
    cleaned: dict[str, Counter[str]] = field(default_factory=lambda: {t: Counter() for t in TABLES})
    errors: list[str] = field(default_factory=list)  # each must appear in the failed run's message
    notes: list[str] = field(default_factory=list)  # each must appear in a successful run's output

    @property
    def fails(self) -> bool:
        return bool(self.errors)

    def to_json(self) -> str:
        return json.dumps({
            "kinds": self.kinds,
            "fails": self.fails,
            "ranking_unchanged": not self.fails,
            "dropped": {t: dict(sorted(c.items())) for t, c in self.dropped.items() if c},
            "cleaned": {t: dict(sorted(c.items())) for t, c in self.cleaned.items() if c},
            "errors": self.errors,
            "notes": self.notes,
        }, indent=2) + "\n"


class _Dirt:
    """Shared state of one injection: the tables, a seeded RNG, and rows reserved per kind."""

    def __init__(self, tables: dict[str, Table], seed: int) -> None:
        self.tables = tables
        self.seed = seed
        self.pending: dict[str, list[tuple[str, list[str]]]] = {t: [] for t in tables}

    def pool(self, table: str, kind: str, n: int, valid: Callable[[list[str]], bool] = lambda r: True) -> list[int]:
        """``n`` row indices of ``table`` reserved for ``kind`` (rows i with i % len(ROW_KINDS) = kind's slot)."""
        slot = ROW_KINDS.index(kind)
        rows = self.tables[table].rows
        candidates = [i for i in range(slot, len(rows), len(ROW_KINDS)) if valid(rows[i])]
        rng = random.Random(f"{self.seed}-{kind}-{table}")
        if len(candidates) < n:
            raise ValueError(f"{table} has too few rows for the {kind!r} dirt ({len(candidates)} < {n})")
        return rng.sample(candidates, n)

    def copies(self, table: str, kind: str, column: str, values: list[str]) -> list[list[str]]:
        """Copies of reserved rows with ``column`` set to each of ``values``."""
        t = self.tables[table]
        out = []
        for index, value in zip(self.pool(table, kind, len(values), self.tagged(table)), values, strict=True):
            row = list(t.rows[index])
            row[t.col(column)] = value
            out.append(row)
        return out

    def tagged(self, table: str) -> Callable[[list[str]], bool]:
        """Rows whose tag is not empty (the clean sample has course tags left empty on purpose)."""
        if table != "course_tags":
            return lambda r: True
        i = self.tables[table].col("course_tags")
        return lambda r: bool(r[i].strip())

    def add(self, table: str, rows: list[list[str]], kind: str) -> None:
        """Queue rows for :meth:`insert_added`; row indices stay those of the clean file until then."""
        self.pending[table] += [(kind, row) for row in rows]

    def insert_added(self) -> None:
        """Insert the queued rows at reproducible random places."""
        for table, added in self.pending.items():
            target = self.tables[table].rows
            for kind, row in added:
                rng = random.Random(f"{self.seed}-{kind}-{table}-{len(target)}")
                target.insert(rng.randrange(len(target) + 1), row)


# -- row kinds: each returns (dropped, cleaned) counts per table ---------------------------------------
Effect = tuple[dict[str, Counter[str]], dict[str, Counter[str]]]


def _missing_values(d: _Dirt) -> Effect:
    dropped: dict[str, Counter[str]] = {}
    blanks = ["", QUOTED_EMPTY, "   "]
    plan = {
        "user_interests": [("user_handle", "missing_user_handle"), ("interest_tag", "missing_tag")],
        "user_assessment_scores": [("user_handle", "missing_user_handle"), ("assessment_tag", "missing_tag")],
        "user_course_views": [("user_handle", "missing_user_handle"), ("course_id", "missing_course_id")],
        "course_tags": [("course_id", "missing_course_id"), ("course_tags", "missing_tag")],
    }
    for table, columns in plan.items():
        rows = []
        for column, reason in columns:
            rows += [(r, reason) for r in d.copies(table, "missing_values", column, blanks)]
        d.add(table, [r for r, _ in rows], "missing_values")
        dropped[table] = Counter(reason for _, reason in rows)
    return dropped, {}


def _duplicates(d: _Dirt) -> Effect:
    dropped: dict[str, Counter[str]] = {}
    for table in TABLES:
        rows = [list(d.tables[table].rows[i]) for i in d.pool(table, "duplicates", 4, d.tagged(table))]
        d.add(table, rows, "duplicates")
        dropped[table] = Counter({"duplicate": len(rows)})
    return dropped, {}


def _shout(tag: str) -> str:
    return f"  {tag.upper()}\t"


def _spaced(tag: str) -> str:
    """'machine-learning' -> ' Machine Learning ': normalises back when '-' only separates words."""
    words = tag.split("-")
    return " " + " ".join(w.capitalize() for w in words) + " " if all(words) else _shout(tag)


def _case_and_whitespace(d: _Dirt) -> Effect:
    cleaned: dict[str, Counter[str]] = {t: Counter() for t in TABLES}

    def alter(table: str, column: str, change: Callable[[str], str], rule: str, n: int = 3) -> None:
        t = d.tables[table]
        i = t.col(column)
        for index in picks[table][:n]:
            t.rows[index][i] = change(t.rows[index][i])
        del picks[table][:n]
        cleaned[table][rule] += n

    picks = {t: d.pool(t, "case_and_whitespace", 15, d.tagged(t)) for t in TABLES}
    for table, column in TAG_COLUMNS.items():
        alter(table, column, _shout, "tag_normalised")
        alter(table, column, _spaced, "tag_normalised")
    for table in HANDLE_TABLES:
        alter(table, "user_handle", lambda h: f" {h} ", "handle_normalised")
        alter(table, "user_handle", lambda h: f"00{h}", "handle_normalised")
    alter("user_course_views", "course_id", lambda c: f" {c.upper()} ", "course_id_normalised")
    alter("user_course_views", "level", str.lower, "level_normalised")
    alter("user_course_views", "view_time_seconds", lambda s: f"{s}.0", "view_time_normalised")
    alter("course_tags", "course_id", str.upper, "course_id_normalised")
    return {}, cleaned


NOT_HANDLES = ["abc", "1e3", "1.5", "+7", "0x10", "-3", "0", "12a", "\uff11\uff11\uff10", "99999999999999999999"]


def _non_numeric_handles(d: _Dirt) -> Effect:
    dropped: dict[str, Counter[str]] = {}
    for table in HANDLE_TABLES:
        d.add(table, d.copies(table, "non_numeric_handles", "user_handle", NOT_HANDLES), "non_numeric_handles")
        dropped[table] = Counter({"invalid_user_handle": len(NOT_HANDLES)})
    return dropped, {}


def _bad_dates(d: _Dirt) -> Effect:
    bad = {"user_interests": ["2017-13-01 10:00:00", "not-a-date", "31/12/2017", "2017-02-30 08:00:00"],
           "user_assessment_scores": ["2017-00-10 10:00:00", "yesterday", "2017-06-31 12:00:00"],
           "user_course_views": ["2017-13-01", "27.06.2017", "2017-02-30", ""]}
    dropped: dict[str, Counter[str]] = {}
    for table, values in bad.items():
        d.add(table, d.copies(table, "bad_dates", DATE_COLUMNS[table], values), "bad_dates")
        dropped[table] = Counter({"invalid_date": len(values)})
    return dropped, {}


def _bad_view_times(d: _Dirt) -> Effect:
    values = {"-5": "negative_view_time", "-0.5": "negative_view_time", "-inf": "negative_view_time",
              "86401": "absurd_view_time", "1e12": "absurd_view_time", "inf": "absurd_view_time",
              "NaN": "invalid_view_time", "abc": "invalid_view_time", "": "invalid_view_time"}
    d.add("user_course_views", d.copies("user_course_views", "bad_view_times", "view_time_seconds", list(values)),
          "bad_view_times")
    return {"user_course_views": Counter(values.values())}, {}


def _bad_scores(d: _Dirt) -> Effect:
    values = {"-1": "score_out_of_range", "300.5": "score_out_of_range", "301": "score_out_of_range",
              "1e9": "score_out_of_range", "inf": "score_out_of_range", "NaN": "invalid_score",
              "high": "invalid_score", "": "invalid_score"}
    table = "user_assessment_scores"
    d.add(table, d.copies(table, "bad_scores", "user_assessment_score", list(values)), "bad_scores")
    return {table: Counter(values.values())}, {}


def _unknown_courses(d: _Dirt) -> Effect:
    ids = [f"no-such-course-{i}" for i in range(5)]
    table = "user_course_views"
    d.add(table, d.copies(table, "unknown_courses", "course_id", ids), "unknown_courses")
    return {table: Counter({"unknown_course": len(ids)})}, {}


ROW_DIRT: dict[str, Callable[[_Dirt], Effect]] = {
    "missing_values": _missing_values,
    "duplicates": _duplicates,
    "case_and_whitespace": _case_and_whitespace,
    "non_numeric_handles": _non_numeric_handles,
    "bad_dates": _bad_dates,
    "bad_view_times": _bad_view_times,
    "bad_scores": _bad_scores,
    "unknown_courses": _unknown_courses,
}


# -- reading and writing ----------------------------------------------------------------------------------
def read_table(path: Path) -> Table:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        return Table(header, [row for row in reader])


def _field(value: str, delimiter: str) -> str:
    if value == QUOTED_EMPTY:
        return '""'
    if any(c in value for c in (delimiter, '"', "\n", "\r")) or value != value.strip():
        return '"' + value.replace('"', '""') + '"'
    return value


def render(table: Table, delimiter: str = ",") -> bytes:
    lines = [delimiter.join(_field(v, delimiter) for v in row) for row in [table.header, *table.rows]]
    return ("\n".join(lines) + "\n").encode("utf-8")


def expand(kinds: list[str]) -> list[str]:
    """Kinds with groups (all-rows, all-files) expanded, in canonical order; unknown names refused."""
    wanted: set[str] = set()
    for kind in kinds:
        if kind in GROUPS:
            wanted.update(GROUPS[kind])
        elif kind in ALL_KINDS:
            wanted.add(kind)
        else:
            raise ValueError(f"unknown dirt {kind!r}; choose from {', '.join(ALL_KINDS + tuple(GROUPS))}")
    return [k for k in ALL_KINDS if k in wanted]


def make_messy(clean_dir: Path, out_dir: Path, kinds: list[str], seed: int = 0) -> Expected:
    """Write the dirty tables to ``out_dir`` (may equal ``clean_dir``) and EXPECTED_DIRT.json."""
    kinds = expand(kinds)
    tables = {t: read_table(clean_dir / f"{t}.csv") for t in TABLES}
    expected = Expected(kinds)
    dirt = _Dirt(tables, seed)
    for kind in kinds:
        if kind in ROW_DIRT:
            dropped, cleaned = ROW_DIRT[kind](dirt)
            for table, counts in dropped.items():
                expected.dropped[table].update(counts)
            for table, counts in cleaned.items():
                expected.cleaned[table].update(counts)
    dirt.insert_added()
    if "extra_column" in kinds:  # a column in the middle, with values that would break a positional reader
        t = tables["user_interests"]
        t.header.insert(1, "source")
        for row in t.rows:
            row.insert(1, "mobile app")
        expected.notes.append("user_interests.csv: extra column(s) source ignored")
    if "reordered_columns" in kinds:
        t = tables["user_course_views"]
        order = list(reversed(range(len(t.header))))
        tables["user_course_views"] = Table([t.header[i] for i in order], [[r[i] for i in order] for r in t.rows])
    if "missing_column" in kinds:
        t = tables["user_course_views"]
        i = t.col("level")
        tables["user_course_views"] = Table(t.header[:i] + t.header[i + 1:], [r[:i] + r[i + 1:] for r in t.rows])
        expected.errors.append("user_course_views.csv line 1 (header): missing column(s) level")
    files = {t: render(tables[t]) for t in TABLES}
    if "wrong_delimiter" in kinds:
        files["user_assessment_scores"] = render(tables["user_assessment_scores"], ";")
        expected.errors.append("user_assessment_scores.csv line 1 (header): not comma-separated (it looks ';'")
    if "empty_file" in kinds:
        files["course_tags"] = b""
        expected.errors.append("course_tags.csv: the file is empty")
    if "non_utf8" in kinds:  # a Latin-1 byte inside a tag, on the middle line
        t = tables["user_interests"]
        line = len(t.rows) // 2 + 2  # 1-based, the header is line 1
        lines = files["user_interests"].split(b"\n")
        row = t.rows[line - 2]
        tag = _field(row[t.col("interest_tag")], ",").encode()
        lines[line - 1] = lines[line - 1].replace(tag, tag[:1] + b"\xe9" + tag[1:], 1)
        files["user_interests"] = b"\n".join(lines)
        expected.errors.append(f"user_interests.csv line {line}, column interest_tag: not valid UTF-8")
    if "truncated_last_line" in kinds:  # the copy stopped inside the last row's second field
        data = files["user_interests"].rstrip(b"\n")
        last_start = data.rfind(b"\n") + 1
        second = data.index(b",", last_start) + 1
        files["user_interests"] = data[:second + 2]
        line = data.count(b"\n") + 1
        header = tables["user_interests"].header
        expected.errors.append(f"user_interests.csv line {line}, column {header[2]}: too few fields"
                               f" (2 of {len(header)}); the file ends in the middle of this line (truncated?)")
    out_dir.mkdir(parents=True, exist_ok=True)
    for table, data in files.items():
        (out_dir / f"{table}.csv").write_bytes(data)
    (out_dir / "EXPECTED_DIRT.json").write_text(expected.to_json())
    return expected
