"""Every command's --help names real defaults only (no "(default: None)" after a help text that says what happens)."""
from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import PROJECT_DIR


@pytest.mark.parametrize("command", [["pipeline"], ["datagen"], ["evaluation", "compare"],
                                     ["evaluation", "score"]])
def test_help_shows_no_none_default(command: list[str]) -> None:
    done = subprocess.run([sys.executable, "-m", *command, "--help"], cwd=PROJECT_DIR, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "(default: None)" not in done.stdout
    assert "(default: " in done.stdout  # the real defaults are still shown


def test_readme_flag_list_names_every_pipeline_flag() -> None:
    """The README's "Running it" block lists every flag of `python -m pipeline --help`, and no flag it lacks."""
    import re

    from pipeline.cli import build_parser

    block = (PROJECT_DIR / "README.md").read_text().split("## Running it", 1)[1].split("```", 2)[1]
    listed = set(re.findall(r"--[a-z][a-z_-]*", block.replace("--[no-]", "--")))
    actions = [a.option_strings for a in build_parser()._actions if "--help" not in a.option_strings]
    # a flag is listed under any one of its spellings (--results_table / --results-table)
    assert [spellings for spellings in actions if not listed & set(spellings)] == []
    assert listed - {s for spellings in actions for s in spellings} == set()
