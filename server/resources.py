"""The API's Flask-RESTful resources: what each endpoint reads and returns (docs/api.md)."""
from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask import current_app, g, request
from flask_restful import Resource
from marshmallow import Schema

from server import schemas
from server.db import RankingStore, RunNotFound
from server.errors import ErrorCode, bad_request, not_found, payload_too_large
from server.limits import LEGACY_K
from server.validation import parse_json_object

SIGNALS = ("interests", "assessments", "course_views")
REASONS = ("interests", "course_tags", "courses", "assessments")


@dataclass(frozen=True)
class Operation:
    """What :mod:`server.openapi` documents of a resource's GET, next to the code that does it.

    The schemas are the ones the resource validates with and dumps through; ``errors`` are the
    codes the resource raises itself (those of routing, the body limit and server bugs apply to
    every route and are added by the generator).
    """

    summary: str
    response: Schema | Any  # a Schema, or a marshmallow field (the original endpoint's dynamic key)
    description: str = ""
    path: type[Schema] | None = None
    query: type[Schema] | None = None
    body: type[Schema] | None = None
    body_description: str = ""
    response_description: str = ""
    example: Any = None
    request_example: Any = None
    errors: tuple[ErrorCode, ...] = field(default=())


LEGACY_QUERY = schemas.LegacyQuery()
LEGACY_REQUEST = schemas.LegacyRequest()
USER_PATH = schemas.UserPath()
SIMILAR_USERS_QUERY = schemas.SimilarUsersQuery()
# Responses go out through their schemas, compiled (schemas.compile_dump: same output, a tenth of the time).
DUMP_LEGACY = schemas.compile_dump(schemas.LEGACY_RESPONSE)
DUMP_SIMILAR_USERS = schemas.compile_dump(schemas.SimilarUsers())
DUMP_HEALTH = schemas.compile_dump(schemas.Health())


def store() -> RankingStore:
    return current_app.extensions["ranking_store"]


def _is_json(mimetype: str) -> bool:
    return mimetype == "application/json" or (mimetype.startswith("application/") and mimetype.endswith("+json"))


def _user_not_found(handle: int, run_id: str | None = None) -> Exception:
    where = f"run {run_id}" if run_id else "the current ranking"
    return not_found(ErrorCode.USER_NOT_FOUND, f"user {handle} is not in {where}")


def _read_body() -> bytes:
    """The request body, at most MAX_CONTENT_LENGTH bytes.

    A declared larger length is refused before any view runs (server.app); a
    chunked body has no declared length, and Werkzeug stops reading it at the
    limit without complaint, so a body that fills the limit is refused here.
    """
    body = request.get_data(cache=True)
    limit = request.max_content_length
    if limit is not None and request.content_length is None and len(body) >= limit:
        raise payload_too_large(limit)
    return body


