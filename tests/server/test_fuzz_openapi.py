"""Schemathesis fuzzes the running API from the OpenAPI document it serves.

A real gunicorn process serves a published ranking; schemathesis loads
``/api/openapi.json`` from it over HTTP and, for every operation, sends the
documented examples, the coverage phase's boundary and negative values, and
generated requests (valid and invalid). Every response must be no 5xx, carry a
documented status, content type, headers and body schema; valid requests must
not be refused and invalid ones must be. Generation is derandomized, so CI
sees the same cases on every run.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any

import jsonschema_rs
import pytest
import schemathesis
from conftest import ROOT, TABLE, Publisher, free_port, http_get, server_command, stop
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from schemathesis import checks as st_checks
from schemathesis.specs.openapi.checks import positive_data_acceptance

from server.errors import ApiError
from server.validation import MAX_USER_HANDLE, USER_HANDLE_PATTERN, parse_user_handle

USERS = list(range(1, 121))  # includes 110, the handle of the document's examples, so examples answer 200
MAX_EXAMPLES = 200  # generated cases per operation, on top of the examples and coverage phases
Tally = dict[str, Counter[int]]


def accepts_valid_data(ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case) -> Any:
    """``positive_data_acceptance`` less the one rule OpenAPI cannot state: the handle comes from one place.

    The original endpoint takes the handle from the body or ``?user_handle=``, both optional in the document:
    neither (``missing_user_handle``) or two different ones (``conflicting_user_handle``) are refused, as its
    description says. Any other 400 to a schema-valid request still fails.
    """
    if response.status_code == 400 and case.operation.path.startswith("/api/similarity"):
        in_query = "user_handle" in (case.query or {})
        in_body = isinstance(case.body, dict) and "user_handle" in case.body
        code = _error_code(response)
        if (code == "conflicting_user_handle" and in_query and in_body) or (
            code == "missing_user_handle" and not in_query and not in_body
        ):
            return None
    return positive_data_acceptance(ctx, response, case)


def _error_code(response: schemathesis.Response) -> str | None:
    try:
        return json.loads(response.content).get("error")
    except (ValueError, AttributeError):
        return None


CHECKS = [
    st_checks.not_a_server_error,
    st_checks.status_code_conformance,
    st_checks.content_type_conformance,
    st_checks.response_headers_conformance,
    st_checks.response_schema_conformance,
    st_checks.negative_data_rejection,
    st_checks.unsupported_method,
    st_checks.allow_header_conformance,
    st_checks.missing_required_header,
    accepts_valid_data,
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """gunicorn (2 gthread workers, as the live tests run it) over a published ranking of 120 users; base URL."""
    tmp = tmp_path_factory.mktemp("fuzz")
    db = tmp / "similarity.db"
    publisher = Publisher(db)
    publisher.run(users=USERS)
    publisher.run(users=USERS)  # an older kept run, for run_id
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_ENV", "HOST", "PORT")}
    env.update(SIMILARITY_DB_PATH=str(db), RESULTS_TABLE=TABLE, PYTHONPATH=str(ROOT))
    command = server_command("gunicorn", port)
    with open(tmp / "gunicorn.log", "wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while http_get_or_none(f"{base}/api/health") != 200:
            assert process.poll() is None and time.monotonic() < deadline, (tmp / "gunicorn.log").read_text()
            time.sleep(0.1)
        yield base
    finally:
        stop(process)
    assert "Traceback" not in (tmp / "gunicorn.log").read_text(), "the server logged an unhandled error"


def http_get_or_none(url: str) -> int | None:
    try:
        return http_get(url, timeout=1)[0]
    except OSError:
        return None


@pytest.fixture(scope="module")
def served_schema(server: str) -> schemathesis.BaseSchema:
    """The document the server serves (not the module's dict), with a fixed, bounded generation."""
    config = schemathesis.Config.from_dict(
        {"generation": {"deterministic": True, "max-examples": MAX_EXAMPLES}, "suppress-health-check": ["all"]}
    )
    return schemathesis.openapi.from_url(f"{server}/api/openapi.json", config=config, timeout=10)


@pytest.fixture(scope="module")
def tally(server: str) -> Iterator[Tally]:
    """Status codes per operation; afterwards every served operation must have been fuzzed, answered 200
    and, where it takes input, refused some."""
    seen: Tally = defaultdict(Counter)
    started = time.monotonic()
    yield seen
    elapsed = time.monotonic() - started
    paths = http_get(f"{server}/api/openapi.json")[1]["paths"]
    served = {f"{method.upper()} {path}" for path, item in paths.items() for method in item}
    total = sum(sum(codes.values()) for codes in seen.values())
    summary = {label: dict(sorted(codes.items())) for label, codes in sorted(seen.items())}
    print(f"\nschemathesis: {total} cases in {elapsed:.1f} s: {json.dumps(summary)}")
    assert set(seen) == served, f"operations never fuzzed: {served - set(seen)}"
    for label, codes in seen.items():
        assert codes[200] > 0, f"{label} never answered 200: {dict(codes)}"
        if "user_handle" in label or "similarity" in label:
            assert codes[400] > 0, f"{label} never refused input: {dict(codes)}"


@pytest.fixture(autouse=True)
def _node_id_for_schemathesis(request: pytest.FixtureRequest) -> None:
    """schemathesis 4.32.5 reads ``node._nodeid``, which pytest 9 renamed; give it the id it expects."""
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


# schemathesis leaves out the operation that served the document unless a filter names it: name every one
schema = schemathesis.pytest.from_fixture("served_schema").include(path_regex="^/")


@pytest.mark.slow
@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)
def test_served_document_holds_for_every_operation(case: schemathesis.Case, tally: Tally) -> None:
    response = case.call(timeout=10)
    tally[case.operation.label][response.status_code] += 1
    case.validate_response(response, checks=CHECKS)



_PATTERN_SCHEMA = jsonschema_rs.validator_for({"type": "string", "pattern": USER_HANDLE_PATTERN})


@settings(max_examples=400, deadline=None, derandomize=True, database=None)
@given(text=st.one_of(st.from_regex(USER_HANDLE_PATTERN),
                      st.text(alphabet=" \t\r\n\x0b\x1c\u00a0\u3000\u200f0123456789１٠+-.e_x", max_size=24)))
@example(text=str(MAX_USER_HANDLE))
@example(text=str(MAX_USER_HANDLE + 1))
@example(text="9" * 19)
@example(text="0" * 40 + "7")
@example(text="0" * 40)
@example(text=" \t7\r\n")
@example(text="7\n\n")
def test_documented_handle_pattern_is_what_the_server_accepts(text: str) -> None:
    """The document's string pattern (read by Python and by schemathesis' ECMA validator) and
    parse_user_handle accept exactly the same strings: the fuzzing above relies on it."""
    try:
        parse_user_handle(text)
        accepted = True
    except ApiError:
        accepted = False
    assert (re.search(USER_HANDLE_PATTERN, text) is not None) == accepted
    assert _PATTERN_SCHEMA.is_valid(text) == accepted
