"""The OpenAPI document is valid and describes every route the app registers."""
from __future__ import annotations

import re
from typing import Any

from conftest import Publisher
from openapi_spec_validator import validate

from server.openapi import openapi_document

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


def documented_codes(document: dict[str, Any], path: str, status: int) -> set[str]:
    schema = document["paths"][path]["get"]["responses"][str(status)]["content"]["application/json"]["schema"]
    return set(schema["allOf"][1]["properties"]["error"]["enum"])


def test_error_codes_returned_are_documented_for_their_path(client: Any, publisher: Publisher) -> None:
    """Replaces the enum-against-its-own-list test: codes the app really answers, per path and status."""
    publisher.run()
    document = openapi_document()
    legacy, v1, health = "/api/similarity/", "/api/v1/users/{user_handle}/similar", "/api/health"
    probes = [
        (legacy, client.get("/api/similarity/")),
        (legacy, client.get("/api/similarity/", json={"user_handle": "x"})),
        (legacy, client.get("/api/similarity/", data=b"{", headers={"Content-Type": "application/json"})),
        (legacy, client.get("/api/similarity/", data=b"x", headers={"Content-Type": "text/plain"})),
        (legacy, client.get("/api/similarity/", json=[1])),
        (legacy, client.get("/api/similarity/?user_handle=2", json={"user_handle": 1})),
        (legacy, client.get("/api/similarity/", json={"user_handle": 999})),
        (legacy, client.post("/api/similarity/")),
        (v1, client.get("/api/v1/users/7/similar?k=0")),
        (v1, client.get("/api/v1/users/7/similar?explain=2")),
        (v1, client.get("/api/v1/users/999/similar")),
        (v1, client.get("/api/v1/users/7/similar?run_id=nope")),
        (v1, client.get("/api/v1/users/x/similar")),
        (health, client.post("/api/health")),
        (health, client.get("/api/health", data=b"x" * 5000)),
    ]
    for path, response in probes:
        assert response.status_code >= 400
        code = response.get_json()["error"]
        assert code in documented_codes(document, path, response.status_code), (path, response.status_code, code)


def test_k_limits_documented_are_enforced(client: Any, publisher: Publisher) -> None:
    publisher.run()
    params = openapi_document()["paths"]["/api/v1/users/{user_handle}/similar"]["get"]["parameters"]
    k = next(p for p in params if p["name"] == "k")["schema"]
    assert client.get(f"/api/v1/users/7/similar?k={k['maximum']}").status_code == 200
    assert client.get(f"/api/v1/users/7/similar?k={k['maximum'] + 1}").get_json()["error"] == "invalid_k"
    assert client.get(f"/api/v1/users/7/similar?k={k['minimum']}").status_code == 200
    assert client.get(f"/api/v1/users/7/similar?k={k['minimum'] - 1}").get_json()["error"] == "invalid_k"