class LegacySimilarity(Resource):
    """``GET /api/similarity/``: the original endpoint, same request and response shape."""

    operation = Operation(
        summary=f"Top {LEGACY_K} similar users (original endpoint)",
        description=(
            "The original endpoint. The handle comes in a JSON body (GET with a body, as curl -d sends it)"
            " or as ?user_handle=: one of the two is required (else 400 missing_user_handle), and if both"
            " are given they must agree (else 400 conflicting_user_handle). The path also works without the"
            " trailing slash. Neighbours are JSON objects (the original returned strings holding Python dicts)."
        ),
        query=schemas.LegacyQuery,
        body=schemas.LegacyRequest,
        body_description="Content-Type must be application/json (or application/*+json).",
        request_example={"user_handle": "110"},
        response=schemas.LEGACY_RESPONSE,
        response_description=f"Top {LEGACY_K} neighbours, keyed by the handle as a string.",
        example={"110": [{"user": 5182, "score": 0.4331}, {"user": 2217, "score": 0.4102}]},
        errors=(ErrorCode.MISSING_USER_HANDLE, ErrorCode.INVALID_USER_HANDLE, ErrorCode.CONFLICTING_USER_HANDLE,
                ErrorCode.MALFORMED_JSON, ErrorCode.INVALID_BODY, ErrorCode.UNSUPPORTED_CONTENT_TYPE,
                ErrorCode.USER_NOT_FOUND, ErrorCode.RANKING_UNAVAILABLE),
    )

    def get(self) -> dict[str, list[dict[str, Any]]]:
        handle = g.user_handle = self._handle()  # g.user_handle: for the request log
        rows = store().top_neighbours(handle, LEGACY_K)
        if not rows:
            raise _user_not_found(handle)
        return DUMP_LEGACY({str(handle): rows})

    @staticmethod
    def _handle() -> int:
        """The handle from the JSON body (as curl sends it on GET) or from ``?user_handle=``."""
        body = _read_body()
        if not body.strip():
            handle = LEGACY_QUERY.load(request.args).get("user_handle")
            if handle is None:
                raise bad_request(ErrorCode.MISSING_USER_HANDLE, "user_handle is required")
            return handle
        if not _is_json(request.mimetype):
            raise bad_request(
                ErrorCode.UNSUPPORTED_CONTENT_TYPE,
                f"request body must be JSON (Content-Type: application/json), got {request.mimetype or 'none'!r}",
            )
        handle = LEGACY_REQUEST.load(parse_json_object(body))["user_handle"]
        from_query = LEGACY_QUERY.load(request.args).get("user_handle")
        if from_query is not None and from_query != handle:
            raise bad_request(ErrorCode.CONFLICTING_USER_HANDLE, "user_handle differs between the body and the query")
        return handle


class SimilarUsers(Resource):
    """``GET /api/v1/users/<user_handle>/similar``: neighbours with scores, run and reasons."""

    operation = Operation(
        summary="Similar users with run, per-signal scores and, optionally, reasons",
        path=schemas.UserPath,
        query=schemas.SimilarUsersQuery,
        response=schemas.SimilarUsers,
        response_description="The neighbours, best first.",
        example={
            "user_handle": 110,
            "run": {"run_id": "20250101T020000Z-a1b2c3", "run_at": "2025-01-01T02:00:00+00:00", "current": True},
            "k_requested": 1,
            "k_returned": 1,
            "k_max": 5,
            "neighbours": [{
                "rank": 1,
                "user_handle": 5182,
                "score": 0.433071,
                "scores": {"interests": 0.52, "assessments": 0.41, "course_views": 0.25},
                "reasons": {
                    "shared_interests": {"count": 2, "items": ["python", "sql"]},
                    "shared_course_tags": {"count": 1, "items": ["data-analysis"]},
                    "shared_courses": {"count": 1, "items": ["intro-to-sql"]},
                    "shared_assessments": {
                        "count": 1, "items": [{"tag": "python", "user_bin": "high", "similar_user_bin": "medium"}],
                    },
                },
            }],
        },
        errors=(ErrorCode.INVALID_USER_HANDLE, ErrorCode.INVALID_K, ErrorCode.INVALID_EXPLAIN,
                ErrorCode.USER_NOT_FOUND, ErrorCode.RUN_NOT_FOUND, ErrorCode.NOT_FOUND, ErrorCode.RANKING_UNAVAILABLE),
    )

    def get(self, user_handle: str) -> dict[str, Any]:
        handle = g.user_handle = USER_PATH.load({"user_handle": user_handle})["user_handle"]  # g: for the log
        query = SIMILAR_USERS_QUERY.load(request.args)
        k, explain, run_id = query["k"], query["explain"], query["run_id"]
        try:
            ranking = store().user_ranking(handle, k, run_id)
        except RunNotFound:
            shown = run_id if len(run_id) <= 64 else run_id[:64] + "..."
            raise not_found(ErrorCode.RUN_NOT_FOUND, f"run {shown!r} is unknown, failed or no longer kept") from None
        if ranking is None:
            raise _user_not_found(handle, run_id)
        body: dict[str, Any] = {
            "user_handle": handle,
            "run": {"run_id": ranking.run_id, "run_at": ranking.run_at, "current": ranking.current},
            "k_requested": k,
            "k_returned": len(ranking.rows),
            "k_max": ranking.k_max,
        }
        if k > ranking.k_max:
            body["note"] = (
                f"k={k} requested but this run computed {ranking.k_max} neighbours for this user;"
                f" returning {len(ranking.rows)}"
            )
        body["neighbours"] = [_neighbour(row, explain) for row in ranking.rows]
        return DUMP_SIMILAR_USERS(body)


