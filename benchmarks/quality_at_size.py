"""Quality at a given size: ``python -m benchmarks.quality_at_size --users 100000 --seed 7 --out DIR``.

Generates the realistic setting (taste groups of ~50 users, so their number
grows with the users; pass the real course catalogue with ``--catalogue``),
runs the pipeline with the defaults (or ``--flags``) once, and prints
precision@5 of planted groups for the published ranking over every user and,
on a seeded sample of ``--sample`` users, for the product and the exact
IDF-weighted sparse cosine (:mod:`evaluation.idf_baseline`): the baseline is
exact for the sampled users (their sparse products against everyone), which
keeps it affordable at 100,000 users and more. Also prints the pipeline's
wall time and the child processes' peak RSS.
"""
from __future__ import annotations

import argparse
import json
import resource
import shlex
from pathlib import Path

import numpy as np

from evaluation.idf_baseline import BASELINE_WEIGHTS, idf_matrices
from evaluation.metrics import group_precision
from evaluation.neighbours import read_ranking
from evaluation.plain_cosine import sparse_top_k, stacked_cosine_matrix
from evaluation.runs import run_pipeline
from evaluation.scoring import read_truth


def idf_sample_neighbours(warehouse: Path, rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(universe, exact IDF-baseline top k handles of ``universe[rows]``)."""
    universe, matrices = idf_matrices(warehouse)
    index, _ = sparse_top_k(stacked_cosine_matrix(matrices, BASELINE_WEIGHTS), k, rows=rows)
    return universe, universe[index]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, required=True, help="work folder (data, warehouse, SQLite, log)")
    parser.add_argument("--catalogue", type=Path, default=None, help="course_tags export (e.g. ../shared/data/real)")
    parser.add_argument("--flags", default="", help="extra pipeline flags, quoted")
    parser.add_argument("--sample", type=int, default=4_000)
    args = parser.parse_args(argv)
    from datagen.generate import generate

    data = args.out / "data"
    if not (data / "truth" / "user_groups.csv").exists():
        generate(data, users=args.users, seed=args.seed, setting="realistic", catalogue=args.catalogue, force=True)
    run = run_pipeline(data, args.out / "warehouse", args.out / "ranking.db", "user_ranking",
                       shlex.split(args.flags), log=args.out / "pipeline.log")
    peak_gib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2
    truth = read_truth(data / "truth" / "user_groups.csv")
    groups = np.full(int(np.max(truth.users)) + 1, -1, np.int64)
    groups[np.asarray(truth.users)] = np.asarray(truth.groups)
    ranking, _ = read_ranking(run.sqlite_path, "user_ranking")
    k = 5
    rng = np.random.default_rng(args.seed)
    sample = np.sort(rng.choice(ranking.users.size, size=min(args.sample, ranking.users.size), replace=False))
    universe, idf_handles = idf_sample_neighbours(run.warehouse, sample, k)
    if not np.array_equal(universe, ranking.users):
        raise RuntimeError("the IDF baseline and the ranking cover different users")
    print(json.dumps({
        "users": int(ranking.users.size), "seed": args.seed, "flags": args.flags,
        "precision@5": round(group_precision(groups, ranking.users, ranking.handles[:, :k]), 4),
        "precision@5 sample": round(group_precision(groups, ranking.users[sample], ranking.handles[sample, :k]), 4),
        "idf precision@5 sample": round(group_precision(groups, universe[sample], idf_handles), 4),
        "sample": int(sample.size), "pipeline_s": round(run.seconds, 1), "pipeline_peak_rss_gib": round(peak_gib, 2),
    }))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
