"""The API through Flask's test client, one app per test over a SQLite file
published by the pipeline's own ``publish_ranking``."""
from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from conftest import TABLE, Publisher
from flask_restful import Resource
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.publish import RunRecord, record_failed_run, utc_now
from server.validation import MAX_USER_HANDLE

LEGACY = "/api/similarity/"


def v1(user: Any, **query: Any) -> str:
    params = "&".join(f"{key}={value}" for key, value in query.items())
    return f"/api/v1/users/{user}/similar" + (f"?{params}" if params else "")


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["error"] == code, body
    assert set(body) == {"error", "message"} and body["message"]
    return body


def legacy_expected(publisher: Publisher, run_id: str, user: int) -> dict[str, list[dict[str, Any]]]:
    return {str(user): [{"user": r["similar_user_handle"], "score": round(r["score"], 4)}
                        for r in publisher.neighbours(run_id, user)[:5]]}


# -- original endpoint: shape ------------------------------------------------------
@pytest.mark.parametrize("path", [LEGACY, "/api/similarity"])
@pytest.mark.parametrize("handle", ["7", 7, " 7 "])
def test_legacy_body_string_or_number(client: Any, publisher: Publisher, path: str, handle: Any) -> None:
    run_id = publisher.run()
    response = client.get(path, json={"user_handle": handle})
    assert response.status_code == 200
    assert response.get_json() == legacy_expected(publisher, run_id, 7)


def test_legacy_exact_shape(client: Any, publisher: Publisher) -> None:
    run_id = publisher.run()
    response = client.get(LEGACY, data=b'{"user_handle":"7"}', headers={"Content-type": "application/json"})
    body = response.get_json()
    assert list(body) == ["7"]
    neighbours = body["7"]
    assert len(neighbours) == 5
    for item, row in zip(neighbours, publisher.neighbours(run_id, 7), strict=True):
        assert list(item) == ["user", "score"]  # key order kept, as in the original
        assert type(item["user"]) is int and type(item["score"]) is float
        assert item["score"] == round(row["score"], 4) and item["score"] != row["score"]
    assert response.get_data(as_text=True).startswith('{"7": [{"user": ')


@pytest.mark.parametrize("path", [LEGACY + "?user_handle=7", "/api/similarity?user_handle=7"])
def test_legacy_query_parameter(client: Any, publisher: Publisher, path: str) -> None:
    run_id = publisher.run()
    response = client.get(path)
    assert response.status_code == 200
    assert response.get_json() == legacy_expected(publisher, run_id, 7)


def test_legacy_body_and_query_agreeing(client: Any, publisher: Publisher) -> None:
    publisher.run()
    assert client.get(LEGACY + "?user_handle=7", json={"user_handle": 7}).status_code == 200
    assert_error(client.get(LEGACY + "?user_handle=8", json={"user_handle": 7}), 400, "conflicting_user_handle")


def test_legacy_fewer_than_five_neighbours(client: Any, publisher: Publisher) -> None:
    run_id = publisher.run(users=[1, 2, 3], k=2)
    assert client.get(LEGACY, json={"user_handle": 1}).get_json() == legacy_expected(publisher, run_id, 1)


def test_legacy_returns_top_five_of_a_larger_k(client: Any, publisher: Publisher) -> None:
    run_id = publisher.run(k=8)
    assert client.get(LEGACY, json={"user_handle": 3}).get_json() == legacy_expected(publisher, run_id, 3)


def test_json_whatever_the_accept_header(client: Any, publisher: Publisher) -> None:
    publisher.run()
    for accept in ("text/html", "application/xml", "*/*", "application/json"):
        ok = client.get(LEGACY, json={"user_handle": 7}, headers={"Accept": accept})
        assert ok.status_code == 200 and ok.mimetype == "application/json"
        missing = client.get(v1(999), headers={"Accept": accept})
        assert_error(missing, 404, "user_not_found")
        assert_error(client.get("/nowhere", headers={"Accept": accept}), 404, "not_found")


def test_head_and_options(client: Any, publisher: Publisher) -> None:
    publisher.run()
    assert client.head(v1(7)).status_code == 200
    assert "GET" in client.options(v1(7)).headers["Allow"]


