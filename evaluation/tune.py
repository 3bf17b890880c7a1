"""The tuning grid: weights, variance target and bin counts, one JSON line per result.

Time is the constraint (a 10,000-user pipeline run costs ~45 s on 2 cores), so:

- weights need no pipeline run: they only combine the per-signal vectors.
  After one run, the stored ``user_vectors_*`` are re-ranked in-process with
  the pipeline's own code (``vectors_in_universe`` -> ``stack_weighted`` ->
  ``top_k``, what ``simcore.tables.rank_users`` does) for every weight on a
  simplex grid. A re-rank at the run's own weights is checked against the
  published ranking, so a drift between the two paths would show.
- variance target and bin counts change the vectors, so each value is one
  pipeline run (per dataset), one parameter at a time around the defaults,
  at the best weights of stage 1 (and re-ranked at the default weights too).

Every result is appended to ``--results`` as it is produced; a rerun skips
results already there, so an interrupted grid resumes.
"""
from __future__ import annotations

import itertools
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from evaluation.holdout import DEFAULT_KINDS, holdout
from evaluation.neighbours import Neighbours, from_indices, read_ranking
from evaluation.report import append_jsonl
from evaluation.runs import ensure_generated, load_vectors, run_pipeline, signals_in_raw
from evaluation.scoring import HeldoutData, Truth, load_heldout, read_truth, score_methods
from simcore.ensemble import SIGNALS, normalise_weights, stack_weighted
from simcore.tables import vectors_in_universe
from simcore.threads import blas_threads
from simcore.topk import top_k

OBJECTIVES = ("precision", "hit_rate", "recall")


def cli_defaults() -> dict[str, Any]:
    """The pipeline CLI's current defaults, so "default" always means what ships."""
    from pipeline.cli import parse_args

    args = parse_args([])
    return {"weights": tuple(float(w) for w in args.weights), "variance": args.variance,
            "score_bins": args.score_bins, "view_time_bins": args.view_time_bins, "top_k": args.top_k}


@dataclass(frozen=True)
class Config:
    """Pipeline parameters of one grid point."""

    weights: tuple[float, float, float]
    variance: float
    score_bins: int
    view_time_bins: int

    def flags(self) -> list[str]:
        return ["--weights", *(f"{w:g}" for w in self.weights), "--variance", f"{self.variance:g}",
                "--score-bins", str(self.score_bins), "--view-time-bins", str(self.view_time_bins)]

    def label(self) -> str:
        return f"v{self.variance:g}_s{self.score_bins}_t{self.view_time_bins}"


def simplex(step: float) -> list[tuple[float, float, float]]:
    """All weight triples on a grid of ``step`` that sum to 1."""
    n = round(1 / step)
    return [(round(a * step, 4), round(b * step, 4), round((n - a - b) * step, 4))
            for a, b in itertools.product(range(n + 1), repeat=2) if a + b <= n]


def _normalised(weights: Sequence[float]) -> tuple[float, float, float]:
    w = normalise_weights(dict(zip(SIGNALS, weights, strict=True)))
    return tuple(round(w[s], 4) for s in SIGNALS)  # type: ignore[return-value]


def rerank(universe: np.ndarray, vectors: dict[str, np.ndarray], weights: Sequence[float], k: int) -> Neighbours:
    """Top k of every user at ``weights`` from stored per-signal vectors (the pipeline's own path)."""
    with blas_threads():
        index, _ = top_k(stack_weighted(vectors, dict(zip(SIGNALS, weights, strict=True))), k)
    return from_indices(universe, index)


