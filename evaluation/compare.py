"""Baselines and ablations side by side, every one through the same metrics on the same data.

Two datasets come from one generated (or given) raw folder: ``full`` gives
planted-group precision, ``masked`` (the holdout step's output) gives held-out
hit rate and recall. On each, the pipeline runs once per ensemble variant:

- the default ensemble (no flags: whatever the CLI ships), plus ``--extra`` rows
- each signal alone (``--weights 1 0 0`` / ``0 1 0`` / ``0 0 1``), when its table has data

and this module adds, from the same warehouse and raw tables:

- the original system: its weights (0.5 / 0.3 / 0.2), variance target (0.9, flat: no growth, no cap, no smoothing)
  and unweighted features (``ORIGINAL_FLAGS``), through the same pipeline
- plain sparse cosine without SVD, at the weights of every ensemble row
- the strong simple baseline: exact IDF-weighted sparse cosine on the cleaned
  items (:mod:`evaluation.idf_baseline`), written independently of the features
- random users, the most active users, and (held-out only) popular items
"""
from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from evaluation.holdout import holdout
from evaluation.idf_baseline import idf_cosine_neighbours
from evaluation.neighbours import Neighbours, read_ranking
from evaluation.plain_cosine import load_feature_matrices, plain_cosine_neighbours
from evaluation.report import columns_for, format_table, json_line, markdown_table, write_results
from evaluation.runs import SIGNAL_WEIGHTS, ensure_generated, run_pipeline, signals_in_raw
from evaluation.scoring import ACTIVE, POPULAR_ITEMS, RANDOM, Row, baselines, load_heldout, read_truth, score_methods
from evaluation.tune import cli_defaults
from simcore.ensemble import SIGNALS
from simcore.threads import blas_threads

DEFAULT = "ensemble (defaults)"
ORIGINAL = "original system"
IDF_BASELINE = "IDF sparse cosine (baseline)"
ORIGINAL_FLAGS: list[str] = ["--weights", "0.5", "0.3", "0.2", "--variance", "0.9", "--variance-growth", "0",
                             "--max-components", "0", "--smoothing-neighbours", "0", "--feature-weighting", "none",
                             "--engagement", "none", "--no-course-identity"]


def _weights_of(flags: Sequence[str], default: Sequence[float]) -> tuple[float, ...]:
    if "--weights" in flags:
        at = list(flags).index("--weights")
        return tuple(float(x) for x in flags[at + 1:at + 4])
    return tuple(default)


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name).strip("_")[:40]


