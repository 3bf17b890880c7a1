"""The OpenAPI 3.1 document served at ``/api/openapi.json``, generated with apispec.

Nothing here describes the API by hand: paths and operation ids come from
:data:`server.resources.ROUTES`, parameters, bodies and responses from the marshmallow
schemas the resources validate with and dump through (:mod:`server.schemas`), error
codes and statuses from :class:`server.errors.ErrorCode` (each operation lists the codes
its resource raises plus those every route can answer), limits from :mod:`server.limits`.
"""
from __future__ import annotations

import copy
import functools
import re
from collections import defaultdict
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import Schema, fields

from server.errors import ErrorBody, ErrorCode
from server.limits import MAX_BODY_BYTES, RETRY_AFTER_SECONDS
from server.resources import ROUTES, Operation
from server.schemas import RequestField

TITLE = "User similarity API"
VERSION = "1.0.0"
# Answered on every route: by routing (405), the body limit checked before any view (413), a server bug (500).
EVERY_ROUTE = (ErrorCode.METHOD_NOT_ALLOWED, ErrorCode.PAYLOAD_TOO_LARGE, ErrorCode.INTERNAL_ERROR)
_WHY = {
    400: "Invalid input.",
    404: "Unknown user, run or URL.",
    405: "Only GET (and HEAD, OPTIONS) are allowed.",
    413: f"Request body over {MAX_BODY_BYTES} bytes.",
    500: "A server bug (never caused by client input).",
    503: "No ranking published yet: database file or table missing or unreadable.",
}
_HEADERS = {
    405: {"Allow": {"description": "The methods served, e.g. GET, HEAD, OPTIONS.", "required": True,
                    "schema": {"type": "string"}}},
    503: {"Retry-After": {"description": f"Seconds to wait before asking again ({RETRY_AFTER_SECONDS}).",
                          "required": True, "schema": {"type": "string", "pattern": "^[0-9]+$"}}},
}


def openapi_path(rule: str) -> str:
    """A Flask URL rule as OpenAPI spells it: ``/api/v1/users/{user_handle}/similar``."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def _request_field_schema(self: Any, field: fields.Field, **kwargs: Any) -> dict[str, Any]:
    """apispec attribute function: a :class:`RequestField` says what it accepts itself."""
    return field.json_schema() if isinstance(field, RequestField) else {}


@functools.cache
def _document() -> dict[str, Any]:
    plugin = MarshmallowPlugin()
    spec = APISpec(
        title=TITLE,
        version=VERSION,
        openapi_version="3.1.0",
        plugins=[plugin],
        info={"description": "Most similar users of a learning-platform user, from the ranking the pipeline"
                             " publishes. Generated from the code (server/openapi.py)."},
    )
    plugin.converter.add_attribute_function(_request_field_schema)
    spec.components.schema("Error", schema=ErrorBody)
    for resource, _endpoint, urls in ROUTES:
        operation: Operation = resource.operation
        for rule, operation_id in urls:
            spec.path(path=openapi_path(rule), operations={"get": _operation(plugin, operation, operation_id)})
    return spec.to_dict()


def openapi_document() -> dict[str, Any]:
    """The complete document (a fresh copy: callers may change theirs)."""
    return copy.deepcopy(_document())


def _operation(plugin: MarshmallowPlugin, operation: Operation, operation_id: str) -> dict[str, Any]:
    parameters = [{"in": "path", "schema": operation.path}] if operation.path else []
    if operation.query:
        parameters.append({"in": "query", "schema": operation.query})
    document: dict[str, Any] = {"operationId": operation_id, "summary": operation.summary}
    if operation.description:
        document["description"] = operation.description
    if parameters:
        document["parameters"] = parameters
    if operation.body:
        content: dict[str, Any] = {"schema": operation.body}
        if operation.request_example is not None:
            content["example"] = operation.request_example
        document["requestBody"] = {
            "required": False,
            "description": f"{operation.body_description} At most {MAX_BODY_BYTES} bytes.".strip(),
            "content": {"application/json": content},
        }
    document["responses"] = {"200": _success(plugin, operation), **_errors(operation.errors)}
    return document


def _success(plugin: MarshmallowPlugin, operation: Operation) -> dict[str, Any]:
    response = operation.response
    schema = response if isinstance(response, type) and issubclass(response, Schema) else (
        plugin.converter.field2property(response))
    content: dict[str, Any] = {"schema": schema}
    if operation.example is not None:
        content["example"] = operation.example
    return {"description": operation.response_description or "OK", "content": {"application/json": content}}


def _errors(raised: tuple[ErrorCode, ...]) -> dict[str, Any]:
    """One response per status, its ``error`` limited to the codes this operation can answer."""
    by_status: dict[int, list[str]] = defaultdict(list)
    for code in ErrorCode:  # in the enum's order, each once
        if code in raised or code in EVERY_ROUTE:
            by_status[code.status].append(code.value)
    responses = {}
    for status in sorted(by_status):
        codes = by_status[status]
        response: dict[str, Any] = {
            "description": f"{_WHY[status]} Codes: {', '.join(codes)}.",
            "content": {"application/json": {
                "schema": {"allOf": [{"$ref": "#/components/schemas/Error"},
                                     {"properties": {"error": {"enum": codes}}}]},
            }},
        }
        if status == 413:
            response["x-max-body-bytes"] = MAX_BODY_BYTES
        if status in _HEADERS:
            response["headers"] = _HEADERS[status]
        responses[str(status)] = response
    return responses
