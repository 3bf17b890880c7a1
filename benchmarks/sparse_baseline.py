"""The exact sparse-cosine reference the pipeline's speed is judged against: ``python -m benchmarks.sparse_baseline``.

From the raw files to every user's exact top k, the textbook way: DuckDB
reads the four CSVs, IDF-weighted interest tags, assessment tags and
view-time-weighted course tags become three sparse matrices
(:mod:`evaluation.idf_baseline`, the quality baseline), and block-wise sparse
products give the exact top k. No cleaning, no SVD, no dbt, no publish: a
lower bound on what any ranking of these tables costs. Prints wall time and
peak RSS.
"""
from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import duckdb

from evaluation.idf_baseline import BASELINE_WEIGHTS, idf_matrices_from
from evaluation.plain_cosine import sparse_top_k, stacked_cosine_matrix
from simcore.threads import blas_threads

RAW_VIEWS = {
    "stg_user_interests": "select user_handle, interest_tag from read_csv('{d}/user_interests.csv')",
    "stg_user_assessment_scores": "select user_handle, assessment_tag from read_csv('{d}/user_assessment_scores.csv')",
    "stg_user_course_views": "select user_handle, course_id, view_time_seconds"
                             " from read_csv('{d}/user_course_views.csv')",
    "stg_course_tags": "select course_id, course_tags as course_tag from read_csv('{d}/course_tags.csv')",
    "int_users_unioned": "select user_handle from stg_user_interests union select user_handle"
                         " from stg_user_assessment_scores union select user_handle from stg_user_course_views",
}


def run(data_dir: Path, k: int = 5) -> tuple[float, int]:
    """(seconds, users ranked) for the whole reference on ``data_dir``."""
    t0 = time.perf_counter()
    con = duckdb.connect()
    for name, sql in RAW_VIEWS.items():
        con.execute(f"create view {name} as {sql.format(d=data_dir)}")
    universe, matrices = idf_matrices_from(con)
    with blas_threads():
        index, _ = sparse_top_k(stacked_cosine_matrix(matrices, BASELINE_WEIGHTS), k)
    return time.perf_counter() - t0, int(index.shape[0])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sparse_baseline", description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="folder with the four raw CSV tables")
    parser.add_argument("--k", type=int, default=5)
    args = parser.parse_args(argv)
    seconds, users = run(args.data_dir, args.k)
    print(f"exact IDF sparse cosine, raw CSV to top {args.k}: {users:,} users in {seconds:.1f} s; "
          f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
