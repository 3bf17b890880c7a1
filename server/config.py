"""Server settings: read from the environment once, at app creation.

Every setting has a documented default (docs/api.md, "Configuration"); a
``config`` dict given to :func:`server.app.create_app` overrides both.
Invalid settings fail at startup, not on the first request. Defaults are the
safe ones: Flask's debug mode stays off whatever FLASK_DEBUG says, and ``prod``
never guesses which file to serve.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from contracts.identifiers import DEFAULT_RESULTS_TABLE, check_env
from contracts.locations import sqlite_path
from contracts.published import history_table
from server.limits import MAX_BODY_BYTES

DEFAULT_DATABASE_ENV = "dev"
ENV_KEYS = ("DATABASE_ENV", "RESULTS_TABLE", "SIMILARITY_DB_PATH")


class ConfigError(ValueError):
    """A setting that must stop the server before it serves anything."""


def load_config(overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Settings from ``environ`` (default ``os.environ``), then ``overrides``; validated.

    Adds ``DATABASE_PATH``: ``SIMILARITY_DB_PATH`` if set, else the pipeline's
    published file of ``DATABASE_ENV`` (:func:`contracts.locations.sqlite_path`).
    """
    env = os.environ if environ is None else environ
    config: dict[str, Any] = {
        "DATABASE_ENV": env.get("DATABASE_ENV") or DEFAULT_DATABASE_ENV,
        "RESULTS_TABLE": env.get("RESULTS_TABLE") or DEFAULT_RESULTS_TABLE,
        "SIMILARITY_DB_PATH": env.get("SIMILARITY_DB_PATH") or None,
        "MAX_CONTENT_LENGTH": MAX_BODY_BYTES,
        "DEBUG": False,  # Flask would take FLASK_DEBUG from the environment; only runserver --debug turns it on
    }
    config.update(overrides or {})
    try:
        check_env(config["DATABASE_ENV"])
        history_table(config["RESULTS_TABLE"])  # the results and history tables must be valid names
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    explicit = config.get("SIMILARITY_DB_PATH")
    if config["DATABASE_ENV"] == "prod" and not explicit:
        # a default path in production serves whatever file happens to lie there, or nothing, silently
        raise ConfigError(
            "DATABASE_ENV=prod needs an explicit database: set SIMILARITY_DB_PATH to the published SQLite file"
            f" (the pipeline writes {sqlite_path('prod')})"
        )
    config["DATABASE_PATH"] = Path(explicit) if explicit else sqlite_path(config["DATABASE_ENV"])
    return config
