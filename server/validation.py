"""Parsing of client input: each bad value becomes a 400 with its own error code.

Handles are positive integers that fit SQLite's INTEGER (signed 64-bit).
"""
from __future__ import annotations

import json
import re
from typing import Any

from server.errors import bad_request

MAX_USER_HANDLE = 2**63 - 1  # largest SQLite INTEGER
MAX_K = 100
DEFAULT_K = 5
_DIGITS = re.compile(r"[0-9]{1,19}")  # 19 digits cover MAX_USER_HANDLE; checked before int()
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no", ""})


def parse_user_handle(value: Any) -> int:
    """A handle given as a JSON integer or a string of digits."""
    if value is None:
        raise bad_request("missing_user_handle", "user_handle is required")
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise bad_request("invalid_user_handle", "user_handle must be an integer or a string of digits")
    if isinstance(value, str):
        text = value.strip()
        if not text:
            raise bad_request("invalid_user_handle", "user_handle is empty")
        if not _DIGITS.fullmatch(text):
            raise bad_request(
                "invalid_user_handle",
                f"user_handle must be a positive integer of at most 19 digits, got {_preview(value)}",
            )
        value = int(text)
    if not 1 <= value <= MAX_USER_HANDLE:
        raise bad_request("invalid_user_handle", f"user_handle must be between 1 and {MAX_USER_HANDLE}")
    return value


def parse_k(value: str | None) -> int:
    """Neighbours requested: 1..MAX_K, default DEFAULT_K."""
    if value is None:
        return DEFAULT_K
    text = value.strip()
    if not re.fullmatch(r"[0-9]{1,4}", text) or not 1 <= int(text) <= MAX_K:
        raise bad_request("invalid_k", f"k must be an integer from 1 to {MAX_K}, got {_preview(value)}")
    return int(text)


def parse_bool(name: str, value: str | None) -> bool:
    """true/false, 1/0, yes/no (any case); absent means false."""
    if value is None:
        return False
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise bad_request(f"invalid_{name}", f"{name} must be true or false, got {_preview(value)}")


def parse_json_object(body: bytes) -> dict[str, Any]:
    """The request body as a JSON object."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # bad JSON, bad UTF-8, or absurd nesting
        raise bad_request("malformed_json", "request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise bad_request("invalid_body", 'request body must be a JSON object like {"user_handle": "110"}')
    return data


def _preview(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."
