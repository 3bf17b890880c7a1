"""``python -m pipeline``: build the similarity ranking with dbt and publish it to SQLite.

Steps, each printed with its time:
  1. input   - check the raw files' structure (pipeline/input_check.py; the
               built-in sample is generated on first use)
  2. build   - one ``dbt build`` (models and tests) with the parameters as vars
  3. publish - swap the ranking into SQLite in one transaction, keep run history,
               then swap the run's DuckDB file in as the analysts' warehouse
A failure at any step exits non-zero, names what failed, records the failed
run in ``ranking_runs`` and leaves the published ranking and the analysts'
warehouse untouched (the failed build is kept as ``<env>.failed.duckdb``).
"""
from __future__ import annotations

import argparse
import sqlite3
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from contracts.cli_help import DefaultsHelpFormatter
from contracts.defaults import default_weights
from pipeline.flags import add_var_flags, var_values
from pipeline.input_check import RAW_TABLES, check_inputs
from pipeline.paths import (
    DEFAULT_RESULTS_TABLE,
    ENVIRONMENTS,
    building_path,
    check_identifier,
    default_data_dir,
    failed_build_path,
    sqlite_path,
    warehouse_dir,
    warehouse_path,
)
from pipeline.user_errors import UsageError, ensure_writable_folder, explain
from simcore.ensemble import SIGNALS, normalise_weights
from simcore.strategy import check_executor

DEFAULT_SAMPLE_USERS = 10_000
DEFAULT_SAMPLE_SEED = 42


class PipelineError(Exception):
    """A failure the user can act on; printed as one message, exit code 1."""


def build_parser() -> argparse.ArgumentParser:
    """Every flag with its default (the defaults come from dbt_project.yml's vars)."""
    parser = argparse.ArgumentParser(
        prog="python -m pipeline",
        description="Compute the top-k most similar users of every user and publish them to SQLite.",
        formatter_class=DefaultsHelpFormatter,
    )
    parser.add_argument("--env", choices=ENVIRONMENTS, default="dev",
                        help="environment: picks the DuckDB warehouse and the default SQLite file")
    parser.add_argument("--results_table", "--results-table", dest="results_table",
                        default=DEFAULT_RESULTS_TABLE,
                        help="SQLite table that receives the ranking (letters, digits, '_')")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="folder with the four raw tables (CSV or Parquet); default: the built-in "
                             f"sample at {default_data_dir()}, generated on first use")
    parser.add_argument("--format", choices=("auto", "csv", "parquet"), default="auto",
                        help="raw file format; auto picks the one present in --data-dir")
    parser.add_argument("--sqlite-path", type=Path, default=None,
                        help="SQLite file to publish to; default data/sqlite3/user_similarity_<env>.db")
    parser.add_argument("--weights", type=float, nargs=3, metavar=("INTERESTS", "ASSESSMENTS", "COURSE_VIEWS"),
                        default=tuple(default_weights()[s] for s in SIGNALS),
                        help="non-negative signal weights, normalised to sum 1 (defaults tuned in docs/analysis.md;"
                             " the original system used 0.5 0.3 0.2)")
    add_var_flags(parser)
    parser.add_argument("--keep-runs", type=int, default=5, help="published runs kept in history")
    parser.add_argument("--sample-users", type=int, default=DEFAULT_SAMPLE_USERS,
                        help="users in the built-in sample when it is generated")
    return parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    return build_parser().parse_args(argv)


