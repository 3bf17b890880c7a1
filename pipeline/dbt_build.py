"""Run ``dbt build`` once, in-process, through dbt's programmatic runner.

dbt start-up costs seconds, so the pipeline calls it exactly once per run,
passing every parameter as a dbt var. Each finished model and test is
printed as it completes; failures are collected with the node's name so the
CLI can say which model or test broke.
"""
from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.paths import PROJECT_DIR, check_env, warehouse_dir

_OK = {"success", "pass", "warn", "skipped"}


@dataclass
class BuildOutcome:
    """What the build did: success, failing nodes with their messages, and per-node times."""

    success: bool
    failures: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


def dbt_environment() -> dict[str, str]:
    """Environment variables profiles.yml and dbt read; no network, project on sys.path."""
    warehouse_dir().mkdir(parents=True, exist_ok=True)
    return {
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "USER_SIM_PROJECT_DIR": str(PROJECT_DIR),
        "USER_SIM_WAREHOUSE_DIR": str(warehouse_dir()),
    }


def _printer(timings: dict[str, float]):
    def on_event(event: Any) -> None:
        if event.info.name != "NodeFinished":
            return
        result = event.data.run_result
        name = event.data.node_info.node_name
        kind = event.data.node_info.resource_type
        timings[name] = result.execution_time
        status = result.status.upper()
        if kind in ("model", "seed") or status not in ("PASS", "SUCCESS"):
            print(f"    {kind:<6} {name:<60} {status:<7} {result.execution_time:6.2f} s", flush=True)
    return on_event


def run_build(
    env: str, dbt_vars: Mapping[str, Any], *, database: Path | None = None, select: list[str] | None = None
) -> BuildOutcome:
    """``dbt build`` of the whole project (or ``select``) against target ``env``.

    ``database`` is the DuckDB file to build (profiles.yml reads it from
    USER_SIM_WAREHOUSE_FILE); default: the target's own ``<env>.duckdb``.
    """
    from dbt.cli.main import dbtRunner  # imported here: dbt is slow to import

    os.environ.update(dbt_environment())
    if database is not None:
        os.environ["USER_SIM_WAREHOUSE_FILE"] = str(database)
    else:
        os.environ.pop("USER_SIM_WAREHOUSE_FILE", None)
    args = [
        "build",
        "--project-dir", str(PROJECT_DIR),
        "--profiles-dir", str(PROJECT_DIR),
        "--target", check_env(env),
        "--vars", json.dumps(dict(dbt_vars)),
        "--no-send-anonymous-usage-stats",
        "--quiet",
        # dbt unit tests check the SQL rules on fixed rows; the test suite runs them
        # (tests/test_dbt_unit_tests.py), a production run need not repeat them
        "--exclude-resource-type", "unit_test",
        # artefacts beside the warehouse: runs on separate warehouses never share files
        "--target-path", str(warehouse_dir() / "dbt_target"),
        "--log-path", str(warehouse_dir() / "dbt_logs"),
    ]
    if select:
        args += ["--select", *select]
    timings: dict[str, float] = {}
    try:
        result = dbtRunner(callbacks=[_printer(timings)]).invoke(args)
    finally:
        os.environ.pop("USER_SIM_WAREHOUSE_FILE", None)
    failures: list[str] = []
    if result.exception is not None:
        failures.append(f"dbt could not run: {result.exception}")
    elif result.result is not None:
        for node_result in getattr(result.result, "results", []):
            status = str(node_result.status).lower().split(".")[-1]
            if status not in _OK:
                node = node_result.node
                message = (node_result.message or "").strip().splitlines()
                first = message[0] if message else status
                failures.append(f"{node.resource_type} {node.name}: {first}")
    sys.stdout.flush()
    return BuildOutcome(success=bool(result.success) and not failures, failures=failures, timings=timings)
