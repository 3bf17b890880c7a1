"""dbt ``unit_tests:`` (the cleaning, binning and weighting rules on fixed rows) run by the suite.

The pipeline's build excludes them (a production run need not re-check the
SQL), so this module runs them: one ``dbt build --empty`` of the models that
carry unit tests and their parents, which dbt orders so every unit test runs
right after its inputs exist (with zero rows: only their column types matter).
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import FIXTURES, PROJECT_DIR, pipeline_env


def test_every_dbt_unit_test_passes(tmp_path: Path) -> None:
    env = pipeline_env(tmp_path) | {"USER_SIM_DATA_DIR": str(FIXTURES / "hand_checked")}
    (tmp_path / "warehouse").mkdir()
    done = subprocess.run(
        [sys.executable, "-c", "from dbt.cli.main import cli; cli()", "build", "--empty",
         "--select", "+int_interest_features +int_assessment_features +int_course_view_features "
         "+stg_user_interests +int_assessment_scores_binned +int_course_views_binned +course_levels",
         "--resource-types", "model", "seed", "unit_test",
         "--project-dir", str(PROJECT_DIR), "--profiles-dir", str(PROJECT_DIR),
         "--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path / "logs"),
         "--no-send-anonymous-usage-stats"],
        cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=300)
    summary = [line for line in done.stdout.splitlines() if "Done." in line or "FAIL" in line or "ERROR" in line]
    assert done.returncode == 0, "\n".join(summary) or done.stdout[-3000:] + done.stderr[-2000:]
    passed = [line for line in done.stdout.splitlines() if "PASS" in line and "unit_test" not in line
              and "::" in line]
    assert len(passed) >= 4, done.stdout[-3000:]
