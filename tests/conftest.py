"""Shared test helpers: run the real pipeline as a subprocess in throw-away folders."""
from __future__ import annotations

import fcntl
import os
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parent.parent
FIXTURES = PROJECT_DIR / "tests" / "raw_fixtures"  # not tests/fixtures: dbt reads that as unit-test fixtures
REAL_DATA = PROJECT_DIR.parent / "shared" / "data" / "real"


def require_real_data() -> Path:
    """The team's real sample tables; a test that needs them fails (never skips) when they are absent."""
    assert (REAL_DATA / "course_tags.csv").exists(), (
        f"{REAL_DATA} not found: clone this repository beside ../shared (README, Tests and CI)")
    return REAL_DATA


def pipeline_env(workdir: Path) -> dict[str, str]:
    """Environment that keeps a test's warehouse and dbt artefacts inside ``workdir``."""
    env = dict(os.environ)
    env["USER_SIM_WAREHOUSE_DIR"] = str(workdir / "warehouse")
    env["USER_SIM_DATA_ROOT"] = str(workdir / "data")
    env["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    return env


def run_module(module: str, args: list[str], workdir: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=PROJECT_DIR, env=pipeline_env(workdir), capture_output=True, text=True, timeout=timeout,
    )


@pytest.fixture
def run_pipeline(tmp_path: Path):
    """Call ``python -m pipeline`` with ``args``; warehouse and data root live in tmp_path."""
    def run(*args: str) -> subprocess.CompletedProcess:
        return run_module("pipeline", list(args), tmp_path)
    return run


REFERENCE_USERS, REFERENCE_SEED = 300, 3  # python -m datagen --users 300 --seed 3: the reference run's data


@dataclass(frozen=True)
class ReferenceRun:
    """One default ``python -m pipeline`` run on generated data, made once per test session.

    Tests that need a published ranking to start from (a failed run must leave
    it unchanged, a reader must keep seeing it) copy this run instead of each
    paying for a dbt build of their own. Its folders are read-only to tests.
    """

    data: Path  # the raw tables
    workdir: Path  # the run's warehouse/ and data/ (pipeline_env) and r.db
    stdout: str

    @property
    def db(self) -> Path:
        return self.workdir / "r.db"

    def copy_to(self, workdir: Path) -> Path:
        """The run's warehouse, data root and SQLite file, as if it had run in ``workdir``; the SQLite path."""
        for name in ("warehouse", "data"):
            if (self.workdir / name).exists():
                shutil.copytree(self.workdir / name, workdir / name)
        db = workdir / "r.db"
        with sqlite3.connect(self.db) as source, sqlite3.connect(db) as target:
            source.backup(target)  # consistent even if a reader holds the WAL open
        return db


@pytest.fixture(scope="session")
def reference_run(tmp_path_factory) -> ReferenceRun:
    """The session's reference run, built by the first xdist worker that asks, under a file lock."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base  # one folder for all workers
    root = shared / "reference_run"
    with open(shared / "reference_run.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (root / "stdout.txt").exists():
            shutil.rmtree(root, ignore_errors=True)
            root.mkdir()
            made = run_module("datagen", ["--users", str(REFERENCE_USERS), "--seed", str(REFERENCE_SEED),
                                          "--out", str(root / "raw")], root)
            assert made.returncode == 0, made.stderr
            result = run_module("pipeline", ["--data-dir", str(root / "raw"), "--sqlite-path", str(root / "r.db")],
                                root)
            assert result.returncode == 0, result.stdout + result.stderr
            (root / "stdout.txt").write_text(result.stdout)
    return ReferenceRun(root / "raw", root, (root / "stdout.txt").read_text())


@pytest.fixture
def generated(reference_run: ReferenceRun) -> Path:
    """300 generated users (the reference run's raw tables; read-only)."""
    return reference_run.data
