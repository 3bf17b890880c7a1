"""Marshmallow schemas: what each endpoint takes and returns, for the code and for the OpenAPI document alike.

Request schemas parse and validate input (their fields call :mod:`server.validation`, so each
bad value is a 400 with its own :class:`~server.errors.ErrorCode`); response schemas shape every
answer (``dump``: field order, rounding, nothing undeclared). :mod:`server.openapi` turns the same
classes into the document's parameters, request body and response schemas, so a limit written
here (``k`` from 1 to :data:`~server.limits.MAX_K`, the handle's range and pattern, the rounding)
is the one enforced and the one documented.
"""
from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, Schema, fields, validate

from server.errors import ErrorCode, bad_request
from server.limits import (
    DEFAULT_K,
    LEGACY_K,
    LEGACY_SCORE_PLACES,
    MAX_K,
    MAX_USER_HANDLE,
    MIN_K,
    SCORE_PLACES,
)
from server.validation import USER_HANDLE_PATTERN, parse_bool, parse_k, parse_user_handle


# -- request fields ------------------------------------------------------------------
class RequestField(fields.Field):
    """A request field parsed by :mod:`server.validation` (which raises the 400s itself).

    ``missing_code``: the error for an absent required value or a ``null``. :meth:`json_schema` is what
    the OpenAPI document says of the field (read by :mod:`server.openapi`).
    """

    missing_code: ErrorCode | None = None

    def make_error(self, key: str, **kwargs: Any) -> Exception:
        if key in ("required", "null") and self.missing_code is not None:
            return bad_request(self.missing_code, self.error_messages[key].format(name=self.name))
        return super().make_error(key, **kwargs)

    def json_schema(self) -> dict[str, Any]:
        raise NotImplementedError


class UserHandleText(RequestField):
    """A handle written in ASCII digits: the path, and ``?user_handle=``."""

    missing_code = ErrorCode.MISSING_USER_HANDLE
    default_error_messages = {"required": "{name} is required", "null": "{name} is required"}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        return parse_user_handle(value)

    def json_schema(self) -> dict[str, Any]:
        return {
            "type": "string",
            "pattern": USER_HANDLE_PATTERN,
            "description": f"ASCII digits for 1..{MAX_USER_HANDLE}, leading zeros allowed, optionally between"
            " spaces, tabs, CR or LF.",
            "example": "110",
        }


class UserHandle(UserHandleText):
    """A handle in a JSON body: an integer, or a string of digits."""

    default_error_messages = {"required": 'request body must contain "{name}"', "null": "{name} is required"}

    def json_schema(self) -> dict[str, Any]:
        return {
            "description": f"A positive integer up to {MAX_USER_HANDLE} (SQLite INTEGER): a JSON number with no"
            " fractional part (110, 110.0 and 1.1e2 alike) or a string of digits.",
            "oneOf": [{"type": "integer", "minimum": 1, "maximum": MAX_USER_HANDLE}, super().json_schema()],
        }


class Count(RequestField):
    """An integer query parameter from ``minimum`` to ``maximum`` (``load_default`` when absent)."""

    def __init__(self, *, minimum: int, maximum: int, load_default: int, **kwargs: Any) -> None:
        super().__init__(load_default=load_default, **kwargs)
        self.minimum, self.maximum = minimum, maximum

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        return parse_k(value, self.minimum, self.maximum, self.load_default)

    def json_schema(self) -> dict[str, Any]:
        return {"type": "integer", "minimum": self.minimum, "maximum": self.maximum}


class Flag(RequestField):
    """true/false, 1/0, yes/no (any case); absent means false."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(load_default=False, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        return parse_bool(self.name, value)

    def json_schema(self) -> dict[str, Any]:
        return {"type": "boolean"}


class OptionalText(fields.String):
    """A string; empty reads as absent."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str | None:
        return super()._deserialize(value, attr, data, **kwargs) or None


# -- request schemas -----------------------------------------------------------------
class RequestSchema(Schema):
    class Meta:
        unknown = EXCLUDE  # other query parameters and body keys are ignored, as they always were