# -- 400 ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "missing_user_handle"),
        ({"user": 7}, "missing_user_handle"),
        ({"user_handle": None}, "missing_user_handle"),
        ({"user_handle": ""}, "invalid_user_handle"),
        ({"user_handle": "   "}, "invalid_user_handle"),
        ({"user_handle": "abc"}, "invalid_user_handle"),
        ({"user_handle": "7a"}, "invalid_user_handle"),
        ({"user_handle": "1.5"}, "invalid_user_handle"),
        ({"user_handle": 1.5}, "invalid_user_handle"),
        ({"user_handle": "-5"}, "invalid_user_handle"),
        ({"user_handle": -5}, "invalid_user_handle"),
        ({"user_handle": 0}, "invalid_user_handle"),
        ({"user_handle": "0"}, "invalid_user_handle"),
        ({"user_handle": MAX_USER_HANDLE + 1}, "invalid_user_handle"),
        ({"user_handle": str(MAX_USER_HANDLE + 1)}, "invalid_user_handle"),
        ({"user_handle": "9" * 400}, "invalid_user_handle"),
        ({"user_handle": True}, "invalid_user_handle"),
        ({"user_handle": [7]}, "invalid_user_handle"),
        ({"user_handle": {"id": 7}}, "invalid_user_handle"),
        ({"user_handle": "٧"}, "invalid_user_handle"),  # a non-ASCII digit
        ([7], "invalid_body"),
        ("7", "invalid_body"),
    ],
)
def test_legacy_bad_handles(client: Any, publisher: Publisher, body: Any, code: str) -> None:
    publisher.run()
    assert_error(client.get(LEGACY, json=body), 400, code)


def test_legacy_no_handle_at_all(client: Any, publisher: Publisher) -> None:
    publisher.run()
    assert_error(client.get(LEGACY), 400, "missing_user_handle")
    assert_error(client.get(LEGACY, headers={"Content-Type": "application/json"}), 400, "missing_user_handle")
    assert_error(client.get(LEGACY + "?user_handle="), 400, "invalid_user_handle")


@pytest.mark.parametrize(
    ("data", "content_type", "code"),
    [
        (b'{"user_handle": "7"', "application/json", "malformed_json"),
        (b"{'user_handle': '7'}", "application/json", "malformed_json"),
        (b"\xff\xfe\x00", "application/json", "malformed_json"),
        (b"[" * 3000, "application/json", "malformed_json"),  # nesting deeper than the JSON parser allows
        (b'{"user_handle": "7"}', "text/plain", "unsupported_content_type"),
        (b"user_handle=7", "application/x-www-form-urlencoded", "unsupported_content_type"),  # curl -d without -H
        (b'{"user_handle": "7"}', None, "unsupported_content_type"),
    ],
)
def test_legacy_bad_bodies(client: Any, publisher: Publisher, data: bytes, content_type: str | None, code: str) -> None:
    publisher.run()
    headers = {"Content-Type": content_type} if content_type else {}
    assert_error(client.get(LEGACY, data=data, headers=headers), 400, code)


def test_legacy_accepts_json_suffix_and_charset(client: Any, publisher: Publisher) -> None:
    publisher.run()
    for content_type in ("application/json; charset=utf-8", "application/vnd.api+json"):
        assert client.get(LEGACY, data=b'{"user_handle": 7}', headers={"Content-Type": content_type}).status_code == 200


@pytest.mark.parametrize("handle", ["abc", "0", "-1", "1.5", str(MAX_USER_HANDLE + 1), "%20"])
def test_v1_bad_handle(client: Any, publisher: Publisher, handle: str) -> None:
    publisher.run()
    assert_error(client.get(v1(handle)), 400, "invalid_user_handle")


@pytest.mark.parametrize("k", ["0", "-1", "101", "abc", "1.5", "", "1e2", "99999999999999999999"])
def test_v1_bad_k(client: Any, publisher: Publisher, k: str) -> None:
    publisher.run()
    assert_error(client.get(v1(7, k=k)), 400, "invalid_k")


