"""Server settings: read from the environment once, at app creation.

Every setting has a documented default (docs/api.md, "Configuration"); a
``config`` dict given to :func:`server.app.create_app` overrides both.
Invalid settings fail at startup, not on the first request.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pipeline.paths import (
    DEFAULT_RESULTS_TABLE,
    check_env,
    check_identifier,
    sqlite_path,
)

DEFAULT_DATABASE_ENV = "dev"
MAX_BODY_BYTES = 4 * 1024  # the only body is {"user_handle": ...}; anything bigger is abuse
ENV_KEYS = ("DATABASE_ENV", "RESULTS_TABLE", "SIMILARITY_DB_PATH")


def load_config(overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Settings from ``environ`` (default ``os.environ``), then ``overrides``; validated.

    Adds ``DATABASE_PATH``: ``SIMILARITY_DB_PATH`` if set, else the pipeline's
    published file of ``DATABASE_ENV`` (:func:`pipeline.paths.sqlite_path`).
    """
    env = os.environ if environ is None else environ
    config: dict[str, Any] = {
        "DATABASE_ENV": env.get("DATABASE_ENV") or DEFAULT_DATABASE_ENV,
        "RESULTS_TABLE": env.get("RESULTS_TABLE") or DEFAULT_RESULTS_TABLE,
        "SIMILARITY_DB_PATH": env.get("SIMILARITY_DB_PATH") or None,
        "MAX_CONTENT_LENGTH": MAX_BODY_BYTES,
    }
    config.update(overrides or {})
    check_env(config["DATABASE_ENV"])
    table = check_identifier(config["RESULTS_TABLE"])
    check_identifier(f"{table}_history")  # the history table must be a valid name too
    explicit = config.get("SIMILARITY_DB_PATH")
    config["DATABASE_PATH"] = Path(explicit) if explicit else sqlite_path(config["DATABASE_ENV"])
    return config