def compare(
    out: Path,
    *,
    users: int = 10_000,
    seed: int = 7,
    data_dir: Path | None = None,
    kinds: Sequence[str] = ("interests", "courses"),
    fraction: float = 0.2,
    k: int = 5,
    extras: Mapping[str, list[str]] | None = None,
    results: Path | None = None,
    reference: str = DEFAULT,
) -> list[Row]:
    """Run everything, print the side-by-side table and a JSON line; returns the rows."""
    if reference != DEFAULT and reference not in (extras or {}):
        raise ValueError(f"--reference must be {DEFAULT!r} or the name of an --extra row, got {reference!r}")
    t_start = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    raw = data_dir if data_dir is not None else ensure_generated(out / "raw", users, seed)
    masked = out / "masked"
    manifest = masked / "holdout.json"
    wanted = {"fraction": fraction, "seed": seed, "kinds": list(kinds)}
    if not manifest.exists() or any(json.loads(manifest.read_text()).get(k) != v for k, v in wanted.items()):
        holdout(raw, masked, fraction=fraction, seed=seed, kinds=kinds, force=True)
    truth_file = raw / "truth" / "user_groups.csv"
    truth = read_truth(truth_file) if truth_file.exists() else None
    heldout = load_heldout(masked)
    defaults = cli_defaults()
    signals = signals_in_raw(raw)

    variants: dict[str, list[str]] = {DEFAULT: []}
    variants |= {f"{s.replace('_', ' ')} only": ["--weights", *(f"{w:g}" for w in SIGNAL_WEIGHTS[s])]
                 for s in SIGNALS if s in signals}
    variants[ORIGINAL] = ORIGINAL_FLAGS
    variants |= dict(extras or {})
    plain_for: dict[str, tuple[float, ...]] = {}
    for name, flags in variants.items():  # one plain-cosine row per distinct weight setting of an ensemble row
        weights = _weights_of(flags, defaults["weights"])
        if (name == DEFAULT or name in (extras or {})) and weights not in plain_for.values():
            plain_for[name] = weights

    lists: dict[str, dict[str, Neighbours]] = {"full": {}, "masked": {}}
    timings: dict[str, Any] = {}
    for dataset, data in (("full", raw), ("masked", masked)):
        if dataset == "full" and truth is None:
            continue  # no planted groups to score on real data: only the masked runs matter
        for name, flags in variants.items():
            table = f"{dataset}_{_slug(name)}"
            print(f"[{dataset}] {name}: python -m pipeline {' '.join(flags + ['--top-k', str(k)])}", flush=True)
            run = run_pipeline(data, out / f"wh_{dataset}", out / "compare.db", table, [*flags, "--top-k", str(k)],
                               log=out / f"{table}.log")
            timings[f"pipeline[{dataset}:{name}]"] = round(run.seconds, 1)
            lists[dataset][name], _ = read_ranking(run.sqlite_path, table)
            if name == DEFAULT:  # features depend on data and bins only: read them once, after the default run
                t = time.perf_counter()
                universe, matrices = load_feature_matrices(run.warehouse)
                with blas_threads():
                    for plain_name, weights in plain_for.items():
                        label = "plain cosine, no SVD" + ("" if plain_name == DEFAULT else f" ({plain_name})")
                        lists[dataset][label] = plain_cosine_neighbours(
                            universe, matrices, dict(zip(SIGNALS, weights, strict=True)), k)
                    lists[dataset][IDF_BASELINE] = idf_cosine_neighbours(run.warehouse, k)
                timings[f"plain_cosine[{dataset}]"] = round(time.perf_counter() - t, 1)

    rows: dict[str, Row] = {}
    for dataset in ("full", "masked"):
        if not lists[dataset]:
            continue
        base = baselines(lists[dataset][DEFAULT].users, raw if dataset == "full" else masked, k, seed)
        methods = base | lists[dataset]
        t = time.perf_counter()
        scored = score_methods(methods, k, truth=truth if dataset == "full" else None,
                               heldout=heldout if dataset == "masked" else None, popular_reference=reference,
                               reference=reference)
        timings[f"evaluate[{dataset}] ({len(methods)} lists)"] = round(time.perf_counter() - t, 1)
        for name, row in scored.items():
            rows.setdefault(name, {"method": name, "k": k}).update(
                {key: v for key, v in row.items() if key not in ("method", "k")})

    order = [RANDOM, ACTIVE, POPULAR_ITEMS] + [n for n in rows if n.endswith(" only")] \
        + [n for n in rows if n.startswith("plain cosine")] + [IDF_BASELINE, ORIGINAL, DEFAULT] + list(extras or {})
    table_rows = [rows[n] for n in order if n in rows]
    columns = columns_for(table_rows, k)
    timings["total"] = round(time.perf_counter() - t_start, 1)
    print()
    print(format_table(table_rows, columns))
    print(f"\nprecision from the full data ({'generated' if data_dir is None else data_dir}); hit rate / recall from "
          f"the masked data ({fraction:g} of each user's {', '.join(kinds)} hidden). popular items: per user, as "
          f"many as the {reference!r} neighbours offer. 'vs ref': paired difference to {reference!r}"
          f" over the same users, with its 95% half-width.")
    payload = {"command": "compare", "users": users if data_dir is None else None, "seed": seed,
               "data": "generated" if data_dir is None else str(data_dir), "k": k, "fraction": fraction,
               "kinds": list(kinds), "reference": reference, "defaults": defaults, "variants": variants,
               "timings": timings, "rows": table_rows}
    if results is not None:
        write_results(results, payload, table_rows)
        results.with_suffix(".md").write_text(markdown_table(table_rows, columns) + "\n")
    print(json_line(payload))
    return table_rows
