"""HTTP API serving the published user-similarity ranking (see docs/api.md).

``create_app`` is imported lazily so the command-line client
(``python -m server.similarity``) starts without loading Flask.
"""
from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from server.app import create_app

        return create_app
    raise AttributeError(f"module 'server' has no attribute {name!r}")
