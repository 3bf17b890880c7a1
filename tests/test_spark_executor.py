"""The Spark executor of the top k gives the local executor's ranking, bit for bit.

The Spark tests need pyspark (requirements-spark.txt) and Java. Where either is
missing they are skipped with the reason, unless USER_SIM_REQUIRE_SPARK=1 (set
by .ci/run): then they fail, so CI never counts a Spark test it did not run.
"""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from simcore.spark_topk import SparkSettings, _assemble, parse_conf, spark_session, spark_top_k
from simcore.strategy import resolve_strategy
from simcore.topk import brute_force_top_k, top_k
from tests.conftest import PROJECT_DIR, REFERENCE_USERS, ReferenceRun


def spark_missing() -> str | None:
    """Why the Spark tests cannot run here, or None."""
    if importlib.util.find_spec("pyspark") is None:
        return "pyspark is not installed (pip install -r requirements-spark.txt)"
    if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        return "no Java on PATH or JAVA_HOME (apt-get install -y openjdk-17-jre-headless)"
    return None


@pytest.fixture(scope="session")
def needs_spark() -> None:
    reason = spark_missing()
    if reason and os.environ.get("USER_SIM_REQUIRE_SPARK") == "1":
        pytest.fail(f"USER_SIM_REQUIRE_SPARK=1 but the Spark tests cannot run: {reason}")
    if reason:
        pytest.skip(reason)


@pytest.fixture(scope="session")
def spark(needs_spark):
    """One local[2] SparkSession for every direct test (a JVM start costs seconds)."""
    with spark_session(SparkSettings("local[2]")) as session:
        yield session


def published(db: Path) -> tuple[list[str], list[tuple]]:
    """Every column of the published ranking except the run's id and time, in a fixed row order."""
    con = sqlite3.connect(db)
    columns = [row[1] for row in con.execute("pragma table_info(user_ranking)")]
    kept = [c for c in columns if c not in ("run_id", "run_at")]
    rows = con.execute(f"select {', '.join(kept)} from user_ranking order by user_handle, rank").fetchall()
    con.close()
    return kept, rows


@pytest.mark.slow
@pytest.mark.e2e
def test_pipeline_publishes_the_same_ranking_on_both_executors(
    tmp_path: Path, run_pipeline, reference_run: ReferenceRun, needs_spark, monkeypatch
) -> None:
    """The local side is the session's reference run: the default pipeline on the same data."""
    monkeypatch.setenv("USER_SIM_SPARK_MASTER", "local[2]")
    # blocks of 64 rows where the local run scored all 300 users in one block: the ranking
    # must depend neither on the executor nor on how the users are cut into blocks
    on_spark = run_pipeline("--data-dir", str(reference_run.data), "--topk-block-rows", "64",
                            "--sqlite-path", str(tmp_path / "spark.db"), "--topk-executor", "spark")
    assert on_spark.returncode == 0, on_spark.stdout + on_spark.stderr
    # the blocks really ran as Spark tasks: 300 users in blocks of 64
    assert "spark  top k on local[2]: 5 tasks of up to 64 users x " in on_spark.stdout
    assert "spark  top k" not in reference_run.stdout
    columns, want = published(reference_run.db)
    assert {"score", "score_interests", "shared_interests", "n_shared_courses"} <= set(columns)
    assert len(want) == REFERENCE_USERS * 5
    assert published(tmp_path / "spark.db") == (columns, want)
    params = sqlite3.connect(tmp_path / "spark.db").execute("select params from ranking_runs").fetchone()[0]
    assert json.loads(params)["topk_executor"] == "spark"


def crafted_vectors() -> dict[str, np.ndarray]:
    """Inputs where a slip in ties, self-exclusion or block edges shows."""
    rng = np.random.default_rng(3)
    base = rng.standard_normal((37, 6)).astype(np.float32)
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    ties = base.copy()
    ties[5:12] = ties[4]  # eight identical users: their mutual scores tie, lower index wins
    ties[20:26] = 0.0  # users without data: every score 0, all ties
    coarse = np.round(rng.standard_normal((41, 3)), 1).astype(np.float32)  # many equal dot products
    return {
        "ties_and_empty_users": ties,
        "coarse_values": coarse,
        "all_users_without_data": np.zeros((9, 4), np.float32),
        "no_dimensions": np.zeros((7, 0), np.float32),
        "fewer_users_than_k": base[:3],
    }