def validate(args: argparse.Namespace) -> dict[str, float]:
    """Check every parameter before dbt starts; returns the normalised weights."""
    try:
        check_identifier(args.results_table)
        weights = normalise_weights(dict(zip(SIGNALS, args.weights, strict=True)))
    except ValueError as exc:
        raise PipelineError(str(exc)) from exc
    if not 1 <= args.top_k <= 1000:
        raise PipelineError(f"--top-k must be between 1 and 1000, got {args.top_k}")
    if not 0 < args.variance <= 1:
        raise PipelineError(f"--variance must be in (0, 1], got {args.variance}")
    for flag, bins in (("--score-bins", args.score_bins), ("--view-time-bins", args.view_time_bins)):
        if not 2 <= bins <= 20:
            raise PipelineError(f"{flag} must be between 2 and 20, got {bins}")
    if not 0 <= args.variance_growth <= 1:
        raise PipelineError(f"--variance-growth must be in [0, 1], got {args.variance_growth}")
    counts = (("--max-components", args.max_components), ("--smoothing-neighbours", args.smoothing_neighbours))
    for flag, count in counts:
        if not 0 <= count <= 10_000:
            raise PipelineError(f"{flag} must be between 0 and 10000, got {count}")
    if not 0 <= args.recall_floor <= 1:
        raise PipelineError(f"--recall-floor must be in [0, 1], got {args.recall_floor}")
    if not 0 <= args.max_drop_share <= 1:
        raise PipelineError(f"--max-drop-share must be in [0, 1], got {args.max_drop_share}")
    if args.topk_block_rows < 0:
        raise PipelineError(f"--topk-block-rows must be >= 0 (0 = automatic), got {args.topk_block_rows}")
    if args.topk_executor == "spark":
        check_spark(args.topk_method)
    if args.keep_runs < 1:
        raise PipelineError(f"--keep-runs must be at least 1, got {args.keep_runs}")
    return weights


def check_spark(method: str) -> None:
    """The Spark executor's preconditions, checked before dbt starts: exact top k, pyspark, Java, a valid master."""
    try:
        check_executor(method, "spark")  # the rule lives in simcore.strategy; the CLI names its flags
    except ValueError:
        raise PipelineError(
            "--topk-executor spark runs the exact top k only; --topk-method ann runs on the local"
            " executor (use --topk-method exact or auto with spark, or --topk-executor local)") from None
    from simcore.spark_topk import check_available  # does not import pyspark

    try:
        check_available()
    except (RuntimeError, ValueError) as exc:
        raise PipelineError(str(exc)) from exc


def resolve_input(data_dir: Path | None, fmt: str, sample_users: int) -> tuple[Path, str, str]:
    """The raw folder and its format; generates the built-in sample if it is missing."""
    note = ""
    if data_dir is None:
        data_dir = default_data_dir()
        if not all((data_dir / f"{t}.csv").exists() for t in RAW_TABLES):
            from datagen.generate import generate

            generate(data_dir, users=sample_users, seed=DEFAULT_SAMPLE_SEED)
            note = f" (generated {sample_users:,} users, seed {DEFAULT_SAMPLE_SEED})"
    data_dir = data_dir.resolve()
    if not data_dir.is_dir():
        raise PipelineError(f"--data-dir {data_dir} is not a folder")
    present = {ext: all((data_dir / f"{t}.{ext}").exists() for t in RAW_TABLES) for ext in ("csv", "parquet")}
    if fmt == "auto":
        fmt = "csv" if present["csv"] else "parquet" if present["parquet"] else "csv"
    if not present[fmt]:
        missing = [f"{t}.{fmt}" for t in RAW_TABLES if not (data_dir / f"{t}.{fmt}").exists()]
        raise PipelineError(f"{data_dir} lacks {', '.join(missing)}")
    return data_dir, fmt, note


