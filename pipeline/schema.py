"""Columns of the published ranking table: shared by the publisher and the API.

Kept free of heavy imports (no pyarrow), so the API server can import it.
"""
from __future__ import annotations

# (name, SQLite type) of every published ranking column, in order.
RANKING_COLUMNS: tuple[tuple[str, str], ...] = (
    ("user_handle", "INTEGER NOT NULL"),
    ("rank", "INTEGER NOT NULL"),
    ("similar_user_handle", "INTEGER NOT NULL"),
    ("score", "REAL NOT NULL"),
    ("score_interests", "REAL"),
    ("score_assessments", "REAL"),
    ("score_course_views", "REAL"),
    ("n_shared_interests", "INTEGER"),
    ("n_shared_course_tags", "INTEGER"),
    ("n_shared_courses", "INTEGER"),
    ("n_shared_assessments", "INTEGER"),
    ("shared_interests", "TEXT"),  # JSON array of tags
    ("shared_course_tags", "TEXT"),  # JSON array of tags
    ("shared_courses", "TEXT"),  # JSON array of course ids
    ("shared_assessments", "TEXT"),  # JSON array of {tag, user_bin, similar_user_bin}
    ("run_id", "TEXT NOT NULL"),
    ("run_at", "TEXT NOT NULL"),
)
COLUMN_NAMES: tuple[str, ...] = tuple(name for name, _ in RANKING_COLUMNS)
