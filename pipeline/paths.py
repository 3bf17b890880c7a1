"""Where things live by default: one place for every path the product uses.

Kept free of heavy imports, so the API server can import it too.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
ENVIRONMENTS = ("dev", "prod")
DEFAULT_RESULTS_TABLE = "user_ranking"
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def data_root() -> Path:
    """Root of generated and built data (git-ignored); env USER_SIM_DATA_ROOT moves it."""
    return Path(os.environ.get("USER_SIM_DATA_ROOT", PROJECT_DIR / "data"))


def default_data_dir() -> Path:
    """The built-in sample the pipeline generates on first use."""
    return Path(os.environ.get("USER_SIM_DATA_DIR", data_root() / "sample"))


def warehouse_dir() -> Path:
    """Folder of the DuckDB warehouse files (profiles.yml reads the same variable)."""
    return Path(os.environ.get("USER_SIM_WAREHOUSE_DIR", data_root() / "warehouse"))


def warehouse_path(env: str) -> Path:
    """The warehouse analysts read: the last good build of ``env`` (a run swaps it in whole)."""
    return warehouse_dir() / f"{check_env(env)}.duckdb"


def building_path(env: str, run_id: str) -> Path:
    """Where a run builds: a fresh file of its own, so it never locks the analysts' warehouse."""
    return warehouse_dir() / f"{check_env(env)}.building-{run_id}.duckdb"


def failed_build_path(env: str) -> Path:
    """The last failed build, kept for diagnosis (its audit tables say what broke)."""
    return warehouse_dir() / f"{check_env(env)}.failed.duckdb"


def sqlite_path(env: str) -> Path:
    """The published SQLite database of an environment: data/sqlite3/user_similarity_<env>.db."""
    return data_root() / "sqlite3" / f"user_similarity_{check_env(env)}.db"


def check_env(env: str) -> str:
    if env not in ENVIRONMENTS:
        raise ValueError(f"environment must be one of {ENVIRONMENTS}, got {env!r}")
    return env


def check_identifier(name: str) -> str:
    """A SQL table name we are willing to interpolate: letters, digits, underscore, <= 63 chars."""
    if not isinstance(name, str) or not _IDENTIFIER.match(name):
        raise ValueError(
            f"invalid table name {name!r}: use letters, digits and '_' "
            "(starting with a letter or '_', at most 63 characters)"
        )
    return name
