"""JSON errors: every failure leaves the server as ``{"error": CODE, "message": ...}``.

:class:`ErrorCode` is the one list of error codes, each with its HTTP status and when it
happens; the OpenAPI document (:mod:`server.openapi`) and docs/api.md's table are made
from it. :class:`ApiError` is a Werkzeug ``HTTPException`` whose ``data`` is that body,
which is what Flask-RESTful's ``Api.handle_error`` renders (``server.app.JsonApi``).
"""
from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

from flask import current_app
from marshmallow import Schema, fields, validate
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from server.limits import MAX_BODY_BYTES, MAX_K, MIN_K, RETRY_AFTER_SECONDS


class ErrorCode(StrEnum):
    """Stable machine-readable codes, each with its HTTP status and when it is answered."""

    status: int
    when: str

    def __new__(cls, value: str, status: int, when: str) -> ErrorCode:
        member = str.__new__(cls, value)
        member._value_ = value
        member.status = status
        member.when = when
        return member

    MISSING_USER_HANDLE = (
        "missing_user_handle", 400,
        "No handle: no body and no `?user_handle=`, a body without `user_handle`, or `null`",
    )
    INVALID_USER_HANDLE = (
        "invalid_user_handle", 400,
        "The handle is empty, not an integer (`\"abc\"`, `1.5`, `\"1e3\"`, `\"１１０\"`, `true`, a list),"
        " `< 1`, or `> 2^63 − 1`",
    )
    CONFLICTING_USER_HANDLE = ("conflicting_user_handle", 400, "The body and the query give different handles")
    INVALID_K = ("invalid_k", 400, f"`k` is not an integer from {MIN_K} to {MAX_K}")
    INVALID_EXPLAIN = ("invalid_explain", 400, "`explain` is not one of true/false/1/0/yes/no")
    MALFORMED_JSON = (
        "malformed_json", 400,
        "The body is not valid JSON (this includes bad UTF-8, `NaN`/`Infinity` and absurd nesting)",
    )
    INVALID_BODY = ("invalid_body", 400, "The body is JSON but not an object")
    UNSUPPORTED_CONTENT_TYPE = (
        "unsupported_content_type", 400, "A body whose content type is not JSON, on the original endpoint",
    )
    BAD_REQUEST = ("bad_request", 400, "A request Werkzeug itself refuses as malformed")
    USER_NOT_FOUND = (
        "user_not_found", 404, "The user is not in the current run (or in the requested `run_id`)",
    )
    RUN_NOT_FOUND = ("run_not_found", 404, "The `run_id` is unknown, failed, pruned, or belongs to another table")
    NOT_FOUND = ("not_found", 404, "No such URL")
    METHOD_NOT_ALLOWED = ("method_not_allowed", 405, "Any method other than GET, HEAD or OPTIONS")
    PAYLOAD_TOO_LARGE = (
        "payload_too_large", 413,
        f"A body over {MAX_BODY_BYTES // 1024} KiB ({MAX_BODY_BYTES} bytes). A chunked body that reaches"
        f" {MAX_BODY_BYTES} bytes is also refused",
    )
    INTERNAL_ERROR = ("internal_error", 500, "A server bug, logged with its traceback on the server side only")
    RANKING_UNAVAILABLE = (
        "ranking_unavailable", 503,
        "No ranking has been published yet: the database file or the table is missing or unreadable",
    )


# The code of each HTTP error Werkzeug raises itself (routing, body size, malformed requests).
_HTTP_CODES = {code.status: code for code in (ErrorCode.BAD_REQUEST, ErrorCode.NOT_FOUND,
                                              ErrorCode.METHOD_NOT_ALLOWED, ErrorCode.PAYLOAD_TOO_LARGE,
                                              ErrorCode.INTERNAL_ERROR)}


class ErrorBody(Schema):
    """The body of every error response."""

    error = fields.String(required=True, validate=validate.OneOf([code.value for code in ErrorCode]),
                          metadata={"description": "Stable machine-readable code."})
    message = fields.String(required=True, metadata={"description": "Human-readable explanation."})


_ERROR_BODY = ErrorBody()


class ApiError(HTTPException):
    """A client-facing error: HTTP status and ``data`` (the JSON body) from its :class:`ErrorCode`.

    ``error`` is the code (a str); ``code`` is the HTTP status, as for every ``HTTPException``.
    """

    def __init__(self, error: ErrorCode | str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(description=message)
        self.error = error
        self.code = error.status if isinstance(error, ErrorCode) else 500
        self.message = message
        self.extra_headers = headers or {}
        self.data = _ERROR_BODY.dump({"error": str(error), "message": message})  # what Flask-RESTful renders

    def get_headers(self, *args: Any, **kwargs: Any) -> list[tuple[str, str]]:
        return [*super().get_headers(*args, **kwargs), *self.extra_headers.items()]


def bad_request(code: ErrorCode, message: str) -> ApiError:
    assert code.status == 400, code
    return ApiError(code, message)


def not_found(code: ErrorCode, message: str) -> ApiError:
    assert code.status == 404, code
    return ApiError(code, message)


def payload_too_large(limit: int | None) -> ApiError:
    return ApiError(ErrorCode.PAYLOAD_TOO_LARGE, f"request body exceeds the limit of {limit} bytes")


class RankingUnavailable(ApiError):
    """No ranking can be read: database file or table missing, or unreadable."""

    def __init__(self, message: str) -> None:
        super().__init__(ErrorCode.RANKING_UNAVAILABLE, message, {"Retry-After": str(RETRY_AFTER_SECONDS)})


def _snake(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "error"


def as_api_error(exc: BaseException) -> ApiError:
    """Any exception as an :class:`ApiError`: Werkzeug's own HTTP errors keep their status (and ``Allow``);
    anything else is a bare 500, its detail kept for the server log only."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, RequestEntityTooLarge):
        return payload_too_large(current_app.config.get("MAX_CONTENT_LENGTH"))
    if isinstance(exc, HTTPException):
        status = exc.code or 500
        headers = {}
        allow = exc.get_response().headers.get("Allow")  # 405 must say what is allowed
        if allow:
            headers["Allow"] = allow
        code = _HTTP_CODES.get(status)
        error = ApiError(code or _snake(exc.name), exc.description or exc.name, headers)
        error.code = status
        return error
    return ApiError(ErrorCode.INTERNAL_ERROR, "internal server error")
