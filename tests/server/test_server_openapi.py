"""The OpenAPI document is valid and describes every route the app registers."""
from __future__ import annotations

import re
from typing import Any

from conftest import Publisher
from openapi_spec_validator import validate

from server.openapi import ERROR_CODES, openapi_document

IMPLICIT_METHODS = {"HEAD", "OPTIONS"}


def test_document_validates() -> None:
    validate(openapi_document())


def test_served_document_is_the_same(client: Any) -> None:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    served = response.get_json()
    validate(served)
    assert served == openapi_document()


def test_every_route_and_method_is_documented(make_app: Any) -> None:
    app = make_app()
    paths = openapi_document()["paths"]
    routes = 0
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        assert path in paths, f"{rule.rule} is not in the OpenAPI document"
        for method in rule.methods - IMPLICIT_METHODS:
            assert method.lower() in paths[path], f"{method} {rule.rule} is not documented"
        routes += 1
    assert routes == len(paths) == 5  # and nothing documented that is not served


def test_every_documented_operation_lists_its_errors() -> None:
    paths = openapi_document()["paths"]
    for path, item in paths.items():
        for operation in item.values():
            responses = operation["responses"]
            assert {"200", "405", "500"} <= set(responses), path
            if path != "/api/openapi.json":
                assert "503" in responses, path
            if "{user_handle}" in path or "similarity" in path:
                assert {"400", "404", "413"} <= set(responses), path
            for parameter in operation.get("parameters", []):
                assert parameter["description"] or parameter["name"] == "user_handle"


def test_error_codes_returned_are_documented(client: Any, publisher: Publisher) -> None:
    publisher.run()
    documented = set(openapi_document()["components"]["schemas"]["Error"]["properties"]["error"]["enum"])
    assert documented == {code for codes in ERROR_CODES.values() for code in codes}
    probes = [
        client.get("/api/similarity/"),
        client.get("/api/similarity/", json={"user_handle": "x"}),
        client.get("/api/similarity/", data=b"{", headers={"Content-Type": "application/json"}),
        client.get("/api/similarity/", data=b"x", headers={"Content-Type": "text/plain"}),
        client.get("/api/similarity/", json=[1]),
        client.get("/api/similarity/?user_handle=2", json={"user_handle": 1}),
        client.get("/api/v1/users/7/similar?k=0"),
        client.get("/api/v1/users/7/similar?explain=2"),
        client.get("/api/v1/users/999/similar"),
        client.get("/api/v1/users/7/similar?run_id=nope"),
        client.get("/nowhere"),
        client.post("/api/health"),
        client.get("/api/health", data=b"x" * 5000),
    ]
    for response in probes:
        assert response.status_code >= 400
        code = response.get_json()["error"]
        assert code in documented
        assert code in ERROR_CODES[response.status_code]
