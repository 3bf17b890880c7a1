"""Compare approximate top-k libraries on the pipeline's own vectors: ``python -m benchmarks.ann_compare``.

Reads the stacked ensemble vectors of a built warehouse (the input of
``user_ranking``), or tiles them to ``--users`` rows with small noise to
reach a size the warehouse does not have, then times each candidate index
(build, then search for every user) and measures recall@k against exact top k
on a 1,000-user sample, the same measure the pipeline records. Prints one
line per method and the peak RSS of the process.
"""
from __future__ import annotations

import argparse
import os
import platform
import resource
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from contracts.defaults import default_weights
from evaluation.runs import load_vectors
from simcore.ann import AnnParams, ann_top_k, build_index
from simcore.ensemble import stack_weighted
from simcore.recall import recall_on_rows
from simcore.tables import vectors_in_universe
from simcore.threads import blas_threads


def _faiss_hnsw(z: np.ndarray, k: int) -> np.ndarray:
    import faiss

    index = faiss.IndexHNSWFlat(z.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = 80
    index.add(z)
    index.hnsw.efSearch = 64
    _, found = index.search(z, k + 1)
    return _drop_self(found, k)


def _hnswlib(z: np.ndarray, k: int) -> np.ndarray:
    import hnswlib

    index = hnswlib.Index(space="ip", dim=z.shape[1])
    index.init_index(max_elements=z.shape[0], M=32, ef_construction=80, random_seed=0)
    index.add_items(z, np.arange(z.shape[0]))
    index.set_ef(64)
    found, _ = index.knn_query(z, k=k + 1)
    return _drop_self(found.astype(np.int64), k)


def _drop_self(found: np.ndarray, k: int) -> np.ndarray:
    rows = np.arange(found.shape[0])[:, None]
    keep = found != rows
    out = np.full((found.shape[0], k), -1, np.int64)
    for i in range(found.shape[0]):
        row = found[i][keep[i]][:k]
        out[i, :row.size] = row
    return out


def _faiss_ivf(z: np.ndarray, k: int) -> np.ndarray:
    import faiss

    nlist = int(4 * np.sqrt(z.shape[0]))
    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(z.shape[1]), z.shape[1], nlist, faiss.METRIC_INNER_PRODUCT)
    index.train(z[np.random.default_rng(0).choice(z.shape[0], min(z.shape[0], 100_000), replace=False)])
    index.add(z)
    index.nprobe = max(8, nlist // 32)
    _, found = index.search(z, k + 1)
    return _drop_self(found, k)


def _product(z: np.ndarray, k: int) -> np.ndarray:
    return ann_top_k(z, k)[0]


METHODS: dict[str, Callable[[np.ndarray, int], np.ndarray]] = {
    "simcore.ann (faiss HNSW, 1-thread build, exact re-score)": _product,
    "faiss IVFFlat nprobe nlist/32": _faiss_ivf,
    "faiss HNSWFlat M32 ef64": _faiss_hnsw,
    "hnswlib M32 ef64 (2-thread build)": _hnswlib,
}


def _sweep(z: np.ndarray, k: int, rows: np.ndarray, efs: list[int]) -> None:
    """One HNSW build (simcore.ann's shape), then recall and per-user search cost at each search width.

    Only the sample is searched, so a width too slow for a full run is still
    measured; the full-run figure is the sample's time scaled to every user.
    """
    p = AnnParams()
    t = time.perf_counter()
    index = build_index(z, p)
    print(f"faiss HNSWFlat M{p.m} efConstruction {p.ef_construction}: build {time.perf_counter() - t:.1f} s",
          flush=True)
    for ef in efs:
        index.hnsw.efSearch = ef
        t = time.perf_counter()
        _, found = index.search(z[rows], k + p.candidates)
        seconds = time.perf_counter() - t
        full = np.full((z.shape[0], k), -1, np.int64)
        self_last = np.argsort(found == rows[:, None], axis=1, kind="stable")  # faiss lists best first
        full[rows] = np.take_along_axis(found, self_last, axis=1)[:, :k]
        print(f"  ef {ef:>5}: recall@{k} {recall_on_rows(z, full, rows):.4f}, search "
              f"{seconds / rows.size * 1e3:.2f} ms/user, {seconds / rows.size * z.shape[0] / 60:.1f} min for all",
              flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ann_compare", description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", type=Path, required=True, help="a built DuckDB warehouse (dev.duckdb)")
    parser.add_argument("--users", type=int, default=None, help="tile the vectors to this many rows")
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--ef-sweep", type=lambda v: [int(x) for x in v.split(",")], default=None,
                        help="instead of --methods: one HNSW build, recall at these search widths (e.g. 64,128,256)")
    args = parser.parse_args(argv)

    universe, tables = load_vectors(args.warehouse)
    z = stack_weighted({s: vectors_in_universe(t, universe) for s, t in tables.items()}, default_weights())
    if args.users and args.users > z.shape[0]:
        rng = np.random.default_rng(0)
        reps = -(-args.users // z.shape[0])
        z = np.tile(z, (reps, 1))[: args.users]
        z += rng.normal(0, 0.02, z.shape).astype(np.float32) * (np.abs(z).sum(axis=1, keepdims=True) > 0)
        norms = np.linalg.norm(z, axis=1, keepdims=True)
        z = np.divide(z, norms, out=np.zeros_like(z), where=norms > 0).astype(np.float32)
    n, d = z.shape
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; vectors {n:,} x {d}; k {args.k}; "
          f"simcore.ann {AnnParams()}")
    rows = np.sort(np.random.default_rng(1).choice(n, size=min(n, 1000), replace=False))
    with blas_threads():
        if args.ef_sweep:
            _sweep(z, args.k, rows, args.ef_sweep)
            methods = []
        else:
            methods = args.methods
        for name in methods:
            t = time.perf_counter()
            found = METHODS[name](z, args.k)
            seconds = time.perf_counter() - t
            print(f"{name:<58} {seconds:8.1f} s   recall@{args.k} {recall_on_rows(z, found, rows):.4f}", flush=True)
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
