"""Application factory: ``create_app(config)`` wires settings, the store, routes and errors."""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, request
from flask_restful import Api

from server.config import load_config
from server.db import RankingStore
from server.errors import error_response, payload_too_large, register_error_handlers
from server.openapi import openapi_document
from server.resources import Health, LegacySimilarity, OpenApiDocument, SimilarUsers


class JsonApi(Api):
    """Flask-RESTful Api whose errors take the same JSON shape as the rest of the app."""

    def handle_error(self, e: Exception) -> Response:
        return error_response(e)


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


def output_json(data: Any, code: int, headers: dict[str, str] | None = None) -> Response:
    """Flask-RESTful's JSON representation without its per-request config lookups.

    Keys keep their insertion order ({"user", "score"} as in the original), unsorted.
    """
    response = Response(json.dumps(data) + "\n", status=code, mimetype="application/json")
    if headers:
        response.headers.extend(headers)
    return response


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """A configured app; ``config`` overrides the environment (see :mod:`server.config`)."""
    settings = load_config(config)
    app = Flask(__name__, static_folder=None)
    app.config.update(settings)
    app.url_map.merge_slashes = False  # "a//b" is a 404 in JSON, not an HTML 308 redirect
    app.extensions["ranking_store"] = RankingStore(settings["DATABASE_PATH"], settings["RESULTS_TABLE"])
    app.extensions["openapi_document"] = openapi_document()
    app.before_request(_body_size_guard(app.config["MAX_CONTENT_LENGTH"]))
    register_error_handlers(app)

    api = JsonApi(app)
    api.representations = {"application/json": output_json}
    # Both spellings as rules of their own: strict_slashes=False would answer 404, not 405, to a wrong method.
    api.add_resource(LegacySimilarity, "/api/similarity/", "/api/similarity", endpoint="legacy_similarity")
    api.add_resource(SimilarUsers, "/api/v1/users/<string:user_handle>/similar", endpoint="similar_users")
    api.add_resource(Health, "/api/health", endpoint="health")
    api.add_resource(OpenApiDocument, "/api/openapi.json", endpoint="openapi")
    return app
