"""Same ranking on any CPU: run the pipeline under several OpenBLAS kernels and diff the published tables.

``python -m benchmarks.kernel_check`` (by hand, never in CI: tests and CI must
not change the environment's OpenBLAS variables). Each run gets its own
warehouse folder and SQLite file and one ``OPENBLAS_CORETYPE`` value (or none:
OpenBLAS picks by CPU); ``OPENBLAS_L2_SIZE`` is dropped with it, since a
forced kernel is what it tunes. The first run is the reference; every other
run's published table (neighbours and all scores, at the published
precision) is compared with it row by row, and every differing row is
printed: with scores rescored in float64 and rounded once (simcore.scoring),
only a pair whose exact score sits on a rounding boundary can differ.
"""
from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from contracts.published import COLUMN_NAMES
from pipeline.paths import default_data_dir

DEFAULT_KERNELS = ("unset", "Haswell", "SkylakeX", "Zen")
RUN_COLUMNS = ("run_id", "run_at")  # differ on every run by design
_PROBE = ("import json, numpy, threadpoolctl; numpy.ones(2) @ numpy.ones(2);"
          " print(json.dumps(sorted({l.get('architecture') or '?' for l in threadpoolctl.threadpool_info()"
          " if l.get('internal_api') == 'openblas'})))")


def kernel_env(kernel: str) -> dict[str, str]:
    """The process environment of one run: the OpenBLAS variables set for ``kernel``, or both removed."""
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    if kernel != "unset":
        env["OPENBLAS_CORETYPE"] = kernel
    return env


def read_published(sqlite_file: Path, table: str) -> dict[tuple[int, int], tuple]:
    """(user_handle, rank) -> the rest of the row, run columns left out."""
    columns = [c for c in COLUMN_NAMES if c not in RUN_COLUMNS]
    quoted = ", ".join(f'"{c}"' for c in columns)
    with sqlite3.connect(sqlite_file) as con:
        rows = con.execute(f'select {quoted} from "{table}"').fetchall()
    at_user, at_rank = columns.index("user_handle"), columns.index("rank")
    return {(r[at_user], r[at_rank]): r for r in rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=None, help="raw tables (default: the built-in sample)")
    parser.add_argument("--kernels", nargs="+", default=list(DEFAULT_KERNELS),
                        help="OPENBLAS_CORETYPE values; 'unset' removes the variable")
    parser.add_argument("--topk-method", default="exact", choices=("auto", "exact", "ann"))
    args = parser.parse_args(argv)
    data_dir = args.data_dir or default_data_dir()
    work = Path(tempfile.mkdtemp(prefix="kernel_check_"))
    tables: dict[str, dict] = {}
    for kernel in args.kernels:
        env = kernel_env(kernel)
        env["USER_SIM_WAREHOUSE_DIR"] = str(work / f"wh_{kernel}")
        arch = json.loads(subprocess.run([sys.executable, "-c", _PROBE], env=env, check=True,
                                         capture_output=True, text=True).stdout)
        sqlite_file = work / f"{kernel}.db"
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "pipeline", "--data-dir", str(data_dir), "--sqlite-path",
                        str(sqlite_file), "--topk-method", args.topk_method], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        tables[kernel] = read_published(sqlite_file, "user_ranking")
        print(f"{kernel:>9}: OpenBLAS kernels {', '.join(arch)}; {len(tables[kernel]):,} rows"
              f" in {time.perf_counter() - t:.0f} s", flush=True)
    reference_kernel, reference = args.kernels[0], tables[args.kernels[0]]
    differing = 0
    for kernel in args.kernels[1:]:
        other = tables[kernel]
        keys = sorted(set(reference) | set(other))
        diff = [key for key in keys if reference.get(key) != other.get(key)]
        differing += len(diff)
        print(f"{kernel} against {reference_kernel}: {len(diff)} of {len(keys):,} published rows differ")
        for key in diff:
            print(f"    {key}: {reference.get(key)} | {other.get(key)}")
    print(f"kernels {' '.join(args.kernels)} on {data_dir}: {differing} differing rows in all")
    return 1 if differing else 0


if __name__ == "__main__":
    raise SystemExit(main())
