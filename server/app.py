"""Application factory: ``create_app(config)`` wires settings, the store, routes and errors."""
from __future__ import annotations

import functools
import logging
import re
import time
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, g, request
from flask.logging import wsgi_errors_stream
from flask_restful import Api

from server.config import load_config
from server.db import RankingStore
from server.errors import ErrorCode, as_api_error, payload_too_large
from server.openapi import openapi_document, openapi_path
from server.resources import ROUTES


class JsonApi(Api):
    """Flask-RESTful's Api, its ``handle_error`` rendering every error (JSON via its representations).

    Flask-RESTful renders an ``HTTPException``'s ``data`` as the body, which our
    :class:`~server.errors.ApiError` carries (``{"error": CODE, "message": ...}``). The one
    override: the HTTP errors Werkzeug raises itself (404, 405, 413) and unexpected exceptions have
    no ``data``, and would leave as ``{"message": ...}``; ``Api(errors=...)`` cannot help, as it adds a
    ``status`` key to the body. So each is first made an ``ApiError`` (status and ``Allow`` kept; an
    unexpected exception becomes a bare 500, logged by Flask-RESTful with its traceback). A 503
    (nothing published yet) is an answer, not a bug: Flask-RESTful would log a traceback for every
    status >= 500, so it goes out through the same representation, unlogged.
    """

    def handle_error(self, e: Exception) -> Response:
        error = as_api_error(e)
        if error.code >= 500 and error.error != ErrorCode.INTERNAL_ERROR:
            return self.make_response(error.data, error.code, error.extra_headers)
        return super().handle_error(error)


def _body_size_guard(limit: int | None) -> Callable[[], None]:
    """413 from the declared size, before any view runs (views that ignore the body included).

    Reads the WSGI environ directly: this runs on every request. Bodies without a
    declared length (chunked) are capped by Werkzeug when read.
    """

    def reject_large_bodies() -> None:
        declared = request.environ.get("CONTENT_LENGTH")
        if limit is not None and declared and declared.isdigit() and int(declared) > limit:
            raise payload_too_large(limit)

    return reject_large_bodies


REQUEST_LOG = logging.getLogger("server.requests")
_METHOD = re.compile(r"[A-Z]{1,10}")


_route = functools.cache(openapi_path)


def _request_logger() -> logging.Logger:
    """``server.requests`` at INFO, to the server's error stream, unless logging was configured for it
    (a handler of its own, or a level: WARNING silences it).

    The stream is resolved per record (gunicorn's error log, or stderr), so no handler holds a stale file.
    """
    if not REQUEST_LOG.handlers:
        handler = logging.StreamHandler(wsgi_errors_stream)  # type: ignore[arg-type]
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
        REQUEST_LOG.addHandler(handler)
        REQUEST_LOG.propagate = False
    if REQUEST_LOG.level == logging.NOTSET:
        REQUEST_LOG.setLevel(logging.INFO)
    return REQUEST_LOG


def _start_clock() -> None:
    g.started = time.perf_counter()


def _log_request(response: Response) -> Response:
    """One line per request: method, route pattern, status, duration and the validated handle, nothing else.

    No client address, header, cookie, body or raw path: the route is the rule that matched (its
    ``{user_handle}`` unexpanded; ``-`` when none did), and the handle is logged only once it parsed as
    a number, so no client-chosen text (newlines included) reaches the log.
    """
    started = g.get("started")
    duration = (time.perf_counter() - started) * 1000 if started is not None else 0.0
    rule = _route(request.url_rule.rule) if request.url_rule is not None else "-"
    method = request.method if _METHOD.fullmatch(request.method) else "-"
    handle = g.get("user_handle", "-")
    REQUEST_LOG.info("%s %s %d %.1fms user_handle=%s", method, rule, response.status_code, duration, handle)
    return response


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """A configured app; ``config`` overrides the environment (see :mod:`server.config`)."""
    settings = load_config(config)
    app = Flask(__name__, static_folder=None)
    app.config.update(settings)
    app.url_map.merge_slashes = False  # "a//b" is a 404 in JSON, not an HTML 308 redirect
    app.extensions["ranking_store"] = RankingStore(settings["DATABASE_PATH"], settings["RESULTS_TABLE"])
    app.extensions["openapi_document"] = openapi_document()
    _request_logger()
    app.before_request(_start_clock)  # first, so a request the size guard refuses is timed and logged too
    app.before_request(_body_size_guard(app.config["MAX_CONTENT_LENGTH"]))
    app.after_request(_log_request)

    api = JsonApi(app)
    for resource, endpoint, urls in ROUTES:
        api.add_resource(resource, *(rule for rule, _ in urls), endpoint=endpoint)
    # Errors outside Flask-RESTful's routes (no route matched, a plain Flask view) go to the same handler.
    app.register_error_handler(Exception, api.handle_error)
    return app