class LegacyQuery(RequestSchema):
    user_handle = UserHandleText(metadata={"description": "Alternative to the body; if both are given they must"
                                                          " agree."})


class LegacyRequest(RequestSchema):
    user_handle = UserHandle(required=True)


class UserPath(RequestSchema):
    user_handle = UserHandleText(required=True, metadata={"description": f"Positive integer, at most"
                                                                         f" {MAX_USER_HANDLE}."})


class SimilarUsersQuery(RequestSchema):
    k = Count(minimum=MIN_K, maximum=MAX_K, load_default=DEFAULT_K, metadata={
        "description": "Neighbours wanted; capped by what the run computed (see k_max and note)."})
    explain = Flag(metadata={"description": "Add the reasons (shared interests, course tags, courses,"
                                            " assessments). Accepts true/false, 1/0, yes/no."})
    run_id = OptionalText(load_default=None, metadata={
        "description": "Read an earlier run still kept in the history; default the current run."})


# -- response fields and schemas -----------------------------------------------------
class Rounded(fields.Float):
    """A score rounded to ``places`` decimals on the way out."""

    def __init__(self, places: int, **kwargs: Any) -> None:
        description = kwargs.pop("description", "Score")
        super().__init__(metadata={"description": f"{description}, rounded to {places} decimal places."}, **kwargs)
        self.places = places

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> float | None:
        return None if value is None else round(value, self.places)


class LegacyNeighbour(Schema):
    user = fields.Integer(required=True, attribute="similar_user_handle",
                          metadata={"description": "Handle of the similar user."})
    score = Rounded(LEGACY_SCORE_PLACES, required=True, description="Similarity score")


# The original answer: one key, the handle as a string, its top LEGACY_K neighbours in rank order.
LEGACY_RESPONSE = fields.Dict(
    keys=fields.String(),
    values=fields.List(fields.Nested(LegacyNeighbour), validate=validate.Length(max=LEGACY_K)),
    metadata={"description": f"One key, the requested handle as a string; its top {LEGACY_K} neighbours in rank"
                             " order.", "minProperties": 1, "maxProperties": 1},
)


class Run(Schema):
    run_id = fields.String(required=True, metadata={"example": "20250101T020000Z-a1b2c3"})
    run_at = fields.String(required=True, metadata={"format": "date-time", "description": "When the run started"
                                                                                         " (UTC)."})
    current = fields.Boolean(required=True, metadata={"description": "Whether this is the run served by default."})


class SignalScores(Schema):
    class Meta:
        description = f"Cosine similarity on each signal ({SCORE_PLACES} decimal places); null if not published."

    interests = Rounded(SCORE_PLACES, required=True, allow_none=True, description="Interests")
    assessments = Rounded(SCORE_PLACES, required=True, allow_none=True, description="Assessments")
    course_views = Rounded(SCORE_PLACES, required=True, allow_none=True, description="Course views")


class SharedTags(Schema):
    count = fields.Integer(required=True, validate=validate.Range(min=0),
                           metadata={"description": "Complete number of shared items."})
    items = fields.List(fields.String(), required=True,
                        metadata={"description": "Shared items, alphabetical; the pipeline lists at most 10."})


class SharedAssessment(Schema):
    tag = fields.String(required=True)
    user_bin = fields.String(required=True, allow_none=True,
                             metadata={"description": "Score bin of the requested user."})
    similar_user_bin = fields.String(required=True, allow_none=True,
                                     metadata={"description": "Score bin of the neighbour."})


class SharedAssessments(Schema):
    count = fields.Integer(required=True, validate=validate.Range(min=0))
    items = fields.List(fields.Nested(SharedAssessment), required=True)


class Reasons(Schema):
    class Meta:
        description = "What the two users share, as published by the pipeline (nothing recomputed)."

    shared_interests = fields.Nested(SharedTags, required=True)
    shared_course_tags = fields.Nested(SharedTags, required=True)
    shared_courses = fields.Nested(SharedTags, required=True)
    shared_assessments = fields.Nested(SharedAssessments, required=True)