@pytest.mark.parametrize("name", list(crafted_vectors()))
@pytest.mark.parametrize("block_rows", [4, 0])
def test_spark_top_k_equals_local_top_k_on_ties_and_users_without_data(spark, name: str, block_rows: int) -> None:
    vectors = crafted_vectors()[name]
    got, got_scores = spark_top_k(vectors, 5, block_rows=block_rows, session=spark)
    want, want_scores = top_k(vectors, 5, block_rows=block_rows)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(got_scores, want_scores)
    brute, brute_scores = brute_force_top_k(vectors, 5)  # and both are the true top k with the tie rule
    np.testing.assert_array_equal(got, brute)
    np.testing.assert_array_equal(got_scores, brute_scores)


def test_spark_top_k_of_one_user_needs_no_cluster() -> None:
    neighbours, scores = spark_top_k(np.ones((1, 3), np.float32), 5)  # no session: none is started
    assert neighbours.shape == scores.shape == (1, 0)


def test_assemble_rejects_missing_and_repeated_rows() -> None:
    rows = pa.table({"row": pa.array([0, 0, 1], pa.int64()), "rank": pa.array([0, 1, 0], pa.int32()),
                     "neighbour": pa.array([1, 2, 0], pa.int64()), "score": pa.array([1, 0.5, 1], pa.float32())})
    with pytest.raises(RuntimeError, match="3 top-k rows, expected 4"):
        _assemble(rows, 2, 2)
    twice = pa.concat_tables([rows, rows.slice(0, 1)])
    with pytest.raises(RuntimeError, match="twice"):
        _assemble(twice, 2, 2)
    neighbours, _ = _assemble(pa.concat_tables([rows, rows.slice(1, 1).set_column(
        0, "row", pa.array([1], pa.int64()))]), 2, 2)
    assert neighbours.tolist() == [[1, 2], [0, 2]]


def test_settings_from_environment() -> None:
    assert SparkSettings.from_env({}).master == "local[2]"
    for master in ("local[4]", "local[*]", "spark://host:7077", "yarn", "k8s://https://k:6443", "sc://host:15002"):
        assert SparkSettings.from_env({"USER_SIM_SPARK_MASTER": master}).master == master
    assert SparkSettings.from_env({"USER_SIM_SPARK_MASTER": "sc://h:15002"}).is_connect
    with pytest.raises(ValueError, match="not a Spark master"):
        SparkSettings.from_env({"USER_SIM_SPARK_MASTER": "http://host:7077"})
    settings = SparkSettings.from_env({"USER_SIM_SPARK_MASTER": "spark://h:7077", "USER_SIM_SPARK_CONF":
                                       "spark.executor.memory=4g, spark.executorEnv.OMP_NUM_THREADS=2"})
    conf = settings.session_conf()
    assert conf["spark.executor.memory"] == "4g"
    assert conf["spark.executorEnv.OMP_NUM_THREADS"] == "2"  # the user's conf wins over the default
    assert conf["spark.executorEnv.OPENBLAS_NUM_THREADS"] == "1"
    assert "spark.ui.enabled" not in conf  # a cluster keeps its UI; local runs turn it off
    assert SparkSettings("local[2]").session_conf()["spark.ui.enabled"] == "false"
    # a Spark Connect server owns its static conf: the client sends only the user's items
    assert SparkSettings("sc://h:15002", {"spark.sql.shuffle.partitions": "8"}).session_conf() == {
        "spark.sql.shuffle.partitions": "8"}


def test_conf_parsing_names_the_bad_item() -> None:
    assert parse_conf("") == {}
    assert parse_conf("a=1,b=x=y") == {"a": "1", "b": "x=y"}
    with pytest.raises(ValueError, match="'spark.executor.memory' is not key=value"):
        parse_conf("spark.task.cpus=1,spark.executor.memory")


def test_spark_executor_is_exact_only() -> None:
    assert resolve_strategy("auto", 10_000_000, 20_000, "spark").method == "exact"
    assert resolve_strategy("auto", 10_000_000, 20_000, "local").method == "ann"
    with pytest.raises(ValueError, match="exact top k only"):
        resolve_strategy("ann", 100, 20_000, "spark")


def test_cli_refuses_ann_on_spark_before_building(tmp_path: Path, run_pipeline, generated: Path) -> None:
    result = run_pipeline("--data-dir", str(generated), "--sqlite-path", str(tmp_path / "r.db"),
                          "--topk-executor", "spark", "--topk-method", "ann")
    assert result.returncode == 1
    assert "--topk-executor spark runs the exact top k only" in result.stderr
    assert "[2/3] build" not in result.stdout


def test_the_local_path_never_imports_pyspark() -> None:
    code = ("import sys, numpy as np, simcore.tables, simcore.spark_topk, pipeline.cli;"
            " from simcore.topk import top_k; top_k(np.eye(4, dtype=np.float32), 2);"
            " print('pyspark' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_DIR, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
