"""Exact top k on Apache Spark: the same block function as the local path, run in Spark tasks.

The driver (the dbt process) writes the stacked vectors to one ``.npy`` file
and hands it to Spark's file distribution (``SparkContext.addFile``, or
``addArtifacts(file=True)`` under Spark Connect); every executor fetches it
once and each task memory-maps it (``SparkFiles.get``). That works on a local
master and on a real cluster alike, without a shared file system. The
``simcore`` package travels the same way as a zip on the executors' Python
path. One task scores one row block with :func:`simcore.topk.top_k_block`
(one BLAS thread per task) and returns its k rows per user; the driver
collects them as Arrow.

pyspark is imported inside the functions: the default (local) executor never
loads it, and ``requirements.txt`` does not install it (``requirements-spark.txt``).
"""
from __future__ import annotations

import importlib.util
import os
import re
import shutil
import sys
import tempfile
import time
import uuid
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from simcore.topk import block_starts, prepare_vectors, score_margin, top_k_block

DEFAULT_MASTER = "local[2]"
PYSPARK_PIN = "pyspark==4.0.5"  # requirements-spark.txt
CONNECT_PIN = PYSPARK_PIN.replace("==", "[connect]==")  # Spark Connect's client extras
_MASTER = re.compile(r"^(local(\[(\d+|\*)(,\d+)?\])?|spark://.+|yarn|k8s://.+|sc://.+)$")
# one BLAS thread per task: Spark already runs one task per core
_ONE_THREAD_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
_RESULT_SCHEMA = "row long, rank int, neighbour long, score double"


@dataclass(frozen=True)
class SparkSettings:
    """Where and how the top k runs: ``USER_SIM_SPARK_MASTER``, ``USER_SIM_SPARK_CONF``, staging folder."""

    master: str = DEFAULT_MASTER
    conf: dict[str, str] = field(default_factory=dict)
    staging_dir: Path | None = None

    @property
    def is_connect(self) -> bool:
        return self.master.startswith("sc://")

    @property
    def is_local(self) -> bool:
        return self.master.startswith("local")

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> SparkSettings:
        env = os.environ if environ is None else environ
        master = env.get("USER_SIM_SPARK_MASTER", "").strip() or DEFAULT_MASTER
        if not _MASTER.match(master):
            raise ValueError(f"USER_SIM_SPARK_MASTER={master!r} is not a Spark master: use local[N], "
                             "spark://host:port, yarn, k8s://https://host:port or sc://host:port (Spark Connect)")
        staging = env.get("USER_SIM_SPARK_STAGING_DIR", "").strip()
        return cls(master, parse_conf(env.get("USER_SIM_SPARK_CONF", "")), Path(staging) if staging else None)

    def session_conf(self) -> dict[str, str]:
        """Spark conf of a session built here: one BLAS thread per task, quiet console, then the user's conf.

        A Spark Connect server owns its static conf, so a client sends only the user's.
        """
        if self.is_connect:
            return dict(self.conf)
        conf = {f"spark.executorEnv.{name}": "1" for name in _ONE_THREAD_ENV}
        conf["spark.ui.showConsoleProgress"] = "false"
        if self.is_local:
            conf["spark.ui.enabled"] = "false"  # no port to bind for a run on this machine
        return conf | self.conf


def parse_conf(text: str) -> dict[str, str]:
    """``"spark.executor.memory=4g,spark.sql.shuffle.partitions=8"`` -> dict; a malformed item is an error."""
    conf: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ValueError(f"USER_SIM_SPARK_CONF item {item!r} is not key=value "
                             "(items are separated by commas, e.g. spark.executor.memory=4g,spark.task.cpus=1)")
        conf[key.strip()] = value.strip()
    return conf


def check_available(settings: SparkSettings | None = None) -> None:
    """Fail before the build starts when the Spark executor cannot run here; the message says what to install."""
    settings = settings or SparkSettings.from_env()
    if importlib.util.find_spec("pyspark") is None:
        raise RuntimeError("--topk-executor spark needs pyspark: pip install -r requirements-spark.txt")
    if settings.is_connect:
        missing = [m for m in ("grpc", "grpc_status", "google.rpc", "pandas", "pyarrow") if not _has_module(m)]
        if missing:
            raise RuntimeError(f"Spark Connect ({settings.master}) needs {', '.join(missing)}: "
                               f'pip install "{CONNECT_PIN}"')
    elif not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        raise RuntimeError("--topk-executor spark starts a Spark driver, which needs Java 17+: set JAVA_HOME or "
                           "put java on PATH (Debian: apt-get install -y openjdk-17-jre-headless)")


def _has_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # a missing parent package
        return False