def test_v1_bad_explain(client: Any, publisher: Publisher) -> None:
    publisher.run()
    assert_error(client.get(v1(7, explain="maybe")), 400, "invalid_explain")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.one_of(st.text(max_size=30), st.integers(), st.floats(), st.booleans(), st.none(),
                     st.lists(st.integers(), max_size=2)))
def test_legacy_any_handle_is_answered_without_server_error(client: Any, db_path: Path, raw: Any) -> None:
    """Whatever the handle, the answer is 200, 400 or 404 in the JSON error shape; never a 500."""
    if not db_path.exists():
        Publisher(db_path).run()
    response = client.get(LEGACY, json={"user_handle": raw})
    assert response.status_code in (200, 400, 404)
    assert response.mimetype == "application/json"
    if response.status_code != 200:
        assert set(response.get_json()) == {"error", "message"}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=80), content_type=st.sampled_from(
    [None, "application/json", "application/json; charset=latin-1", "text/plain", "application/x-www-form-urlencoded",
     "multipart/form-data; boundary=x"]))
def test_legacy_any_body_is_answered_without_server_error(
    client: Any, db_path: Path, body: bytes, content_type: str | None
) -> None:
    if not db_path.exists():
        Publisher(db_path).run()
    response = client.get(LEGACY, data=body, headers={"Content-Type": content_type} if content_type else {})
    assert response.status_code in (200, 400, 404)
    assert response.mimetype == "application/json"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(handle=st.text(min_size=1, max_size=25), k=st.one_of(st.none(), st.text(max_size=6)),
       explain=st.one_of(st.none(), st.text(max_size=6)), run_id=st.one_of(st.none(), st.text(max_size=30)))
def test_v1_any_input_is_answered_without_server_error(
    client: Any, db_path: Path, handle: str, k: str | None, explain: str | None, run_id: str | None
) -> None:
    if not db_path.exists():
        Publisher(db_path).run()
    query = {name: value for name, value in (("k", k), ("explain", explain), ("run_id", run_id)) if value is not None}
    response = client.get(f"/api/v1/users/{quote(handle, safe='')}/similar?{urlencode(query)}")
    assert response.status_code in (200, 400, 404)
    assert response.mimetype == "application/json"


# -- 404, 405, 413 -----------------------------------------------------------------
def test_unknown_user(client: Any, publisher: Publisher) -> None:
    publisher.run()
    assert_error(client.get(LEGACY, json={"user_handle": 999}), 404, "user_not_found")
    assert_error(client.get(v1(999)), 404, "user_not_found")


@pytest.mark.parametrize("path", ["/", "/api", "/api/v1/users/7", "/api/v1/users/7/similar/", "/api/similarity/x",
                                  "/api/v2/users/7/similar", "/static/x.css", "/api//health",
                                  "/api/v1/users/7//similar"])
def test_unknown_url(client: Any, publisher: Publisher, path: str) -> None:
    publisher.run()
    assert_error(client.get(path), 404, "not_found")


@pytest.mark.parametrize("path", [LEGACY, "/api/similarity", "/api/v1/users/7/similar", "/api/health",
                                  "/api/openapi.json"])
@pytest.mark.parametrize("method", ["post", "put", "delete", "patch"])
def test_wrong_method(client: Any, publisher: Publisher, path: str, method: str) -> None:
    publisher.run()
    response = getattr(client, method)(path, json={"user_handle": 7})
    assert_error(response, 405, "method_not_allowed")
    assert "GET" in response.headers["Allow"]


@pytest.mark.parametrize("path", [LEGACY, v1(7), "/api/health"])
def test_body_too_large(client: Any, publisher: Publisher, path: str) -> None:
    publisher.run()
    body = b'{"user_handle": "7", "pad": "' + b"x" * 5000 + b'"}'
    assert_error(client.get(path, data=body, headers={"Content-Type": "application/json"}), 413, "payload_too_large")


def test_body_just_under_the_limit_is_fine(client: Any, publisher: Publisher) -> None:
    publisher.run()
    body = b'{"user_handle": "7", "pad": "' + b"x" * 3000 + b'"}'
    assert client.get(LEGACY, data=body, headers={"Content-Type": "application/json"}).status_code == 200


