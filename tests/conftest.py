"""Shared test helpers: run the real pipeline as a subprocess in throw-away folders."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parent.parent
FIXTURES = PROJECT_DIR / "seeds" / "fixtures"
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


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    """300 generated users, shared by the tests of a module (read-only)."""
    out = tmp_path_factory.mktemp("gen") / "raw"
    result = run_module("datagen", ["--users", "300", "--seed", "5", "--out", str(out)], out.parent)
    assert result.returncode == 0, result.stderr
    return out
