"""The API's Flask-RESTful resources: what each endpoint reads and returns (docs/api.md)."""
from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from typing import Any

from flask import current_app, g, request
from flask_restful import Resource

from server.db import RankingStore, RunNotFound
from server.errors import bad_request, not_found, payload_too_large
from server.validation import parse_bool, parse_json_object, parse_k, parse_user_handle

LEGACY_K = 5  # the original endpoint always returned the top 5
SIGNALS = ("interests", "assessments", "course_views")
REASONS = ("interests", "course_tags", "courses", "assessments")


def store() -> RankingStore:
    return current_app.extensions["ranking_store"]


def _is_json(mimetype: str) -> bool:
    return mimetype == "application/json" or (mimetype.startswith("application/") and mimetype.endswith("+json"))


def _user_not_found(handle: int, run_id: str | None = None) -> Exception:
    where = f"run {run_id}" if run_id else "the current ranking"
    return not_found("user_not_found", f"user {handle} is not in {where}")


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

    def get(self) -> dict[str, list[dict[str, Any]]]:
        handle = g.user_handle = parse_user_handle(self._raw_handle())  # g.user_handle: for the request log
        rows = store().top_neighbours(handle, LEGACY_K)
        if not rows:
            raise _user_not_found(handle)
        return {str(handle): [{"user": row[0], "score": round(row[1], 4)} for row in rows]}

    @staticmethod
    def _raw_handle() -> Any:
        """The handle from the JSON body (as curl sends it on GET) or from ``?user_handle=``."""
        from_query = request.args.get("user_handle")
        body = _read_body()
        if not body.strip():
            return from_query
        if not _is_json(request.mimetype):
            raise bad_request(
                "unsupported_content_type",
                f"request body must be JSON (Content-Type: application/json), got {request.mimetype or 'none'!r}",
            )
        data = parse_json_object(body)
        if "user_handle" not in data:
            raise bad_request("missing_user_handle", 'request body must contain "user_handle"')
        from_body = data["user_handle"]
        if from_query is not None and parse_user_handle(from_query) != parse_user_handle(from_body):
            raise bad_request("conflicting_user_handle", "user_handle differs between the body and the query")
        return from_body


class SimilarUsers(Resource):
    """``GET /api/v1/users/<user_handle>/similar``: neighbours with scores, run and reasons."""

    def get(self, user_handle: str) -> dict[str, Any]:
        handle = g.user_handle = parse_user_handle(user_handle)  # g.user_handle: for the request log
        k = parse_k(request.args.get("k"))
        explain = parse_bool("explain", request.args.get("explain"))
        run_id = request.args.get("run_id") or None
        try:
            ranking = store().user_ranking(handle, k, run_id)
        except RunNotFound:
            shown = run_id if len(run_id) <= 64 else run_id[:64] + "..."
            raise not_found("run_not_found", f"run {shown!r} is unknown, failed or no longer kept") from None
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
        return body


def _neighbour(row: sqlite3.Row, explain: bool) -> dict[str, Any]:
    item: dict[str, Any] = {
        "rank": row["rank"],
        "user_handle": row["similar_user_handle"],
        # the pipeline's scores carry float32 precision: six decimals say all there is
        "score": _round6(row["score"]),
        "scores": {signal: _round6(row[f"score_{signal}"]) for signal in SIGNALS},
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


def _round6(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


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

    def get(self) -> dict[str, Any]:
        facts = store().health()
        published = facts["published_at"] or facts["run_at"]
        return {
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
        }


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
    """``GET /api/openapi.json``: the OpenAPI 3.1 description of this API."""

    def get(self) -> dict[str, Any]:
        return current_app.extensions["openapi_document"]