# -- 503 ---------------------------------------------------------------------------
@pytest.mark.parametrize("request_", [(LEGACY, {"user_handle": 7}), (v1(7), None), ("/api/health", None)])
def test_no_database_file(client: Any, db_path: Path, request_: tuple[str, Any]) -> None:
    path, body = request_
    assert not db_path.exists()
    response = client.get(path, json=body) if body else client.get(path)
    assert_error(response, 503, "ranking_unavailable")
    assert response.headers["Retry-After"]


@pytest.mark.parametrize("request_", [(LEGACY, {"user_handle": 7}), (v1(7), None), ("/api/health", None)])
def test_database_without_the_table(make_app: Any, publisher: Publisher, request_: tuple[str, Any]) -> None:
    publisher.run(table="other_ranking")  # the file and ranking_runs exist; user_ranking does not
    client = make_app().test_client()
    path, body = request_
    assert_error(client.get(path, json=body) if body else client.get(path), 503, "ranking_unavailable")


def test_database_only_failed_runs(make_app: Any, db_path: Path) -> None:
    record_failed_run(db_path, RunRecord("r-failed", TABLE, utc_now(), {}), "dbt build failed")
    assert_error(make_app().test_client().get("/api/health"), 503, "ranking_unavailable")


def test_file_that_is_not_sqlite(make_app: Any, db_path: Path) -> None:
    db_path.write_bytes(b"this is not a database" * 100)
    client = make_app().test_client()
    assert_error(client.get(v1(7)), 503, "ranking_unavailable")
    assert_error(client.get("/api/health"), 503, "ranking_unavailable")


def test_database_appears_after_start(client: Any, publisher: Publisher) -> None:
    assert_error(client.get("/api/health"), 503, "ranking_unavailable")
    publisher.run()
    assert client.get("/api/health").status_code == 200


# -- versioned endpoint ------------------------------------------------------------
def test_v1_default(client: Any, publisher: Publisher) -> None:
    run_id = publisher.run()
    body = client.get(v1(7)).get_json()
    rows = publisher.neighbours(run_id, 7)
    assert body["user_handle"] == 7
    assert body["run"] == {"run_id": run_id, "run_at": rows[0]["run_at"], "current": True}
    assert (body["k_requested"], body["k_returned"], body["k_max"]) == (5, 5, 5)
    assert "note" not in body
    assert [n["rank"] for n in body["neighbours"]] == [1, 2, 3, 4, 5]
    for item, row in zip(body["neighbours"], rows, strict=True):
        assert item == {
            "rank": row["rank"],
            "user_handle": row["similar_user_handle"],
            "score": row["score"],
            "scores": {"interests": row["score_interests"], "assessments": row["score_assessments"],
                       "course_views": row["score_course_views"]},
        }


def test_v1_k_smaller(client: Any, publisher: Publisher) -> None:
    run_id = publisher.run()
    body = client.get(v1(7, k=2)).get_json()
    assert (body["k_requested"], body["k_returned"], body["k_max"]) == (2, 2, 5)
    assert [n["user_handle"] for n in body["neighbours"]] == [
        r["similar_user_handle"] for r in publisher.neighbours(run_id, 7)[:2]]


@pytest.mark.parametrize("k", [6, 100])
def test_v1_k_capped(client: Any, publisher: Publisher, k: int) -> None:
    publisher.run()
    response = client.get(v1(7, k=k))
    assert response.status_code == 200
    body = response.get_json()
    assert (body["k_requested"], body["k_returned"], body["k_max"]) == (k, 5, 5)
    assert "5" in body["note"] and len(body["neighbours"]) == 5