class Neighbour(Schema):
    rank = fields.Integer(required=True, validate=validate.Range(min=1), metadata={"description": "1 = most similar."})
    user_handle = fields.Integer(required=True)
    score = Rounded(SCORE_PLACES, required=True, description="Weighted ensemble score")
    scores = fields.Nested(SignalScores, required=True)
    reasons = fields.Nested(Reasons, metadata={"description": "Only with explain=true."})


class SimilarUsers(Schema):
    user_handle = fields.Integer(required=True)
    run = fields.Nested(Run, required=True)
    k_requested = fields.Integer(required=True, validate=validate.Range(MIN_K, MAX_K))
    k_returned = fields.Integer(required=True, validate=validate.Range(min=1))
    k_max = fields.Integer(required=True, validate=validate.Range(min=1),
                           metadata={"description": "Neighbours the run published for this user."})
    note = fields.String(metadata={"description": "Present when k was capped at k_max."})
    neighbours = fields.List(fields.Nested(Neighbour), required=True)


class HealthRun(Schema):
    run_id = fields.String(required=True)
    run_at = fields.String(required=True, metadata={"format": "date-time"})
    published_at = fields.String(required=True, allow_none=True, metadata={"format": "date-time"})
    age_seconds = fields.Integer(required=True, allow_none=True, metadata={"description": "Seconds since published."})


class Health(Schema):
    status = fields.String(required=True, validate=validate.OneOf(["ok"]))
    database = fields.String(required=True, validate=validate.OneOf(["readable"]))
    results_table = fields.String(required=True)
    run = fields.Nested(HealthRun, required=True)
    users_ranked = fields.Integer(required=True, validate=validate.Range(min=0))
    rows = fields.Integer(required=True, validate=validate.Range(min=0))


class OpenApi(Schema):
    class Meta:
        unknown = EXCLUDE  # an object; its own schema is the OpenAPI 3.1 specification
        description = "OpenAPI 3.1 document."


# -- fast dumping --------------------------------------------------------------------
def compile_dump(schema: Schema | fields.Field) -> Any:
    """A plain function that dumps like ``schema.dump`` (or ``field.serialize``) for the fields used here.

    marshmallow spends about 2 µs a field, a third of a request's time in the app for ``explain=true``;
    this walks the schema once and returns closures that do the same (declared keys in declared
    order, absent keys left out, ``Rounded`` rounding, int/str/bool/float coercion, ``None`` kept).
    A test checks it against marshmallow's own ``dump`` on real answers.
    """
    if isinstance(schema, Schema):
        getters = [(name, field.attribute or name, compile_dump(field)) for name, field in schema.dump_fields.items()]

        def dump_object(obj: Any) -> dict[str, Any]:
            out = {}
            for key, attribute, dump in getters:
                try:
                    value = obj[attribute]
                except (KeyError, IndexError):
                    continue
                out[key] = dump(value)
            return out

        return dump_object
    field = schema
    if isinstance(field, fields.Nested):
        inner = compile_dump(field.schema)
        if field.many:
            return lambda value: None if value is None else [inner(item) for item in value]
        return lambda value: None if value is None else inner(value)
    if isinstance(field, fields.List):
        item = compile_dump(field.inner)
        return lambda value: None if value is None else [item(each) for each in value]
    if isinstance(field, fields.Dict):
        key = compile_dump(field.key_field) if field.key_field else _same
        val = compile_dump(field.value_field) if field.value_field else _same
        return lambda value: None if value is None else {key(k): val(v) for k, v in value.items()}
    if isinstance(field, Rounded):
        places = field.places
        return lambda value: None if value is None else round(value, places)
    for kind, cast in ((fields.Boolean, bool), (fields.Integer, int), (fields.Float, float), (fields.String, str)):
        if isinstance(field, kind):
            return lambda value, cast=cast: None if value is None else cast(value)
    if type(field) is fields.Raw:
        return _same
    raise TypeError(f"compile_dump does not know {type(field).__name__}")


def _same(value: Any) -> Any:
    return value
