"""Tuning by size on a built warehouse: variance share per signal x smoothing neighbours, against the IDF baseline.

``python scripts/tune_by_size.py --warehouse WH/dev.duckdb --truth DATA/truth/user_groups.csv \
    --targets 0.85 0.4 0.85 --cap 512 --smooth 0 20 --idf``   (docs/analysis.md, section 8)

Runs the numeric core (the functions the dbt models call) on the features of one
build and prints precision@5 of planted groups on a seeded sample of users.
"""
import argparse
import json
import time
from pathlib import Path

import numpy as np

from evaluation.idf_baseline import BASELINE_WEIGHTS, idf_matrices
from evaluation.metrics import group_precision
from evaluation.plain_cosine import load_feature_matrices, sparse_top_k, stacked_cosine_matrix
from evaluation.scoring import read_truth
from simcore.ensemble import SIGNALS, normalise_weights, signal_blocks, stack_weighted
from simcore.smoothing import smooth
from simcore.svd import reduce_to_variance
from simcore.threads import blas_threads
from simcore.topk import exact_rows, top_k

p = argparse.ArgumentParser()
p.add_argument("--warehouse", type=Path, required=True)
p.add_argument("--truth", type=Path, required=True)
p.add_argument("--targets", nargs=3, type=float, action="append", required=True)
p.add_argument("--weights", nargs=3, type=float, default=[0.75, 0.05, 0.2])
p.add_argument("--smooth", nargs="+", type=int, default=[0, 20])
p.add_argument("--sample", type=int, default=4000)
p.add_argument("--idf", action="store_true")
p.add_argument("--cap", type=int, default=None)
a = p.parse_args()
truth = read_truth(a.truth)
universe, matrices = load_feature_matrices(a.warehouse)
g = np.full(universe.max() + 1, -1)
g[np.asarray(truth.users)] = np.asarray(truth.groups)
rng = np.random.default_rng(0)
sample = np.sort(rng.choice(universe.size, size=min(a.sample, universe.size), replace=False))

def prec(rows, idx):
    return group_precision(g, universe[rows], universe[idx])

def emit(**row):
    print(json.dumps(row), flush=True)

with blas_threads():
    if a.idf:
        ub, idf = idf_matrices(a.warehouse)
        assert (ub == universe).all()
        idx, _ = sparse_top_k(stacked_cosine_matrix(idf, BASELINE_WEIGHTS), 5, rows=sample)
        emit(method="idf", n=int(universe.size), p5=round(prec(sample, idx), 4))
    for targets in a.targets:
        t = time.perf_counter()
        vecs, ranks = {}, {}
        for s_, tg in zip(SIGNALS, targets, strict=True):
            m = matrices[s_]
            has = np.flatnonzero(np.diff(m.indptr))
            r = reduce_to_variance(m[has], tg, max_components=a.cap)
            v = np.zeros((m.shape[0], max(r.n_components, 1)), np.float32)
            v[has, :r.vectors.shape[1]] = r.vectors
            vecs[s_], ranks[s_] = v, r.n_components
        w = normalise_weights(dict(zip(SIGNALS, a.weights, strict=True)))
        z = stack_weighted(vecs, w)
        t_svd = time.perf_counter() - t
        for m_ in a.smooth:
            t = time.perf_counter()
            zz = z
            if m_:
                nb, sc = top_k(z, m_)
                zz = smooth(z, [(lo, hi, wt) for _, lo, hi, wt in signal_blocks(vecs, w)], nb, sc)
            idx, _ = exact_rows(zz, sample, 5)
            emit(method="svd", targets=targets, ranks=ranks, dims=int(z.shape[1]), smooth=m_, n=int(universe.size),
                 p5=round(prec(sample, idx), 4), svd_s=round(t_svd, 1), s=round(time.perf_counter() - t, 1))