def test_v1_explain_matches_published(client: Any, publisher: Publisher) -> None:
    import json

    run_id = publisher.run()
    body = client.get(v1(7, explain="true")).get_json()
    for item, row in zip(body["neighbours"], publisher.neighbours(run_id, 7), strict=True):
        assert item["reasons"] == {
            "shared_interests": {"count": row["n_shared_interests"], "items": json.loads(row["shared_interests"])},
            "shared_course_tags": {"count": row["n_shared_course_tags"],
                                   "items": json.loads(row["shared_course_tags"])},
            "shared_courses": {"count": row["n_shared_courses"], "items": json.loads(row["shared_courses"])},
            "shared_assessments": {"count": row["n_shared_assessments"],
                                   "items": json.loads(row["shared_assessments"])},
        }
    first = body["neighbours"][0]["reasons"]["shared_assessments"]["items"][0]
    assert set(first) == {"tag", "user_bin", "similar_user_bin"}


@pytest.mark.parametrize(("value", "explained"), [("true", True), ("1", True), ("YES", True), ("false", False),
                                                 ("0", False), ("", False)])
def test_v1_explain_values(client: Any, publisher: Publisher, value: str, explained: bool) -> None:
    publisher.run()
    body = client.get(v1(7, explain=value)).get_json()
    assert ("reasons" in body["neighbours"][0]) is explained


def test_v1_null_reason_columns_read_as_empty(client: Any, db_path: Path) -> None:
    from conftest import publish_rows, ranking_rows

    rows = ranking_rows("r-nulls", [1, 2, 3], k=2)
    for row in rows:
        for column in ("shared_interests", "shared_course_tags", "shared_courses", "shared_assessments",
                       "n_shared_interests"):
            row[column] = None
    publish_rows(db_path, rows, "r-nulls")
    reasons = client.get(v1(1, explain="true")).get_json()["neighbours"][0]["reasons"]
    assert reasons["shared_interests"] == {"count": 0, "items": []}
    assert reasons["shared_assessments"]["items"] == []


# -- runs --------------------------------------------------------------------------
def test_run_id_reads_older_kept_run_and_pruned_404s(client: Any, publisher: Publisher) -> None:
    first = publisher.run(keep_runs=2)
    second = publisher.run(keep_runs=2)
    third = publisher.run(keep_runs=2)  # prunes the first
    for run_id, current in ((second, False), (third, True)):
        body = client.get(v1(7, run_id=run_id, explain="true")).get_json()
        assert body["run"]["run_id"] == run_id and body["run"]["current"] is current
        expected = publisher.neighbours(run_id, 7)
        assert [n["user_handle"] for n in body["neighbours"]] == [r["similar_user_handle"] for r in expected]
        assert [n["reasons"]["shared_courses"]["items"] for n in body["neighbours"]] == [
            [f"course-{r['similar_user_handle']}-v{1 if run_id == second else 2}"] for r in expected]
    current = client.get(v1(7)).get_json()
    assert current["run"]["run_id"] == third
    assert_error(client.get(v1(7, run_id=first)), 404, "run_not_found")
    with sqlite3.connect(publisher.db) as con:
        assert con.execute("select status from ranking_runs where run_id = ?", (first,)).fetchone() == ("pruned",)


def test_run_id_unknown_failed_or_other_table(client: Any, publisher: Publisher, db_path: Path) -> None:
    publisher.run()
    other = publisher.run(table="other_ranking")
    record_failed_run(db_path, RunRecord("r-failed", TABLE, utc_now(), {}), "boom")
    for run_id in ("nope", "r-failed", other, "x" * 5000, "' or 1=1 --"):
        assert_error(client.get(v1(7, run_id=run_id)), 404, "run_not_found")


def test_run_id_user_missing_from_that_run(client: Any, publisher: Publisher) -> None:
    old = publisher.run(users=[1, 2, 3])
    publisher.run(users=[1, 2, 3, 4])
    assert client.get(v1(4)).status_code == 200
    assert_error(client.get(v1(4, run_id=old)), 404, "user_not_found")


def test_new_run_served_by_the_same_app(client: Any, publisher: Publisher) -> None:
    first = publisher.run()
    assert client.get(v1(7)).get_json()["run"]["run_id"] == first
    second = publisher.run()
    assert client.get(v1(7)).get_json()["run"]["run_id"] == second
    assert client.get(LEGACY, json={"user_handle": 7}).get_json() == legacy_expected(publisher, second, 7)


