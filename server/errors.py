"""JSON errors: every failure leaves the server as ``{"error": CODE, "message": ...}``.

One function, :func:`error_response`, renders every exception, whether Flask
or Flask-RESTful caught it, so no HTML page or traceback ever reaches a client.
"""
from __future__ import annotations

import json
import re

from flask import Flask, Response, current_app
from werkzeug.exceptions import HTTPException

# Stable codes for the HTTP errors Werkzeug raises itself (routing, body size).
_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    500: "internal_error",
}


class ApiError(Exception):
    """A client-facing error with an HTTP status and a stable machine-readable code."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def bad_request(code: str, message: str) -> ApiError:
    return ApiError(400, code, message)


def not_found(code: str, message: str) -> ApiError:
    return ApiError(404, code, message)


def payload_too_large(limit: int | None) -> ApiError:
    return ApiError(413, "payload_too_large", f"request body exceeds the limit of {limit} bytes")


class RankingUnavailable(ApiError):
    """No ranking can be read: database file or table missing, or unreadable."""

    def __init__(self, message: str) -> None:
        super().__init__(503, "ranking_unavailable", message, {"Retry-After": "60"})


def _snake(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "error"


def json_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps({"error": code, "message": message}) + "\n"
    response = Response(body, status=status, mimetype="application/json")
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def error_response(exc: BaseException) -> Response:
    """Render any exception as a JSON error; unexpected ones become a logged, bare 500."""
    if isinstance(exc, ApiError):
        return json_error(exc.status, exc.code, exc.message, exc.headers)
    if isinstance(exc, HTTPException):
        status = exc.code or 500
        code = _HTTP_CODES.get(status) or _snake(exc.name)
        headers = {}
        allow = exc.get_response().headers.get("Allow")  # 405 must say what is allowed
        if allow:
            headers["Allow"] = allow
        if status == 413:
            return error_response(payload_too_large(current_app.config.get("MAX_CONTENT_LENGTH")))
        return json_error(status, code, exc.description or exc.name, headers)
    current_app.logger.error("unhandled error", exc_info=(type(exc), exc, exc.__traceback__))
    return json_error(500, "internal_error", "internal server error")


def register_error_handlers(app: Flask) -> None:
    """Route Flask's own error handling (URLs outside Flask-RESTful, e.g. 404) to JSON too."""
    app.register_error_handler(HTTPException, error_response)
    app.register_error_handler(Exception, error_response)
