"""The OpenAPI 3.1 document served at ``/api/openapi.json``.

Written by hand, next to the code it describes; a test validates it and checks
that every route the app registers is in it.
"""
from __future__ import annotations

import copy
from typing import Any

from server.validation import DEFAULT_K, MAX_K, MAX_USER_HANDLE, USER_HANDLE_PATTERN

ERROR_CODES = {
    400: [
        "missing_user_handle",
        "invalid_user_handle",
        "conflicting_user_handle",
        "invalid_k",
        "invalid_explain",
        "malformed_json",
        "invalid_body",
        "unsupported_content_type",
        "bad_request",
    ],
    404: ["user_not_found", "run_not_found", "not_found"],
    405: ["method_not_allowed"],
    413: ["payload_too_large"],
    500: ["internal_error"],
    503: ["ranking_unavailable"],
}


def _ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def _error_response(
    status: int, description: str, example_code: str, example_message: str, headers: dict[str, Any] | None = None
) -> dict[str, Any]:
    response = {
        "description": f"{description} Codes: {', '.join(ERROR_CODES[status])}.",
        "content": {
            "application/json": {
                "schema": _ref("schemas", "Error"),
                "example": {"error": example_code, "message": example_message},
            }
        },
    }
    if headers:
        response["headers"] = headers
    return response


_NULLABLE_NUMBER = {"type": ["number", "null"]}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error", "message"],
        "properties": {
            "error": {
                "type": "string",
                "description": "Stable machine-readable code.",
                "enum": sorted({code for codes in ERROR_CODES.values() for code in codes}),
            },
            "message": {"type": "string", "description": "Human-readable explanation."},
        },
        "additionalProperties": False,
    },
    "UserHandle": {
        "description": "A positive integer that fits SQLite INTEGER: a JSON number with no fractional part"
        " (110, 110.0 and 1.1e2 alike) or a string of digits.",
        "oneOf": [
            {"type": "integer", "minimum": 1, "maximum": MAX_USER_HANDLE},
            _ref("schemas", "UserHandleText"),
        ],
    },
    "UserHandleText": {
        "type": "string",
        "description": f"ASCII digits for 1..{MAX_USER_HANDLE}, leading zeros allowed, optionally between"
        " spaces, tabs, CR or LF.",
        "pattern": USER_HANDLE_PATTERN,
        "example": "110",
    },
    "LegacyRequest": {
        "type": "object",
        "required": ["user_handle"],
        "properties": {"user_handle": _ref("schemas", "UserHandle")},
    },
    "LegacyNeighbour": {
        "type": "object",
        "required": ["user", "score"],
        "properties": {
            "user": {"type": "integer", "description": "Handle of the similar user."},
            "score": {"type": "number", "description": "Similarity score, rounded to 4 decimal places."},
        },
        "additionalProperties": False,
    },
    "LegacyResponse": {
        "type": "object",
        "description": "One key, the requested handle as a string; its top 5 neighbours in rank order.",
        "minProperties": 1,
        "maxProperties": 1,
        "additionalProperties": {"type": "array", "items": _ref("schemas", "LegacyNeighbour"), "maxItems": 5},
    },
    "Run": {
        "type": "object",
        "required": ["run_id", "run_at", "current"],
        "properties": {
            "run_id": {"type": "string", "example": "20250101T020000Z-a1b2c3"},
            "run_at": {"type": "string", "format": "date-time", "description": "When the run started (UTC)."},
            "current": {"type": "boolean", "description": "Whether this is the run served by default."},
        },
    },
    "SignalScores": {
        "type": "object",
        "description": "Cosine similarity on each signal (6 decimal places); null if not published.",
        "required": ["interests", "assessments", "course_views"],
        "properties": {
            "interests": _NULLABLE_NUMBER,
            "assessments": _NULLABLE_NUMBER,
            "course_views": _NULLABLE_NUMBER,
        },
    },
    "SharedTags": {
        "type": "object",
        "required": ["count", "items"],
        "properties": {
            "count": {"type": "integer", "minimum": 0, "description": "Complete number of shared items."},
            "items": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Shared items, alphabetical; the pipeline lists at most 10.",
            },
        },
    },
    "SharedAssessment": {
        "type": "object",
        "required": ["tag", "user_bin", "similar_user_bin"],
        "properties": {
            "tag": {"type": "string"},
            "user_bin": {"type": ["string", "null"], "description": "Score bin of the requested user."},
            "similar_user_bin": {"type": ["string", "null"], "description": "Score bin of the neighbour."},
        },
    },
    "SharedAssessments": {
        "type": "object",
        "required": ["count", "items"],
        "properties": {
            "count": {"type": "integer", "minimum": 0},
            "items": {"type": "array", "items": _ref("schemas", "SharedAssessment")},
        },
    },
    "Reasons": {
        "type": "object",
        "description": "What the two users share, as published by the pipeline (nothing recomputed).",
        "required": ["shared_interests", "shared_course_tags", "shared_courses", "shared_assessments"],
        "properties": {
            "shared_interests": _ref("schemas", "SharedTags"),
            "shared_course_tags": _ref("schemas", "SharedTags"),
            "shared_courses": _ref("schemas", "SharedTags"),
            "shared_assessments": _ref("schemas", "SharedAssessments"),
        },
    },
    "Neighbour": {
        "type": "object",
        "required": ["rank", "user_handle", "score", "scores"],
        "properties": {
            "rank": {"type": "integer", "minimum": 1, "description": "1 = most similar."},
            "user_handle": {"type": "integer"},
            "score": {"type": "number", "description": "Weighted ensemble score, rounded to 6 decimal places."},
            "scores": _ref("schemas", "SignalScores"),
            "reasons": {**_ref("schemas", "Reasons"), "description": "Only with explain=true."},
        },
    },
    "SimilarUsers": {
        "type": "object",
        "required": ["user_handle", "run", "k_requested", "k_returned", "k_max", "neighbours"],
        "properties": {
            "user_handle": {"type": "integer"},
            "run": _ref("schemas", "Run"),
            "k_requested": {"type": "integer", "minimum": 1, "maximum": MAX_K},
            "k_returned": {"type": "integer", "minimum": 1},
            "k_max": {"type": "integer", "minimum": 1, "description": "Neighbours the run published for this user."},
            "note": {"type": "string", "description": "Present when k was capped at k_max."},
            "neighbours": {"type": "array", "items": _ref("schemas", "Neighbour")},
        },
    },
    "Health": {
        "type": "object",
        "required": ["status", "database", "results_table", "run", "users_ranked", "rows"],
        "properties": {
            "status": {"type": "string", "enum": ["ok"]},
            "database": {"type": "string", "enum": ["readable"]},
            "results_table": {"type": "string"},
            "run": {
                "type": "object",
                "required": ["run_id", "run_at", "published_at", "age_seconds"],
                "properties": {
                    "run_id": {"type": "string"},
                    "run_at": {"type": "string", "format": "date-time"},
                    "published_at": {"type": ["string", "null"], "format": "date-time"},
                    "age_seconds": {"type": ["integer", "null"], "description": "Seconds since published."},
                },
            },
            "users_ranked": {"type": "integer", "minimum": 0},
            "rows": {"type": "integer", "minimum": 0},
        },
    },
}

