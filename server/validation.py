"""Parsing of client input: each bad value becomes a 400 with its own error code.

Handles are positive integers that fit SQLite's INTEGER (signed 64-bit). As text they
are ASCII digits, leading zeros allowed, between optional JSON whitespace (space, tab,
CR, LF); :data:`USER_HANDLE_PATTERN` says exactly the same for the OpenAPI document, and
a test holds the two together.
"""
from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from server.errors import ErrorCode, bad_request
from server.limits import DEFAULT_K, MAX_K, MAX_USER_HANDLE, MIN_K

INVALID_HANDLE = ErrorCode.INVALID_USER_HANDLE

__all__ = ["DEFAULT_K", "MAX_K", "MAX_USER_HANDLE", "MIN_K", "USER_HANDLE_PATTERN", "parse_bool", "parse_json_object",
           "parse_k", "parse_user_handle"]
_DIGITS = re.compile(r"[0-9]+")
_SPACE = " \t\r\n"  # JSON's whitespace only: no Unicode spaces, no control characters
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no", ""})


def parse_user_handle(value: Any) -> int:
    """A handle given as a JSON integer or a string of digits.

    A JSON number with a zero fraction (``7.0``, ``1e3``) is an integer, as JSON Schema counts it; bodies
    are parsed with exact decimals (:func:`parse_json_object`), so ``9223372036854775807.0`` is no rounded float.
    """
    if value is None:
        raise bad_request(ErrorCode.MISSING_USER_HANDLE, "user_handle is required")
    if isinstance(value, Decimal):
        if not value.is_finite() or value != value.to_integral_value():
            raise bad_request(INVALID_HANDLE, f"user_handle must be a whole number, got {str(value)[:40]}")
        if not 1 <= value <= MAX_USER_HANDLE:  # compared as decimals: 1e999999999 is never expanded
            raise bad_request(INVALID_HANDLE, f"user_handle must be between 1 and {MAX_USER_HANDLE}")
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise bad_request(INVALID_HANDLE, "user_handle must be an integer or a string of digits")
    if isinstance(value, str):
        text = value.strip(_SPACE)
        if not text:
            raise bad_request(INVALID_HANDLE, "user_handle is empty")
        if not _DIGITS.fullmatch(text):
            message = f"user_handle must be a positive integer written in digits, got {_preview(value)}"
            raise bad_request(INVALID_HANDLE, message)
        significant = text.lstrip("0") or "0"
        # int() of thousands of digits is slow, and refused past sys.int_max_str_digits: compare lengths first
        if len(significant) > len(str(MAX_USER_HANDLE)):
            raise bad_request(INVALID_HANDLE, f"user_handle must be between 1 and {MAX_USER_HANDLE}")
        value = int(significant)
    if not 1 <= value <= MAX_USER_HANDLE:
        raise bad_request(INVALID_HANDLE, f"user_handle must be between 1 and {MAX_USER_HANDLE}")
    return value


def _decimal_at_most(limit: int) -> str:
    """A regex (Python and ECMA-262 alike) of decimal numbers 1..``limit`` without leading zeros.

    JSON Schema cannot bound a number written as a string; this spells the bound out digit by digit.
    """
    digits = str(limit)
    width = len(digits)
    branches = [f"[1-9][0-9]{{0,{width - 2}}}"] if width > 1 else []
    for i, digit in enumerate(digits):
        low = 1 if i == 0 else 0
        if int(digit) > low:
            below = str(low) if int(digit) - 1 == low else f"[{low}-{int(digit) - 1}]"
            rest = width - i - 1
            branches.append(digits[:i] + below + (f"[0-9]{{{rest}}}" if rest else ""))
    branches.append(digits)
    return "|".join(branches)


# What parse_user_handle accepts as text, for the OpenAPI document.
USER_HANDLE_PATTERN = f"^[ \\t\\r\\n]*0*(?:{_decimal_at_most(MAX_USER_HANDLE)})[ \\t\\r\\n]*$"


def parse_k(value: str | None, minimum: int = MIN_K, maximum: int = MAX_K, default: int = DEFAULT_K) -> int:
    """Neighbours requested: ``minimum``..``maximum`` written in digits, ``default`` when absent."""
    if value is None:
        return default
    text = value.strip()
    digits = len(str(maximum)) + 1  # enough to tell maximum + 1 from maximum, never a huge int()
    if not re.fullmatch(f"[0-9]{{1,{digits}}}", text) or not minimum <= int(text) <= maximum:
        message = f"k must be an integer from {minimum} to {maximum}, got {_preview(value)}"
        raise bad_request(ErrorCode.INVALID_K, message)
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
    raise bad_request(ErrorCode(f"invalid_{name}"), f"{name} must be true or false, got {_preview(value)}")


def parse_json_object(body: bytes) -> dict[str, Any]:
    """The request body as a JSON object."""
    try:
        data = json.loads(body, parse_float=_exact_number, parse_constant=_not_json)
    except (ValueError, RecursionError):  # bad JSON, bad UTF-8, NaN/Infinity, or absurd nesting
        raise bad_request(ErrorCode.MALFORMED_JSON, "request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise bad_request(ErrorCode.INVALID_BODY, 'request body must be a JSON object like {"user_handle": "110"}')
    return data


def _exact_number(text: str) -> Decimal | float:
    """A JSON number with a fraction or exponent, exactly; an exponent past Decimal's range is infinite."""
    try:
        return Decimal(text)
    except InvalidOperation:
        return float(text)


def _not_json(name: str) -> Any:
    """NaN and Infinity are Python's extensions, not JSON."""
    raise ValueError(f"{name} is not JSON")


def _preview(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."