def test_database_file_replaced(make_app: Any, tmp_path: Path) -> None:
    """A file swapped in whole (new inode) is read, not the one the cached connection had open."""
    served, other = tmp_path / "served.db", tmp_path / "other.db"
    first = Publisher(served).run()
    client = make_app(served).test_client()
    assert client.get(v1(7)).get_json()["run"]["run_id"] == first
    replacement = Publisher(other).run()
    os.replace(other, served)
    assert client.get(v1(7)).get_json()["run"]["run_id"] == replacement
    served.unlink()
    assert_error(client.get(v1(7)), 503, "ranking_unavailable")


def test_database_symlink_swapped(make_app: Any, tmp_path: Path) -> None:
    """A deploy that points a symlink at a new file is followed."""
    old, new, link = tmp_path / "old.db", tmp_path / "new.db", tmp_path / "served.db"
    first, second = Publisher(old).run(), Publisher(new).run()
    link.symlink_to(old)
    client = make_app(link).test_client()
    assert client.get(v1(7)).get_json()["run"]["run_id"] == first
    (tmp_path / "next").symlink_to(new)
    os.replace(tmp_path / "next", link)
    assert client.get(v1(7)).get_json()["run"]["run_id"] == second


def test_database_path_with_uri_characters(make_app: Any, tmp_path: Path) -> None:
    db = tmp_path / "a dir?with#odd%chars" / "ranking.db"
    run_id = Publisher(db).run()
    assert make_app(db).test_client().get(v1(7)).get_json()["run"]["run_id"] == run_id


# -- health ------------------------------------------------------------------------
def test_health(client: Any, publisher: Publisher) -> None:
    publisher.run()
    current = publisher.run(users=list(range(1, 31)))
    response = client.get("/api/health")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok" and body["database"] == "readable" and body["results_table"] == TABLE
    assert body["run"]["run_id"] == current
    assert 0 <= body["run"]["age_seconds"] < 60
    assert body["users_ranked"] == 30 and body["rows"] == 150


# -- configuration and server errors -----------------------------------------------
def test_database_env_picks_the_pipeline_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from pipeline.paths import sqlite_path
    from server.app import create_app

    monkeypatch.setenv("USER_SIM_DATA_ROOT", str(tmp_path))
    monkeypatch.setenv("DATABASE_ENV", "dev")  # prod needs SIMILARITY_DB_PATH (test_safe_defaults.py)
    app = create_app()
    assert app.config["DATABASE_PATH"] == sqlite_path("dev") == tmp_path / "sqlite3" / "user_similarity_dev.db"
    assert app.config["RESULTS_TABLE"] == TABLE
    run_id = Publisher(sqlite_path("dev")).run()
    assert app.test_client().get(v1(7)).get_json()["run"]["run_id"] == run_id


@pytest.mark.parametrize(("key", "value"), [("RESULTS_TABLE", "user_ranking; drop table x"),
                                            ("RESULTS_TABLE", "a" * 60), ("DATABASE_ENV", "staging")])
def test_bad_settings_fail_at_startup(monkeypatch: pytest.MonkeyPatch, key: str, value: str) -> None:
    from server.app import create_app

    monkeypatch.setenv(key, value)
    with pytest.raises(ValueError):
        create_app()


def test_custom_results_table(make_app: Any, publisher: Publisher) -> None:
    run_id = publisher.run(table="ranking_v2")
    client = make_app(RESULTS_TABLE="ranking_v2").test_client()
    assert client.get(v1(7)).get_json()["run"]["run_id"] == run_id


def test_unexpected_errors_are_json_500(make_app: Any) -> None:
    class Broken(Resource):
        def get(self) -> None:
            raise RuntimeError("secret detail")

    app = make_app()
    app.add_url_rule("/plain-boom", view_func=lambda: 1 / 0)
    from server.app import JsonApi

    JsonApi(app).add_resource(Broken, "/api/boom")
    client = app.test_client()
    for path in ("/plain-boom", "/api/boom"):
        response = client.get(path)
        body = assert_error(response, 500, "internal_error")
        assert "secret" not in body["message"] and "Traceback" not in response.get_data(as_text=True)