RESPONSES: dict[str, Any] = {
    "BadRequest": _error_response(400, "Invalid input.", "invalid_user_handle", "user_handle is empty"),
    "NotFound": _error_response(404, "Unknown user, run or URL.", "user_not_found",
                                "user 42 is not in the current ranking"),
    "MethodNotAllowed": _error_response(
        405, "Only GET (and HEAD, OPTIONS) are allowed.", "method_not_allowed",
        "The method is not allowed for the requested URL.",
        {"Allow": {"description": "The methods served, e.g. GET, HEAD, OPTIONS.", "required": True,
                   "schema": {"type": "string"}}},
    ),
    "PayloadTooLarge": _error_response(413, "Request body over 4 KiB.", "payload_too_large",
                                       "request body exceeds the limit of 4096 bytes"),
    "InternalError": _error_response(500, "A server bug (never caused by client input).", "internal_error",
                                     "internal server error"),
    "Unavailable": _error_response(
        503, "No ranking published yet: database file or table missing or unreadable.", "ranking_unavailable",
        "no ranking has been published yet (database file not found)",
        {"Retry-After": {"description": "Seconds to wait before asking again.", "required": True,
                         "schema": {"type": "string", "pattern": "^[0-9]+$"}}},
    ),
}

_COMMON_ERRORS = {
    "405": _ref("responses", "MethodNotAllowed"),
    "413": _ref("responses", "PayloadTooLarge"),
    "500": _ref("responses", "InternalError"),
}

LEGACY_EXAMPLE = {"110": [{"user": 5182, "score": 0.4331}, {"user": 2217, "score": 0.4102}]}
V1_EXAMPLE = {
    "user_handle": 110,
    "run": {"run_id": "20250101T020000Z-a1b2c3", "run_at": "2025-01-01T02:00:00+00:00", "current": True},
    "k_requested": 1,
    "k_returned": 1,
    "k_max": 5,
    "neighbours": [
        {
            "rank": 1,
            "user_handle": 5182,
            "score": 0.433071,
            "scores": {"interests": 0.52, "assessments": 0.41, "course_views": 0.25},
            "reasons": {
                "shared_interests": {"count": 2, "items": ["python", "sql"]},
                "shared_course_tags": {"count": 1, "items": ["data-analysis"]},
                "shared_courses": {"count": 1, "items": ["intro-to-sql"]},
                "shared_assessments": {
                    "count": 1,
                    "items": [{"tag": "python", "user_bin": "high", "similar_user_bin": "medium"}],
                },
            },
        }
    ],
}

