"""The help formatter every command line of the project uses."""
from __future__ import annotations

import argparse


class DefaultsHelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows ``(default: X)`` only when there is a default to show: no ``(default: None)`` after a help text
    that already says what happens without the flag."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.default is argparse.SUPPRESS or action.default == []:
            return action.help
        return super()._get_help_string(action)
