"""Time one signal's SVD on a built warehouse: ``python -m benchmarks.svd_solver --warehouse W``.

Reads the signal's long feature table (``int_course_view_features`` by
default) from a built warehouse and runs the numeric core's
``signal_vectors`` on it, as the dbt model does, printing the time, the
partial eigensolver requests (how many leading pairs each ARPACK call asked
for), the components kept, the solver and the peak RSS. ``--code DIR`` runs
another checkout's ``simcore`` on the same input, so a solver change is timed
against its predecessor on one machine in one sitting.
"""
from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

from contracts.defaults import var
from evaluation.plain_cosine import FEATURE_TABLES


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", type=Path, required=True, help="a built dev.duckdb")
    parser.add_argument("--signal", choices=sorted(FEATURE_TABLES), default="course_views")
    parser.add_argument("--target", type=float, default=var("variance_target"),
                        help="variance target (default: dbt var variance_target)")
    parser.add_argument("--code", type=Path, help="checkout whose simcore to time (default: this one)")
    args = parser.parse_args(argv)
    if args.code:
        sys.path.insert(0, str(args.code.resolve()))
        for name in [m for m in sys.modules if m == "simcore" or m.startswith("simcore.")]:
            del sys.modules[name]

    import duckdb

    import simcore.svd as svd
    from simcore.tables import ComponentRule, signal_vectors
    from simcore.threads import blas_threads

    with duckdb.connect(str(args.warehouse), read_only=True) as con:
        features = con.sql(f"select * from {FEATURE_TABLES[args.signal]}").to_arrow_table()
    asks: list[int] = []
    partial = svd._partial_eigenpairs

    def spy(x, by_users, k, random_state):  # records each request, then solves as before
        asks.append(k)
        return partial(x, by_users, k, random_state)

    svd._partial_eigenpairs = spy
    start = time.perf_counter()
    with blas_threads():
        out = signal_vectors(features, ComponentRule(args.target), args.signal)
    seconds = time.perf_counter() - start
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"{args.signal}: {seconds:.1f} s, requests {asks or 'none'}, "
          f"{out.column('n_components')[0]} components, solver {out.column('solver')[0]}, "
          f"{features.num_rows:,} feature rows, peak RSS {rss:.2f} GiB")


if __name__ == "__main__":
    main()
