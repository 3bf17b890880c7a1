"""Where things live by default: one place for every path the product uses.

What the API server needs too (environments, table names, the published SQLite file)
lives in :mod:`contracts.identifiers` and :mod:`contracts.locations`, re-exported here:
the server never imports ``pipeline``.
"""
from __future__ import annotations

import os
from pathlib import Path

from contracts.identifiers import DEFAULT_RESULTS_TABLE, ENVIRONMENTS, check_env, check_identifier
from contracts.locations import PROJECT_DIR, data_root, sqlite_path

__all__ = [
    "DEFAULT_RESULTS_TABLE", "ENVIRONMENTS", "PROJECT_DIR", "building_path", "check_env", "check_identifier",
    "data_root", "default_data_dir", "failed_build_path", "sqlite_path", "warehouse_dir", "warehouse_path",
]


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

