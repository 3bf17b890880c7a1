"""Where the published SQLite file of an environment lives: the pipeline writes it, the API reads it.

Standard library only: the API server imports this, never the batch package ``pipeline``
(whose :mod:`pipeline.paths` re-exports these for the batch side).
"""
from __future__ import annotations

import os
from pathlib import Path

from contracts.identifiers import check_env

PROJECT_DIR = Path(__file__).resolve().parent.parent


def data_root() -> Path:
    """Root of generated and built data (git-ignored); env USER_SIM_DATA_ROOT moves it."""
    return Path(os.environ.get("USER_SIM_DATA_ROOT", PROJECT_DIR / "data"))


def sqlite_path(env: str) -> Path:
    """The published SQLite database of an environment: data/sqlite3/user_similarity_<env>.db."""
    return data_root() / "sqlite3" / f"user_similarity_{check_env(env)}.db"