def _keep_failed_build(building: Path, failed: Path, keep) -> Path | None:
    try:
        return keep(building, failed)
    except OSError as exc:  # the run's own failure is what the user needs to read
        print(f"(could not keep the failed build {building}: {exc})", file=sys.stderr)
        return None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    from pipeline.publish import RunRecord, new_run_id, publish_ranking, record_failed_run, start_run
    from pipeline.warehouse import keep_failed, remove_build, swap_in

    run_id = new_run_id(started)
    building = building_path(args.env, run_id)
    target = (args.sqlite_path or sqlite_path(args.env)).resolve()
    run = RunRecord(run_id, args.results_table, started.isoformat(timespec="seconds"), {})
    print(f"run {run_id} (env {args.env}) -> {target} table {args.results_table}")
    try:  # before anything is recorded: a run that cannot write has nowhere to record its failure
        ensure_writable_folder(target.parent, "the SQLite", "pass --sqlite-path FILE in a writable folder")
        ensure_writable_folder(warehouse_dir(), "the warehouse", "set USER_SIM_WAREHOUSE_DIR to a writable folder")
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        weights = validate(args)
        run.params = {"env": args.env}  # completed once the input is resolved
        for stale in start_run(target, run):  # recorded as 'running': a killed run leaves a trace
            print(f"run {stale} was interrupted (its process ended before finishing): marked failed")
            for env in ENVIRONMENTS:
                remove_build(building_path(env, stale))
        t = time.perf_counter()
        data_dir, fmt, note = resolve_input(args.data_dir, args.format, args.sample_users)
        checks = check_inputs(data_dir, fmt)
        for check in checks.values():
            if check.ignored:
                print(f"    note: {check.path.name}: extra column(s) {', '.join(check.ignored)} ignored", flush=True)
            if check.rows == 0:
                print(f"    note: {check.path.name} has no rows: the table is treated as not available", flush=True)
        print(f"[1/3] input   {data_dir} ({fmt}){note}  {time.perf_counter() - t:.1f} s", flush=True)

        dbt_vars = var_values(args) | {
            "data_dir": str(data_dir),
            "raw_format": fmt,
            "weight_interests": weights["interests"],
            "weight_assessments": weights["assessments"],
            "weight_course_views": weights["course_views"],
            "run_id": run_id,
            "run_at": run.started_at,
        }
        run.params = {k: v for k, v in dbt_vars.items() if k not in ("run_id", "run_at")} | {
            "env": args.env, "keep_runs": args.keep_runs}
        t = time.perf_counter()
        print("[2/3] build   dbt build (models and tests)", flush=True)
        from pipeline.dbt_build import run_build

        outcome = run_build(args.env, dbt_vars, database=building)
        if not outcome.success:
            from pipeline.warehouse import drop_summary

            failures = outcome.failures or ["unknown error"]
            failures += drop_summary(building, failures)
            raise PipelineError("dbt build failed:\n  " + "\n  ".join(failures))
        print(f"[2/3] build   done  {time.perf_counter() - t:.1f} s", flush=True)

        t = time.perf_counter()
        from pipeline.warehouse import read_ranking, read_topk_recall

        ranking = read_ranking(building, run_id)
        topk = read_topk_recall(building, run_id)
        counts = publish_ranking(target, run, ranking, keep_runs=args.keep_runs, topk=topk)
        swap_in(building, warehouse_path(args.env))
        print(f"    top k: {topk['topk_method']}, recall@{topk['k']} {topk['recall_at_k']:.4f}"
              f" on {topk['sample_size']:,} sampled users", flush=True)
        print(f"[3/3] publish {counts['rows']:,} rows for {counts['users']:,} users"
              f"  {time.perf_counter() - t:.1f} s", flush=True)
    except (PipelineError, OSError, RuntimeError, ValueError, sqlite3.Error, duckdb.Error) as exc:
        message = explain(exc, target)
        kept = _keep_failed_build(building, failed_build_path(args.env), keep_failed)
        print(f"error: {message}", file=sys.stderr)
        if kept:
            print(f"the failed build is kept at {kept} for diagnosis; the warehouse"
                  f" {warehouse_path(args.env)} still holds the last good build", file=sys.stderr)
        try:
            record_failed_run(target, run, message)
        except Exception as record_exc:  # the failure itself matters more than its record
            print(f"(could not record the failed run: {record_exc})", file=sys.stderr)
        return 1
    print(f"done in {time.perf_counter() - t0:.1f} s: run {run_id} published")
    return 0
