"""Generated data and pipeline runs for the evaluation, each in its own folders.

The pipeline runs as ``python -m pipeline`` in a subprocess (dbt in-process
repeatedly in one interpreter is untested), with ``USER_SIM_WAREHOUSE_DIR``
pointing at a warehouse of the caller's choosing, so an evaluation never
touches ``data/warehouse``. Its output goes to a log file; a failure raises
with the log's tail.
"""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from contracts.published import current_run
from pipeline.paths import PROJECT_DIR

SIGNAL_WEIGHTS: dict[str, tuple[float, float, float]] = {
    "interests": (1.0, 0.0, 0.0),
    "assessments": (0.0, 1.0, 0.0),
    "course_views": (0.0, 0.0, 1.0),
}


@dataclass(frozen=True)
class PipelineRun:
    """One published pipeline run and where its artefacts live."""

    run_id: str
    sqlite_path: Path
    results_table: str
    warehouse: Path  # the DuckDB file (valid until the next run on the same warehouse dir)
    seconds: float
    flags: tuple[str, ...]


def ensure_generated(out: Path, users: int, seed: int) -> Path:
    """Generated raw tables in ``out`` (reused when a previous call already wrote them)."""
    from datagen.generate import generate

    if not (out / "truth" / "user_groups.csv").exists():
        generate(out, users=users, seed=seed, force=True)
    return out


def run_pipeline(
    data_dir: Path,
    warehouse_dir: Path,
    sqlite_path: Path,
    results_table: str,
    flags: Sequence[str] = (),
    log: Path | None = None,
    timeout: float = 3600,
) -> PipelineRun:
    """``python -m pipeline`` on ``data_dir`` in a subprocess; returns the published run."""
    warehouse_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, USER_SIM_WAREHOUSE_DIR=str(warehouse_dir), DBT_SEND_ANONYMOUS_USAGE_STATS="false")
    command = [sys.executable, "-m", "pipeline", "--env", "dev", "--results_table", results_table,
               "--data-dir", str(data_dir), "--sqlite-path", str(sqlite_path), *flags]
    log = log or warehouse_dir / f"{results_table}.log"
    t0 = time.perf_counter()
    with open(log, "w") as fh:
        fh.write(" ".join(command) + "\n")
        fh.flush()
        done = subprocess.run(command, cwd=PROJECT_DIR, env=env, stdout=fh, stderr=subprocess.STDOUT,
                              timeout=timeout, check=False)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        tail = "".join(open(log).readlines()[-15:])
        raise RuntimeError(f"pipeline failed ({' '.join(flags) or 'defaults'}), log {log}:\n{tail}")
    con = sqlite3.connect(sqlite_path)
    try:
        run_id = current_run(con, results_table)
    finally:
        con.close()
    return PipelineRun(run_id, sqlite_path, results_table, warehouse_dir / "dev.duckdb", seconds, tuple(flags))


def load_vectors(warehouse: Path) -> tuple[np.ndarray, dict[str, pa.Table]]:
    """(universe, {signal: user_vectors_<signal> table}) of a built warehouse: input of a re-rank."""
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        universe = np.asarray(con.sql("select user_handle from int_users_unioned order by user_handle")
                              .to_arrow_table().column(0).to_numpy(), np.int64)
        tables = {s: con.sql(f"select user_handle, vector from user_vectors_{s}").to_arrow_table()
                  for s in SIGNAL_WEIGHTS}
    finally:
        con.close()
    return universe, tables


def signals_in_raw(data_dir: Path) -> list[str]:
    """Signals whose raw table holds usable rows (a real export may ship a table empty)."""
    from evaluation.items import ITEM_KINDS, raw_path, read_pairs

    signal_of = {"interests": "interests", "assessments": "assessments", "courses": "course_views"}
    present = set()
    for kind, (table, _, _) in ITEM_KINDS.items():
        try:
            users, _ = read_pairs(raw_path(data_dir, table), kind)
        except FileNotFoundError:
            continue
        if users.size:
            present.add(signal_of[kind])
    return [s for s in SIGNAL_WEIGHTS if s in present]
