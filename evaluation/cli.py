"""``python -m evaluation``: measure recommendation quality (argparse front end).

Subcommands:
  holdout       hide a share of each user's items before the pipeline runs
  score         score a published ranking (any kept run) against truth and/or held-out items
  compare       generate data, run baselines and ablations, print them side by side
  tune          the small tuning grid (weights, variance target, bin counts)
  fill-missing  complete a partial raw export with header-only tables (e.g. the real sample)
  features      feature ablations of one signal with plain cosine (a pointer for feature work)
"""
from __future__ import annotations

import argparse
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from contracts.cli_help import DefaultsHelpFormatter
from pipeline.paths import DEFAULT_RESULTS_TABLE

FMT = DefaultsHelpFormatter


def _add_holdout(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "holdout", formatter_class=FMT,
        help="hide a random share of each user's interest tags and viewed courses",
        description="Write masked raw tables (the pipeline's input) plus heldout_<kind>.csv with the hidden rows. "
                    "Per user, FRACTION of its distinct items is hidden (randomly rounded, at most all but one); "
                    "a hidden course takes all its view rows. Deterministic for a given --seed.")
    p.add_argument("--data-dir", type=Path, required=True, help="folder with the four raw tables")
    p.add_argument("--out", type=Path, required=True, help="folder for the masked tables and held-out files")
    p.add_argument("--fraction", type=float, default=0.2, help="share of each user's items to hide, in [0, 1)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the selection")
    p.add_argument("--kinds", nargs="+", default=["interests", "courses"],
                   choices=["interests", "courses", "assessments"], help="which items to hide")
    p.add_argument("--force", action="store_true", help="overwrite a non-empty --out")


def _add_score(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "score", formatter_class=FMT,
        help="score a published ranking (current or any kept run)",
        description="Precision@k against planted groups (--truth) and hit rate@k / recall@k of held-out items "
                    "(--heldout), next to random users, the most active users and popular items. Prints a table "
                    "and, last, one JSON line.")
    p.add_argument("--sqlite-path", type=Path, required=True, help="SQLite file the pipeline published to")
    p.add_argument("--results_table", "--results-table", dest="results_table", default=DEFAULT_RESULTS_TABLE,
                   help="published ranking table")
    p.add_argument("--run-id", default=None, help="a kept run (from <table>_history); default: the current one")
    p.add_argument("--k", type=int, default=None, help="neighbours scored per user; default: all the ranking has")
    p.add_argument("--truth", type=Path, default=None, help="truth/user_groups.csv of generated data")
    p.add_argument("--heldout", type=Path, default=None,
                   help="masked folder written by `holdout` (the ranking must be built on it)")
    p.add_argument("--data-dir", type=Path, default=None,
                   help="raw tables for the most-active-users baseline; default: --heldout, else the folder "
                        "holding truth/")
    p.add_argument("--seed", type=int, default=0, help="seed of the random-users baseline")
    p.add_argument("--json-out", type=Path, default=None, help="also write the result as JSON and CSV (stem)")


def _add_compare(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compare", formatter_class=FMT,
        help="baselines and ablations side by side on one dataset",
        description="Generate data (or use --data-dir), hide items with `holdout`, run the pipeline for the "
                    "default ensemble and each signal alone (weights 1 0 0 / 0 1 0 / 0 0 1) on the full and the "
                    "masked data, compute plain sparse cosine (no SVD), random users, most active users and "
                    "popular items, and print one table: planted-group precision from the full data, held-out "
                    "hit rate/recall from the masked data.")
    p.add_argument("--users", type=int, default=10_000, help="users to generate")
    p.add_argument("--seed", type=int, default=7, help="generator seed (also the holdout and random seed)")
    p.add_argument("--out", type=Path, required=True, help="work folder: data, warehouses, SQLite, logs")
    p.add_argument("--data-dir", type=Path, default=None, help="use these raw tables instead of generating")
    p.add_argument("--kinds", nargs="+", default=["interests", "courses"],
                   choices=["interests", "courses", "assessments"], help="items the holdout hides")
    p.add_argument("--fraction", type=float, default=0.2, help="holdout share")
    p.add_argument("--k", type=int, default=5, help="neighbours per user (pipeline --top-k)")
    p.add_argument("--extra", action="append", default=[], metavar="NAME=FLAGS",
                   help="an extra ensemble row, e.g. 'tuned=--weights 0.6 0.1 0.3 --variance 0.8' (repeatable)")
    p.add_argument("--results", type=Path, default=None,
                   help="stem of JSON/CSV/Markdown copies of the table, e.g. docs/results/compare_seed7")
    p.add_argument("--reference", default="ensemble (defaults)",
                   help="row the paired differences ('vs ref') are taken against: the default or an --extra name")


