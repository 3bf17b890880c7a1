"""Benchmark the whole pipeline: ``python -m benchmarks.pipeline --users N``.

Generates N users (not timed), runs ``python -m pipeline`` in a fresh
warehouse as a subprocess, and prints wall time per step and per model plus
the peak resident memory of the pipeline process. BLAS threads are set with
``--blas-threads`` (passed as USER_SIM_BLAS_THREADS) so both settings can be
compared on the same data.
"""
from __future__ import annotations

import argparse
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from datagen.generate import generate

STEP = re.compile(r"^\[(\d)/3\] (\w+)\s.*?([\d.]+) s$")
NODE = re.compile(r"^\s+(model|seed)\s+(\S+)\s+\S+\s+([\d.]+) s$")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pipeline", description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000, help="users to generate")
    parser.add_argument("--seed", type=int, default=42, help="generator seed")
    parser.add_argument("--blas-threads", default=str(os.cpu_count() or 1),
                        help="USER_SIM_BLAS_THREADS for the run (0 = libraries' own default)")
    parser.add_argument("--workdir", type=Path, default=None, help="keep data and outputs here (default: temp)")
    parser.add_argument("--top", type=int, default=8, help="slowest models to list")
    parser.add_argument("--setting", default="realistic", choices=["planted", "realistic", "sparse"],
                        help="generator setting (python -m datagen --setting)")
    parser.add_argument("--catalogue", type=Path, default=None,
                        help="course_tags export as the catalogue, e.g. ../shared/data/real/course_tags.csv")
    parser.add_argument("--data-dir", type=Path, default=None, help="benchmark these raw tables instead")
    parser.add_argument("--baseline", action=argparse.BooleanOptionalAction, default=True,
                        help="also time the exact sparse-cosine reference (benchmarks.sparse_baseline)")
    parser.add_argument("--topk-executor", choices=["local", "spark"], default=None,
                        help="python -m pipeline --topk-executor (spark: master from USER_SIM_SPARK_MASTER)")
    parser.add_argument("pipeline_args", nargs="*", help="after --: extra flags for python -m pipeline")
    args = parser.parse_args(argv)

    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench_pipeline_"))
    raw = args.data_dir or work / f"raw_{args.setting}_{args.users}_{args.seed}"
    if not raw.exists():
        t = time.perf_counter()
        generate(raw, users=args.users, seed=args.seed, setting=args.setting, catalogue=args.catalogue)
        print(f"generated {args.users:,} users ({args.setting}) in {time.perf_counter() - t:.1f} s (not counted)")
    shutil.rmtree(work / "warehouse", ignore_errors=True)
    env = dict(os.environ, USER_SIM_WAREHOUSE_DIR=str(work / "warehouse"),
               USER_SIM_BLAS_THREADS=args.blas_threads, DBT_SEND_ANONYMOUS_USAGE_STATS="false")
    cmd = [sys.executable, "-m", "pipeline", "--data-dir", str(raw), "--sqlite-path", str(work / "bench.db"),
           *args.pipeline_args]
    if args.topk_executor:
        cmd += ["--topk-executor", args.topk_executor]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    if proc.returncode != 0:
        print(proc.stdout, proc.stderr, sep="\n")
        return proc.returncode
    steps = {m.group(2): float(m.group(3)) for line in proc.stdout.splitlines() if (m := STEP.match(line))}
    nodes = sorted(((float(m.group(3)), m.group(2)) for line in proc.stdout.splitlines()
                    if (m := NODE.match(line))), reverse=True)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"data {raw}; BLAS threads {args.blas_threads}; pipeline flags {cmd[7:]}")
    print(f"{'step':<34}{'seconds':>9}")
    for name in ("input", "build", "publish"):
        print(f"{name:<34}{steps.get(name, float('nan')):>9.1f}")
    print(f"{'total (process wall time)':<34}{wall:>9.1f}")
    print("slowest models (dbt runs up to 2 at once):")
    for seconds, name in nodes[: args.top]:
        print(f"  {name:<32}{seconds:>9.1f}")
    print(f"peak RSS of the pipeline process: {peak_mib:,.0f} MiB")
    for line in proc.stdout.splitlines():
        if line.strip().startswith(("top k:", "spark ")):
            print(line.strip())
    if args.baseline:
        from benchmarks.sparse_baseline import run as baseline_run

        with _blas_env(args.blas_threads):
            seconds, _ = baseline_run(raw)
        print(f"exact sparse-cosine reference (benchmarks.sparse_baseline): {seconds:.1f} s; "
              f"pipeline / reference = {wall / seconds:.2f}x")
    return 0


@contextmanager
def _blas_env(threads: str) -> Iterator[None]:
    """The reference runs in this process: same BLAS thread setting as the pipeline's."""
    old = os.environ.get("USER_SIM_BLAS_THREADS")
    os.environ["USER_SIM_BLAS_THREADS"] = threads
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("USER_SIM_BLAS_THREADS")
        else:
            os.environ["USER_SIM_BLAS_THREADS"] = old


if __name__ == "__main__":
    sys.exit(main())
