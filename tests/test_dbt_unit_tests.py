"""dbt ``unit_tests:`` (the cleaning, binning and weighting rules on fixed rows) run by the suite.

The pipeline's build excludes them (a production run need not re-check the
SQL), so this module runs them: ONE ``dbt build --empty`` of every unit test
and its ancestors (``+test_type:unit``), which dbt orders so each unit test
runs right after its inputs exist (with zero rows: only their column types
matter). The names expected to pass are read from the ``.yml`` files, so a new
unit test is covered without touching this file.

The build runs on a copy of the project with one more unit test whose
expectation is deliberately wrong: it must fail, which shows that a failing
expectation is reported (and not, say, silently skipped).
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import FIXTURES, PROJECT_DIR, pipeline_env

PROJECT_PARTS = ("dbt_project.yml", "profiles.yml", "models", "python_models", "macros", "seeds")
CANARY = "canary_wrong_expectation_must_fail"
# On a leaf model with no unit tests of its own: dbt skips a model whose unit test fails, and with it any
# later unit test of that model or its descendants, so the canary must not sit upstream of a real one.
CANARY_YML = f"""
version: 2
unit_tests:
  - name: {CANARY}
    description: Deliberately wrong (one dropped row is counted as two); it must fail.
    model: audit_dropped_rows
    given:
      - input: ref('base_user_interests')
        rows: [{{drop_reason: unparseable_handle, raw_record: 'x'}}]
      - input: ref('base_user_assessment_scores')
        rows: []
      - input: ref('base_user_course_views')
        rows: []
      - input: ref('base_course_tags')
        rows: []
    expect:
      rows:
        - {{source_table: user_interests, drop_reason: unparseable_handle, dropped_rows: 2}}
"""


def declared_unit_tests() -> set[str]:
    """Names of every unit test in the project's .yml files (models and Python models)."""
    names: set[str] = set()
    for folder in ("models", "python_models"):
        for path in sorted((PROJECT_DIR / folder).rglob("*.yml")):
            doc = yaml.safe_load(path.read_text()) or {}
            names.update(test["name"] for test in doc.get("unit_tests") or [])
    return names


@pytest.mark.slow
def test_every_dbt_unit_test_passes_and_a_wrong_expectation_fails(tmp_path: Path) -> None:
    expected = declared_unit_tests()
    assert len(expected) >= 20, sorted(expected)  # the rules of README "Cleaning rules" and the binning/weighting
    assert CANARY not in expected

    project = tmp_path / "project"
    project.mkdir()
    for part in PROJECT_PARTS:
        source = PROJECT_DIR / part
        if source.is_dir():
            shutil.copytree(source, project / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, project / part)
    (project / "models" / "_canary_unit_test.yml").write_text(CANARY_YML)

    env = pipeline_env(tmp_path) | {"USER_SIM_DATA_DIR": str(FIXTURES / "hand_checked"),
                                    "USER_SIM_PROJECT_DIR": str(project)}
    (tmp_path / "warehouse").mkdir()
    target = tmp_path / "target"
    done = subprocess.run(
        [sys.executable, "-c", "from dbt.cli.main import cli; cli()", "build", "--empty",
         "--select", "+test_type:unit", "--resource-types", "model", "seed", "unit_test",
         "--project-dir", str(project), "--profiles-dir", str(project),
         "--target-path", str(target), "--log-path", str(tmp_path / "logs"),
         "--no-send-anonymous-usage-stats"],
        cwd=project, env=env, capture_output=True, text=True, timeout=300)
    log = done.stdout[-4000:] + done.stderr[-2000:]
    assert (target / "run_results.json").exists(), log

    results = json.loads((target / "run_results.json").read_text())["results"]
    status = {r["unique_id"].split(".")[-1]: r["status"] for r in results
              if r["unique_id"].startswith("unit_test.")}
    not_passed = {name: status.get(name, "not run") for name in expected if status.get(name) != "pass"}
    assert not not_passed, f"{not_passed}\n{log}"
    assert status.get(CANARY) == "fail", f"the wrong expectation did not fail: {status.get(CANARY)}\n{log}"
    assert set(status) == expected | {CANARY}, set(status) ^ (expected | {CANARY})
    assert done.returncode == 1, log  # the canary's failure, and nothing else, fails the build