def _add_tune(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "tune", formatter_class=FMT,
        help="small grid over weights, variance target and bin counts",
        description="Stage 1: one default pipeline run per dataset, then an in-process re-rank of its stored "
                    "vectors for every weight triple on a simplex grid. Stage 2: one run per value of "
                    "--variance-grid / --score-bins-grid / --view-time-bins-grid (one parameter at a time, at the "
                    "best stage-1 weights). Results are appended to --results as they come; a rerun resumes.")
    p.add_argument("--users", type=int, default=10_000, help="users to generate")
    p.add_argument("--seed", type=int, default=11, help="generator (and holdout) seed")
    p.add_argument("--out", type=Path, required=True, help="work folder")
    p.add_argument("--results", type=Path, required=True, help="JSON-lines file, e.g. docs/results/tuning_seed11.jsonl")
    p.add_argument("--data-dir", type=Path, default=None, help="use these raw tables instead of generating")
    p.add_argument("--kinds", nargs="+", default=["interests", "courses"],
                   choices=["interests", "courses", "assessments"], help="items the holdout hides")
    p.add_argument("--fraction", type=float, default=0.2, help="holdout share")
    p.add_argument("--datasets", nargs="+", default=["full", "masked"], choices=["full", "masked"],
                   help="full: planted precision; masked: held-out metrics (and precision)")
    p.add_argument("--weights-step", type=float, default=0.1, help="simplex grid step; 0 skips the weight grid")
    p.add_argument("--variance-grid", type=float, nargs="*", default=[0.5, 0.7, 0.8, 0.95, 1.0])
    p.add_argument("--score-bins-grid", type=int, nargs="*", default=[2, 5])
    p.add_argument("--view-time-bins-grid", type=int, nargs="*", default=[2, 8])
    p.add_argument("--objective", choices=["precision", "hit_rate", "recall"], default="precision",
                   help="what the best weights maximise")
    p.add_argument("--objective-dataset", choices=["full", "masked"], default="full")
    p.add_argument("--k", type=int, default=5, help="neighbours per user")


def _add_fill_missing(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "fill-missing", formatter_class=FMT,
        help="copy a partial raw export, adding header-only files for absent tables",
        description="The real sample ships only course_tags and user_assessment_scores; the pipeline needs all "
                    "four tables. Present tables are copied unchanged, absent ones written with their header only.")
    p.add_argument("--data-dir", type=Path, required=True, help="folder with some of the raw tables")
    p.add_argument("--out", type=Path, required=True, help="folder for the completed set")


def _add_features(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "features", formatter_class=FMT,
        help="planted-group precision of feature variants (plain cosine, one signal at a time)",
        description="Reads the feature tables of a built warehouse, builds variants (e.g. course tags without the "
                    "view-time bins, tf-idf weighting) and scores plain sparse cosine on each against --truth.")
    p.add_argument("--warehouse", type=Path, required=True, help="a built DuckDB warehouse file")
    p.add_argument("--truth", type=Path, required=True, help="truth/user_groups.csv of the data it was built on")
    p.add_argument("--k", type=int, default=5, help="neighbours per user")
    p.add_argument("--results", type=Path, default=None, help="stem of JSON/CSV/Markdown copies of the table")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m evaluation", formatter_class=argparse.RawDescriptionHelpFormatter,
        description=__doc__.split("\n", 1)[1] if __doc__ else None)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (_add_holdout, _add_score, _add_compare, _add_tune, _add_fill_missing, _add_features):
        add(sub)
    return parser


