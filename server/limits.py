"""The API's limits, set once: validation enforces them and the OpenAPI document states them.

Tests probe each boundary against the served document (tests/server/test_server_openapi.py).
"""
from __future__ import annotations

from simcore.precision import SCORE_DECIMALS

MAX_USER_HANDLE = 2**63 - 1  # largest SQLite INTEGER
MIN_K, MAX_K, DEFAULT_K = 1, 100, 5  # neighbours of the versioned endpoint
LEGACY_K = 5  # the original endpoint always returned the top 5
MAX_BODY_BYTES = 4 * 1024  # the only body is {"user_handle": ...}; anything bigger is abuse
LEGACY_SCORE_PLACES = 4  # the original endpoint's rounding
SCORE_PLACES = SCORE_DECIMALS  # the published precision (simcore.precision)
RETRY_AFTER_SECONDS = 60  # what a 503 asks the client to wait