@contextmanager
def spark_session(settings: SparkSettings | None = None) -> Iterator[Any]:
    """A SparkSession for ``settings``, stopped on exit (a run's driver JVM ends with its top k)."""
    settings = settings or SparkSettings.from_env()
    check_available(settings)
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName("user_similarity_topk")
    if settings.is_connect:
        builder = builder.remote(settings.master)
    else:
        builder = builder.master(settings.master)
        if settings.is_local:
            # local workers are forked by this process's JVM: they must run this interpreter (numpy, pyarrow)
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # a local run listens on loopback only
    for key, value in settings.session_conf().items():
        builder = builder.config(key, value)
    t = time.perf_counter()
    try:
        session = builder.getOrCreate()
    except ImportError as exc:  # Spark Connect's client libraries
        raise RuntimeError(f'Spark Connect needs its client libraries ({exc}): pip install '
                           f'"{CONNECT_PIN}"') from exc
    if not settings.is_connect:
        session.sparkContext.setLogLevel("ERROR")
    print(f"    spark  session on {settings.master} in {time.perf_counter() - t:.1f} s", flush=True)
    try:
        yield session
    finally:
        session.stop()


def spark_top_k(
    vectors: np.ndarray,
    k: int,
    *,
    block_rows: int | None = None,
    session: Any | None = None,
    settings: SparkSettings | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`simcore.topk.top_k` computed by Spark tasks: same shapes, order, ties and scores.

    ``session``: an open SparkSession to use (kept open); otherwise one is
    built from ``settings`` (default: the environment) and stopped after.
    """
    z, k_eff = prepare_vectors(vectors, k)
    n = z.shape[0]
    if k_eff <= 0:  # nothing to rank: no cluster needed
        return np.zeros((n, 0), np.int64), np.zeros((n, 0), np.float64)
    step, starts = block_starts(n, block_rows)
    settings = settings or SparkSettings.from_env()
    if session is not None:
        return _run(session, settings, z, k_eff, step, starts)
    with spark_session(settings) as built:
        return _run(built, settings, z, k_eff, step, starts)


def _run(session: Any, settings: SparkSettings, z: np.ndarray, k: int, step: int, starts: list[int]
         ) -> tuple[np.ndarray, np.ndarray]:
    n = z.shape[0]
    staging = Path(tempfile.mkdtemp(prefix="user_sim_spark_", dir=settings.staging_dir))
    try:
        tag = uuid.uuid4().hex  # a file name registered once per Spark context: unique per call
        vectors_file = staging / f"user_sim_vectors_{tag}.npy"
        np.save(vectors_file, z)
        code_zip = _zip_simcore(staging / f"user_sim_simcore_{tag}.zip")
        _distribute(session, settings, vectors_file, code_zip)
        # one block start per partition: range() splits evenly, so every task ranks exactly one block
        blocks = session.range(0, n, step, numPartitions=len(starts))
        task = partial(rank_blocks, vectors_file.name, step, k, score_margin(z))
        t = time.perf_counter()
        result = blocks.mapInPandas(task, _RESULT_SCHEMA).toArrow()
        master = session.conf.get("spark.master", settings.master)
        print(f"    spark  top k on {master}: {len(starts):,} tasks of up to {step:,} users x {z.shape[1]} dims"
              f" in {time.perf_counter() - t:.1f} s", flush=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return _assemble(result, n, k)


def _zip_simcore(path: Path) -> Path:
    """The ``simcore`` package as a zip for the executors' Python path (a cluster has no checkout)."""
    package = Path(__file__).resolve().parent
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for source in sorted(package.glob("*.py")):
            zf.write(source, f"simcore/{source.name}")
    return path


def _distribute(session: Any, settings: SparkSettings, vectors_file: Path, code_zip: Path) -> None:
    if settings.is_connect:
        session.addArtifacts(str(vectors_file), file=True)
        session.addArtifacts(str(code_zip), pyfile=True)
    else:
        session.sparkContext.addFile(str(vectors_file))
        session.sparkContext.addPyFile(str(code_zip))


def rank_blocks(file_name: str, step: int, k: int, margin: float, batches: Iterator[Any]) -> Iterator[Any]:
    """Spark task body: for each block start, the block's top k in long form (row, rank, neighbour, score)."""
    import pandas as pd
    from pyspark import SparkFiles
    from threadpoolctl import threadpool_limits

    z = np.load(SparkFiles.get(file_name), mmap_mode="r")
    n = z.shape[0]
    with threadpool_limits(limits=1, user_api="blas"):
        for batch in batches:
            for start in batch["id"].tolist():
                stop = min(start + step, n)
                neighbours, scores = top_k_block(z, start, stop, k, margin)
                yield pd.DataFrame({
                    "row": np.repeat(np.arange(start, stop, dtype=np.int64), k),
                    "rank": np.tile(np.arange(k, dtype=np.int32), stop - start),
                    "neighbour": neighbours.ravel(),
                    "score": scores.ravel(),
                })


def _assemble(result: Any, n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(n, k) arrays from the collected long rows; a missing or repeated row is an error, never a gap."""
    if result.num_rows != n * k:
        raise RuntimeError(f"Spark returned {result.num_rows:,} top-k rows, expected {n * k:,} ({n:,} users x {k})")
    rows = result.column("row").to_numpy()
    ranks = result.column("rank").to_numpy()
    slot = rows * k + ranks
    if np.unique(slot).size != slot.size:
        raise RuntimeError("Spark returned a (user, rank) twice: a block was computed more than once")
    neighbours = np.empty(n * k, np.int64)
    scores = np.empty(n * k, np.float64)
    neighbours[slot] = result.column("neighbour").to_numpy()
    scores[slot] = result.column("score").to_numpy()
    return neighbours.reshape(n, k), scores.reshape(n, k)