def cmd_holdout(args: argparse.Namespace) -> int:
    from evaluation.holdout import holdout

    t0 = time.perf_counter()
    summaries = holdout(args.data_dir, args.out, args.fraction, args.seed, args.kinds, args.force)
    for s in summaries:
        print(f"{s.kind:<12} hid {s.hidden_pairs:,} of {s.pairs:,} (user, item) pairs ({s.hidden_share:.1%}),"
              f" {s.hidden_rows:,} of {s.rows:,} rows; {s.users_with_hidden:,} of {s.users:,} users lost an item")
    print(f"wrote {args.out} in {time.perf_counter() - t0:.1f} s")
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    from evaluation.neighbours import read_ranking
    from evaluation.report import columns_for, format_table, json_line, write_results
    from evaluation.scoring import baselines, load_heldout, read_truth, score_methods

    if args.truth is None and args.heldout is None:
        raise ValueError("give --truth (planted groups), --heldout (held-out items) or both")
    t0 = time.perf_counter()
    neighbours, run_id = read_ranking(args.sqlite_path, args.results_table, args.run_id)
    k = args.k or neighbours.k
    activity_dir = args.data_dir or args.heldout
    if activity_dir is None and args.truth is not None and (args.truth.parent.parent / "user_interests.csv").exists():
        activity_dir = args.truth.parent.parent
    truth = read_truth(args.truth) if args.truth else None
    heldout = load_heldout(args.heldout) if args.heldout else None
    name = f"ranking {args.results_table}"
    methods = {name: neighbours.top(k)} | baselines(neighbours.users, activity_dir, k, args.seed)
    rows = list(score_methods(methods, k, truth=truth, heldout=heldout, popular_reference=name,
                               reference=name).values())
    seconds = time.perf_counter() - t0
    print(f"run {run_id} of {args.results_table} in {args.sqlite_path}: {neighbours.users.size:,} users, k={k}")
    print(format_table(rows, columns_for(rows, k)))
    if heldout is not None:
        print(f"popular items: per user and kind, as many as the ranking's neighbours offer ('items/user');"
              f" held-out fraction {heldout.fraction:g}")
    print(f"evaluated in {seconds:.1f} s")
    payload = {"command": "score", "sqlite_path": str(args.sqlite_path), "results_table": args.results_table,
               "run_id": run_id, "k": k, "seconds": round(seconds, 2), "rows": rows}
    if args.json_out:
        write_results(args.json_out, payload, rows)
    print(json_line(payload))
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from evaluation.compare import compare

    extras = {}
    for spec in args.extra:
        name, _, flags = spec.partition("=")
        if not name or not flags:
            raise ValueError(f"--extra must look like NAME=FLAGS, got {spec!r}")
        extras[name] = shlex.split(flags)
    compare(args.out, users=args.users, seed=args.seed, data_dir=args.data_dir, kinds=args.kinds,
            fraction=args.fraction, k=args.k, extras=extras, results=args.results, reference=args.reference)
    return 0


def cmd_tune(args: argparse.Namespace) -> int:
    from evaluation.tune import tune

    summary = tune(args.out, args.results, users=args.users, seed=args.seed, data_dir=args.data_dir,
                   kinds=args.kinds, fraction=args.fraction, datasets=args.datasets,
                   weights_step=args.weights_step, variance_grid=args.variance_grid,
                   score_bins_grid=args.score_bins_grid, view_time_bins_grid=args.view_time_bins_grid,
                   objective=args.objective, objective_dataset=args.objective_dataset, k=args.k)
    from evaluation.report import json_line

    print(json_line({"command": "tune"} | summary))
    return 0


def cmd_fill_missing(args: argparse.Namespace) -> int:
    import shutil

    from contracts.raw import RAW_TABLES, expected_columns

    args.out.mkdir(parents=True, exist_ok=True)
    for table in RAW_TABLES:
        source = args.data_dir / f"{table}.csv"
        target = args.out / f"{table}.csv"
        if source.exists():
            shutil.copyfile(source, target)
            print(f"copied  {target}")
        else:
            target.write_text(",".join(expected_columns()[table]) + "\n")
            print(f"header  {target} (absent from {args.data_dir})")
    return 0


def cmd_features(args: argparse.Namespace) -> int:
    from evaluation.feature_ablation import ablate
    from evaluation.report import format_table, json_line, markdown_table, write_results
    from evaluation.scoring import read_truth

    t0 = time.perf_counter()
    rows = ablate(args.warehouse, read_truth(args.truth), args.k)
    columns = [("method", "variant"), ("features", "features"), ("precision", f"P@{args.k}"),
               ("precision[<=30]", "grp<=30"), ("precision[>120]", "grp>120")]
    print(format_table(rows, columns))
    print(f"evaluated in {time.perf_counter() - t0:.1f} s")
    payload = {"command": "features", "warehouse": str(args.warehouse), "truth": str(args.truth), "rows": rows}
    if args.results:
        write_results(args.results, payload, rows)
        args.results.with_suffix(".md").write_text(markdown_table(rows, columns) + "\n")
    print(json_line(payload))
    return 0


COMMANDS = {"holdout": cmd_holdout, "score": cmd_score, "compare": cmd_compare, "tune": cmd_tune,
            "fill-missing": cmd_fill_missing, "features": cmd_features}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (ValueError, FileNotFoundError, FileExistsError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