PATHS: dict[str, Any] = {
    "/api/similarity/": {
        "get": {
            "operationId": "legacySimilarity",
            "summary": "Top 5 similar users (original endpoint)",
            "description": (
                "The original endpoint. The handle comes in a JSON body (GET with a body, as curl -d sends it)"
                " or as ?user_handle=: one of the two is required (else 400 missing_user_handle), and if both"
                " are given they must agree (else 400 conflicting_user_handle). The path also works without the"
                " trailing slash. Neighbours are JSON objects (the original returned strings holding Python dicts)."
            ),
            "parameters": [
                {
                    "name": "user_handle",
                    "in": "query",
                    "required": False,
                    "description": "Alternative to the body; if both are given they must agree.",
                    "schema": _ref("schemas", "UserHandleText"),
                }
            ],
            "requestBody": {
                "required": False,
                "description": "Content-Type must be application/json; at most 4 KiB.",
                "content": {
                    "application/json": {
                        "schema": _ref("schemas", "LegacyRequest"),
                        "example": {"user_handle": "110"},
                    }
                },
            },
            "responses": {
                "200": {
                    "description": "Top 5 neighbours, keyed by the handle as a string.",
                    "content": {
                        "application/json": {"schema": _ref("schemas", "LegacyResponse"), "example": LEGACY_EXAMPLE}
                    },
                },
                "400": _ref("responses", "BadRequest"),
                "404": _ref("responses", "NotFound"),
                **_COMMON_ERRORS,
                "503": _ref("responses", "Unavailable"),
            },
        }
    },
    "/api/v1/users/{user_handle}/similar": {
        "get": {
            "operationId": "similarUsers",
            "summary": "Similar users with run, per-signal scores and, optionally, reasons",
            "parameters": [
                {
                    "name": "user_handle",
                    "in": "path",
                    "required": True,
                    "schema": _ref("schemas", "UserHandleText"),
                    "description": f"Positive integer, at most {MAX_USER_HANDLE}.",
                },
                {
                    "name": "k",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_K, "default": DEFAULT_K},
                    "description": "Neighbours wanted; capped by what the run computed (see k_max and note).",
                },
                {
                    "name": "explain",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "boolean", "default": False},
                    "description": "Add the reasons (shared interests, course tags, courses, assessments). "
                    "Accepts true/false, 1/0, yes/no.",
                },
                {
                    "name": "run_id",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "string"},
                    "description": "Read an earlier run still kept in the history; default the current run.",
                },
            ],
            "responses": {
                "200": {
                    "description": "The neighbours, best first.",
                    "content": {"application/json": {"schema": _ref("schemas", "SimilarUsers"), "example": V1_EXAMPLE}},
                },
                "400": _ref("responses", "BadRequest"),
                "404": _ref("responses", "NotFound"),
                **_COMMON_ERRORS,
                "503": _ref("responses", "Unavailable"),
            },
        }
    },
    "/api/health": {
        "get": {
            "operationId": "health",
            "summary": "Whether a ranking is served, which run and how old",
            "responses": {
                "200": {
                    "description": "A ranking is served.",
                    "content": {"application/json": {"schema": _ref("schemas", "Health")}},
                },
                **_COMMON_ERRORS,
                "503": _ref("responses", "Unavailable"),
            },
        }
    },
    "/api/openapi.json": {
        "get": {
            "operationId": "openapi",
            "summary": "This document",
            "responses": {
                "200": {
                    "description": "OpenAPI 3.1 document.",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                **_COMMON_ERRORS,
            },
        }
    },
}


# The original endpoint answers without the trailing slash too (no redirect: curl -d would not follow it).
PATHS["/api/similarity"] = {
    "get": {
        **PATHS["/api/similarity/"]["get"],
        "operationId": "legacySimilarityNoSlash",
        "summary": "Same as /api/similarity/",
    }
}


def openapi_document() -> dict[str, Any]:
    """The complete document (a fresh dict: callers may not mutate the module's tables)."""
    return copy.deepcopy({
        "openapi": "3.1.0",
        "info": {
            "title": "User similarity API",
            "version": "1.0.0",
            "description": "Most similar users of a learning-platform user, from the ranking the pipeline publishes.",
        },
        "paths": PATHS,
        "components": {"schemas": SCHEMAS, "responses": RESPONSES},
    })
