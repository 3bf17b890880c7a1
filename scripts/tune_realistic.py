"""Tuning grid on one dataset, fast: one dbt build per feature variant, then SVD + top k re-run in Python.

``python scripts/tune_realistic.py --data-dir /tmp/q/r11 --out /tmp/q/tune11``

Every weight x variance cell would otherwise cost a whole pipeline run. The
features of a build (``int_*_features``) do not depend on weights or the
variance target, so each variant is built once by ``python -m pipeline`` and
the grid re-runs only the numeric core (:func:`simcore.svd.reduce_to_variance`,
:func:`simcore.ensemble.stack_weighted`, :func:`simcore.topk.top_k`) on it, the
same functions the dbt Python models call. The IDF baseline's weights are
tuned the same way. Prints and writes one JSON line per cell.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from evaluation.idf_baseline import idf_matrices
from evaluation.metrics import planted_precision
from evaluation.neighbours import from_indices
from evaluation.plain_cosine import load_feature_matrices, plain_cosine_neighbours
from evaluation.runs import run_pipeline
from evaluation.scoring import read_truth
from simcore.ensemble import SIGNALS, stack_weighted
from simcore.svd import reduce_to_variance
from simcore.threads import blas_threads
from simcore.topk import top_k

VARIANTS: dict[str, list[str]] = {
    "defaults": [],
    "engagement bins": ["--engagement", "bins"],
    "engagement none": ["--engagement", "none"],
    "no course identity": ["--no-course-identity"],
    "no idf": ["--feature-weighting", "none"],
}
WEIGHTS = [(1, 0, 0), (0, 1, 0), (0, 0, 1), (0.8, 0, 0.2), (0.75, 0.05, 0.2), (0.7, 0, 0.3), (0.6, 0, 0.4),
           (0.6, 0.1, 0.3), (0.5, 0.3, 0.2)]
TARGETS = [0.3, 0.4, 0.5, 0.9]
BASELINE_WEIGHTS = [(1, 0, 0), (0, 0, 1), (0.9, 0, 0.1), (0.85, 0.05, 0.1), (0.8, 0, 0.2), (0.7, 0, 0.3)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    args = parser.parse_args()
    truth = read_truth(args.data_dir / "truth" / "user_groups.csv")
    args.out.mkdir(parents=True, exist_ok=True)
    results = args.out / "tuning.jsonl"

    def emit(row: dict) -> None:
        print(json.dumps(row), flush=True)
        with results.open("a") as fh:
            fh.write(json.dumps(row) + "\n")

    def precision(neighbours) -> float:
        return round(planted_precision(neighbours, truth.users, truth.groups, 5).precision, 4)

    for variant in args.variants:
        wh_dir = args.out / f"wh_{variant.replace(' ', '_')}"
        warehouse = wh_dir / "dev.duckdb"
        if not warehouse.exists():
            run_pipeline(args.data_dir, wh_dir, wh_dir / "r.db", "user_ranking", VARIANTS[variant])
        universe, matrices = load_feature_matrices(warehouse)
        with blas_threads():
            if variant == "defaults":
                universe_b, idf = idf_matrices(warehouse)
                for w in BASELINE_WEIGHTS:
                    nb = plain_cosine_neighbours(universe_b, idf, dict(zip(SIGNALS, w, strict=True)), 5)
                    emit({"method": "IDF baseline", "weights": w, "precision": precision(nb)})
                for w in WEIGHTS[3:5]:
                    nb = plain_cosine_neighbours(universe, matrices, dict(zip(SIGNALS, w, strict=True)), 5)
                    emit({"method": "features, no SVD", "weights": w, "precision": precision(nb)})
            for target in TARGETS if variant == "defaults" else [0.4]:
                vectors = {s: reduce_to_variance(m, target).vectors for s, m in matrices.items() if m.nnz}
                for w in WEIGHTS if variant == "defaults" else WEIGHTS[2:6]:
                    index, _ = top_k(stack_weighted(vectors, dict(zip(SIGNALS, w, strict=True))), 5)
                    emit({"method": variant, "variance": target, "weights": w,
                          "precision": precision(from_indices(universe, index))})


if __name__ == "__main__":
    main()
