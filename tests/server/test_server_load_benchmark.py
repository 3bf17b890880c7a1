"""The load benchmark runs end to end on a tiny ranking and stops its server."""
from __future__ import annotations

import subprocess
import sys

from conftest import ROOT


def test_api_load_smoke() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.api_load", "--users", "200", "--requests", "300", "--warmup", "20",
         "--clients", "4", "--configs", "1x2", "--seconds", "20"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith("-k gthread -w 1 --threads 2")]
    assert len(rows) == 4  # original and explain, printed live and in the summary
    assert all(line.split()[8] == "300" and line.split()[9] == "0" for line in rows), rows  # requests, errors


def test_api_cpu_benchmark_reports_a_positive_cost_per_scenario(capsys) -> None:
    from benchmarks.api_cpu import SCENARIOS, main

    main(["--users", "60", "--requests", "40", "--rounds", "2"])
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == list(SCENARIOS)
    assert all(float(line.split()[1]) > 0 for line in lines), lines