@dataclass
class Tuner:
    """State of one tuning session: data, evaluation inputs, and the results written so far."""

    out: Path
    results: Path
    raw: Path
    masked: Path
    datasets: Sequence[str]
    k: int
    seed: int
    truth: Truth | None
    heldout: HeldoutData | None
    meta: dict[str, Any]
    done: set[str] = field(default_factory=set)

    def key(self, dataset: str, config: Config, source: str) -> str:
        return f"{dataset}|{config.label()}|{_normalised(config.weights)}|{source}"

    def evaluate(self, dataset: str, neighbours: Neighbours) -> dict[str, Any]:
        heldout = self.heldout if dataset == "masked" else None
        row = score_methods({"x": neighbours}, self.k, truth=self.truth, heldout=heldout)["x"]
        row.pop("method")
        return row

    def record(self, dataset: str, config: Config, source: str, stage: str, metrics: dict[str, Any],
               **extra: Any) -> dict[str, Any]:
        entry = self.meta | {"dataset": dataset, "stage": stage, "source": source,
                             "weights": list(_normalised(config.weights)), "variance": config.variance,
                             "score_bins": config.score_bins, "view_time_bins": config.view_time_bins} \
            | extra | metrics
        append_jsonl(self.results, entry)
        self.done.add(self.key(dataset, config, source))
        p = metrics.get("precision")
        r = metrics.get("recall")
        print(f"  {dataset:<6} {config.label():<14} w={_normalised(config.weights)} {source:<8}"
              f" P@{self.k}={p if p is None else round(p, 4)} recall={r if r is None else round(r, 4)}", flush=True)
        return entry

    def run(self, config: Config, stage: str, rerank_weights: Sequence[Sequence[float]] = ()) -> list[dict]:
        """One pipeline run per dataset at ``config``, then in-process re-ranks at ``rerank_weights``."""
        entries: list[dict] = []
        for dataset in self.datasets:
            todo = [w for w in rerank_weights
                    if self.key(dataset, replace(config, weights=tuple(w)), "rerank") not in self.done]
            if self.key(dataset, config, "pipeline") in self.done and not todo:
                continue
            data_dir = self.raw if dataset == "full" else self.masked
            table = f"{dataset}_{config.label()}".replace(".", "_")
            run = run_pipeline(data_dir, self.out / f"wh_{dataset}", self.out / "tune.db", table, config.flags(),
                               log=self.out / f"{table}.log")
            published, _ = read_ranking(run.sqlite_path, table)
            t = time.perf_counter()
            metrics = self.evaluate(dataset, published)
            entries.append(self.record(dataset, config, "pipeline", stage, metrics, run_id=run.run_id,
                                       pipeline_seconds=round(run.seconds, 1),
                                       eval_seconds=round(time.perf_counter() - t, 2)))
            if not todo:
                continue
            universe, tables = load_vectors(run.warehouse)
            vectors = {s: vectors_in_universe(tables[s], universe) for s in SIGNALS}
            check = rerank(universe, vectors, config.weights, self.k)
            same = bool(np.array_equal(check.users, published.users)
                        and np.array_equal(check.handles, published.top(self.k).handles))
            for weights in todo:
                t = time.perf_counter()
                neighbours = rerank(universe, vectors, weights, self.k)
                seconds = time.perf_counter() - t
                entries.append(self.record(dataset, replace(config, weights=tuple(weights)), "rerank", stage,
                                           self.evaluate(dataset, neighbours), rerank_seconds=round(seconds, 1),
                                           rerank_matches_pipeline=same))
        return entries


def load_done(results: Path, meta: dict[str, Any]) -> tuple[set[str], list[dict]]:
    """Keys and entries of results already in the file for this dataset (resume)."""
    done: set[str] = set()
    entries: list[dict] = []
    if results.exists():
        for line in results.read_text().splitlines():
            entry = json.loads(line)
            if any(entry.get(k) != v for k, v in meta.items() if k in ("seed", "users", "data")):
                continue
            config = Config(tuple(entry["weights"]), entry["variance"], entry["score_bins"],
                            entry["view_time_bins"])
            done.add(f"{entry['dataset']}|{config.label()}|{_normalised(config.weights)}|{entry['source']}")
            entries.append(entry)
    return done, entries


def best(entries: Sequence[dict], objective: str, dataset: str, **where: Any) -> dict | None:
    """The entry with the highest ``objective`` on ``dataset`` among entries matching ``where``."""
    pool = [e for e in entries if e["dataset"] == dataset and e.get(objective) is not None
            and all(e.get(k) == v for k, v in where.items())]
    return max(pool, key=lambda e: e[objective]) if pool else None


