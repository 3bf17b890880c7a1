"""One switch for BLAS threads.

numpy and scipy wheels each ship an OpenBLAS with its own thread pool; on a
small machine the pools oversubscribe the cores. All heavy numeric work runs
inside :func:`blas_threads`, which caps every pool (threadpoolctl) at
``USER_SIM_BLAS_THREADS`` (default: the number of cores). Only one library
computes at a time, so the cap stops oversubscription while each step still
uses every core (measured both ways in docs/benchmarks.md).
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from threadpoolctl import threadpool_limits


def configured_threads() -> int | None:
    """Threads from ``USER_SIM_BLAS_THREADS`` (default: cores); ``0`` or ``default`` leaves the libraries alone."""
    raw = os.environ.get("USER_SIM_BLAS_THREADS", str(os.cpu_count() or 1)).strip().lower()
    if raw in ("0", "default", ""):
        return None
    value = int(raw)
    if value < 1:
        raise ValueError(f"USER_SIM_BLAS_THREADS must be >= 0, got {raw}")
    return value


@contextmanager
def blas_threads(limit: int | None = None) -> Iterator[None]:
    """Cap BLAS thread pools at ``limit`` (default: :func:`configured_threads`) inside the block."""
    threads = limit if limit is not None else configured_threads()
    if threads is None:
        yield
        return
    with threadpool_limits(limits=threads, user_api="blas"):
        yield