def _neighbour(row: sqlite3.Row, explain: bool) -> dict[str, Any]:
    item: dict[str, Any] = {
        "rank": row["rank"],
        "user_handle": row["similar_user_handle"],
        "score": row["score"],  # rounded by the schema
        "scores": {signal: row[f"score_{signal}"] for signal in SIGNALS},
    }
    if explain:
        item["reasons"] = {
            f"shared_{reason}": {
                "count": row[f"n_shared_{reason}"] or 0,
                "items": _json_list(row[f"shared_{reason}"]),
            }
            for reason in REASONS
        }
    return item


def _json_list(text: str | None) -> list[Any]:
    """A published JSON array; a NULL or damaged cell reads as empty rather than failing the request."""
    if not text:
        return []
    try:
        value = json.loads(text)
    except ValueError:
        current_app.logger.warning("unreadable reason list in the published ranking: %.80s", text)
        return []
    return value if isinstance(value, list) else []


class Health(Resource):
    """``GET /api/health``: is a ranking being served, which run, and how old."""

    operation = Operation(
        summary="Whether a ranking is served, which run and how old",
        response=schemas.Health,
        response_description="A ranking is served.",
        errors=(ErrorCode.RANKING_UNAVAILABLE,),
    )

    def get(self) -> dict[str, Any]:
        facts = store().health()
        published = facts["published_at"] or facts["run_at"]
        return DUMP_HEALTH({
            "status": "ok",
            "database": "readable",
            "results_table": store().table,
            "run": {
                "run_id": facts["run_id"],
                "run_at": facts["run_at"],
                "published_at": facts["published_at"],
                "age_seconds": _age_seconds(published),
            },
            "users_ranked": facts["users"],
            "rows": facts["rows"],
        })


def _age_seconds(timestamp: str | None) -> int | None:
    if not timestamp:
        return None
    try:
        moment = datetime.fromisoformat(timestamp)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0, int((datetime.now(UTC) - moment).total_seconds()))


class OpenApiDocument(Resource):
    """``GET /api/openapi.json``: the OpenAPI 3.1 description of this API (made by :mod:`server.openapi`)."""

    operation = Operation(summary="This document", response=schemas.OpenApi,
                          response_description="OpenAPI 3.1 document.")

    def get(self) -> dict[str, Any]:
        return current_app.extensions["openapi_document"]



# Every route: resource, then (URL rule, operationId) per URL; the app serves and the document describes these.
# The original endpoint's two spellings are rules of their own: strict_slashes=False would answer 404, not 405,
# to a wrong method.
ROUTES: tuple[tuple[type[Resource], str, tuple[tuple[str, str], ...]], ...] = (
    (LegacySimilarity, "legacy_similarity",
     (("/api/similarity/", "legacySimilarity"), ("/api/similarity", "legacySimilarityNoSlash"))),
    (SimilarUsers, "similar_users", (("/api/v1/users/<string:user_handle>/similar", "similarUsers"),)),
    (Health, "health", (("/api/health", "health"),)),
    (OpenApiDocument, "openapi", (("/api/openapi.json", "openapi"),)),
)