def tune(
    out: Path,
    results: Path,
    *,
    users: int = 10_000,
    seed: int = 11,
    data_dir: Path | None = None,
    kinds: Sequence[str] = DEFAULT_KINDS,
    fraction: float = 0.2,
    datasets: Sequence[str] = ("full", "masked"),
    weights_step: float = 0.1,
    variance_grid: Sequence[float] = (0.5, 0.7, 0.8, 0.95, 1.0),
    score_bins_grid: Sequence[int] = (2, 5),
    view_time_bins_grid: Sequence[int] = (2, 8),
    objective: str = "precision",
    objective_dataset: str = "full",
    k: int = 5,
) -> dict[str, Any]:
    """Run the grid; returns (and writes beside ``results``) a summary with the best settings found."""
    out.mkdir(parents=True, exist_ok=True)
    raw = data_dir if data_dir is not None else ensure_generated(out / "raw", users, seed)
    masked = out / "masked"
    if "masked" in datasets and not (masked / "holdout.json").exists():
        holdout(raw, masked, fraction=fraction, seed=seed, kinds=kinds, force=True)
    truth_file = raw / "truth" / "user_groups.csv"
    truth = read_truth(truth_file) if truth_file.exists() else None
    meta = {"data": str(data_dir) if data_dir else "generated", "users": users if data_dir is None else None,
            "seed": seed, "k": k, "fraction": fraction}
    done, previous = load_done(results, meta)
    tuner = Tuner(out, results, raw, masked, datasets, k, seed, truth,
                  load_heldout(masked) if "masked" in datasets else None, meta, done)
    d = cli_defaults()
    default = Config(d["weights"], d["variance"], d["score_bins"], d["view_time_bins"])

    print(f"stage 1: defaults {default.flags()} and a weight grid of step {weights_step}", flush=True)
    signals = signals_in_raw(raw)
    grid = simplex(weights_step) if weights_step > 0 and len(signals) > 1 else []
    grid = [w for w in grid if all(w[SIGNALS.index(s)] == 0 or s in signals for s in SIGNALS)]
    entries = previous + tuner.run(default, "weights", [default.weights, *grid])
    pick = best(entries, objective, objective_dataset, source="rerank", variance=default.variance,
                score_bins=default.score_bins, view_time_bins=default.view_time_bins) if grid else None
    best_weights = tuple(pick["weights"]) if pick else default.weights
    print(f"stage 1 best weights by {objective} on {objective_dataset}: {best_weights}", flush=True)

    print("stage 2: variance target and bin counts, one at a time", flush=True)
    grid_configs = [replace(default, variance=v) for v in variance_grid] \
        + [replace(default, score_bins=b) for b in score_bins_grid] \
        + [replace(default, view_time_bins=b) for b in view_time_bins_grid]
    for config in grid_configs:
        at_best = replace(config, weights=best_weights)
        entries += tuner.run(at_best, "grid", [default.weights] if best_weights != default.weights else [])

    summary = summarise(entries, objective, objective_dataset, default)
    summary_path = results.with_name(results.stem + "_summary.json")
    summary_path.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"summary -> {summary_path}", flush=True)
    return summary


def summarise(entries: Sequence[dict], objective: str, dataset: str, default: Config) -> dict[str, Any]:
    """Best entry overall, the defaults' entry, and the best per parameter."""
    def pick(e: dict | None) -> dict | None:
        if e is None:
            return None
        keys = ("dataset", "source", "weights", "variance", "score_bins", "view_time_bins",
                "precision", "hit_rate", "recall")
        return {k: e.get(k) for k in keys}

    defaults = [e for e in entries if e["dataset"] == dataset and e["source"] == "pipeline"
                and e["variance"] == default.variance and e["score_bins"] == default.score_bins
                and e["view_time_bins"] == default.view_time_bins
                and e["weights"] == list(_normalised(default.weights))]
    return {
        "objective": objective,
        "objective_dataset": dataset,
        "default": pick(defaults[-1] if defaults else None),
        "best": pick(best(entries, objective, dataset)),
        "best_pipeline_run": pick(best(entries, objective, dataset, source="pipeline")),
    }
