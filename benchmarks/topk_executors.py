"""The exact top-k step alone on both executors: ``python -m benchmarks.topk_executors --warehouse FILE``.

Reads a built warehouse's user vectors (default weights), stacks them as
``user_ranking`` does, then times ``simcore.topk.top_k`` (this process, BLAS
threads from ``--blas-threads``) and ``simcore.spark_topk.spark_top_k``
(``USER_SIM_SPARK_MASTER``, default local[2], one BLAS thread per task) on the
same blocks, checks the two results are identical, and times one block on one
thread: the per-block cost the projection to 1M and 10M users in docs/benchmarks.md uses.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import duckdb
import numpy as np

from contracts.defaults import default_weights
from simcore.ensemble import SIGNALS
from simcore.spark_topk import spark_session, spark_top_k
from simcore.tables import stacked_vectors
from simcore.threads import blas_threads
from simcore.topk import block_starts, prepare_vectors, top_k, top_k_block


def load_stacked(warehouse: Path) -> np.ndarray:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        users = con.sql("select user_handle from int_users_unioned").to_arrow_table()
        tables = {s: con.sql(f"select user_handle, vector from user_vectors_{s}").to_arrow_table() for s in SIGNALS}
    finally:
        con.close()
    return stacked_vectors(users, tables, default_weights())[2]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.topk_executors", description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", type=Path, required=True, help="a built DuckDB warehouse file")
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--block-rows", type=int, default=0, help="0 = by the 256 MiB budget, as the pipeline")
    parser.add_argument("--blas-threads", type=int, default=2, help="BLAS threads of the local executor")
    args = parser.parse_args(argv)

    z = load_stacked(args.warehouse)
    n, d = z.shape
    step, starts = block_starts(n, args.block_rows)
    print(f"{n:,} users x {d} dims; {len(starts)} blocks of up to {step:,} users")
    t = time.perf_counter()
    with blas_threads(args.blas_threads):
        local = top_k(z, args.k, block_rows=step)
    local_s = time.perf_counter() - t
    print(f"local executor ({args.blas_threads} BLAS threads): {local_s:.1f} s")
    with spark_session() as session:
        t = time.perf_counter()
        spark = spark_top_k(z, args.k, block_rows=step, session=session)
        spark_s = time.perf_counter() - t
    same = np.array_equal(local[0], spark[0]) and np.array_equal(local[1], spark[1])
    print(f"spark executor (session start excluded): {spark_s:.1f} s; identical to local: {same}")
    zc, k_eff = prepare_vectors(z, args.k)
    stop = min(step, n)
    with blas_threads(1):
        top_k_block(zc, 0, stop, k_eff)  # warm
        t = time.perf_counter()
        repeats = 3
        for _ in range(repeats):
            top_k_block(zc, 0, stop, k_eff)
        block_s = (time.perf_counter() - t) / repeats
    print(f"one block ({stop:,} x {n:,} x {d}) on one thread: {block_s:.3f} s;"
          f" {block_s / (stop * n * d) * 1e12:.1f} ps per (user pair x dim)")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
