"""Every command's --help names real defaults only (no "(default: None)" after a help text that says what happens)."""
from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import PROJECT_DIR


@pytest.mark.parametrize("command", [["pipeline"], ["datagen"], ["pipeline.evaluate", "compare"],
                                     ["pipeline.evaluate", "score"]])
def test_help_shows_no_none_default(command: list[str]) -> None:
    done = subprocess.run([sys.executable, "-m", *command, "--help"], cwd=PROJECT_DIR, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "(default: None)" not in done.stdout
    assert "(default: " in done.stdout  # the real defaults are still shown
