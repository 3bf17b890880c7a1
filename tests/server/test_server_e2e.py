"""End to end: generate data, run the real pipeline, start the real server, ask it
over HTTP (plain and with the CLI client) and compare with the published table."""
from __future__ import annotations

import http.client
import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, http_get

from tests.conftest import REFERENCE_USERS as USERS
from tests.conftest import ReferenceRun


@pytest.fixture(scope="module")
def published_db(tmp_path_factory: pytest.TempPathFactory, reference_run: ReferenceRun) -> Path:
    """A ranking built by ``python -m pipeline`` from ``python -m datagen`` data (the session's reference run)."""
    return reference_run.copy_to(tmp_path_factory.mktemp("e2e"))


def published_rows(db: Path) -> dict[int, list[sqlite3.Row]]:
    with sqlite3.connect(db) as con:
        con.row_factory = sqlite3.Row
        rows = con.execute("select * from user_ranking order by user_handle, rank").fetchall()
    by_user: dict[int, list[sqlite3.Row]] = {}
    for row in rows:
        by_user.setdefault(row["user_handle"], []).append(row)
    return by_user


def legacy_get(connection: http.client.HTTPConnection, user: int) -> tuple[int, Any]:
    """GET with a JSON body over a kept-alive connection, exactly as the curl example sends it."""
    connection.request("GET", "/api/similarity/", body=json.dumps({"user_handle": str(user)}),
                       headers={"Content-type": "application/json"})
    response = connection.getresponse()
    return response.status, json.loads(response.read())


@pytest.mark.e2e
def test_pipeline_to_api(published_db: Path, live_server: Any) -> None:
    by_user = published_rows(published_db)
    assert len(by_user) == USERS
    base = live_server(published_db, kind="gunicorn")
    host, port = base.removeprefix("http://").split(":")

    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        for user, rows in by_user.items():
            expected = {str(user): [{"user": r["similar_user_handle"], "score": round(r["score"], 4)}
                                    for r in rows[:5]]}
            assert legacy_get(connection, user) == (200, expected)
    finally:
        connection.close()

    user = next(iter(by_user))
    cli = subprocess.run([sys.executable, "-m", "server.similarity", "--user_id", str(user), "--port", port],
                         cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert cli.returncode == 0, cli.stderr
    assert json.loads(cli.stdout) == http_get(f"{base}/api/similarity/?user_handle={user}")[1]

    status, body = http_get(f"{base}/api/v1/users/{user}/similar?k=100&explain=true")
    rows = by_user[user]
    assert status == 200
    assert body["run"]["run_id"] == rows[0]["run_id"] and body["run"]["current"] is True
    assert (body["k_returned"], body["k_max"]) == (len(rows), len(rows)) and "note" in body
    for item, row in zip(body["neighbours"], rows, strict=True):
        assert (item["rank"], item["user_handle"], item["score"]) == (
            row["rank"], row["similar_user_handle"], round(row["score"], 6))
        assert item["scores"] == {signal: round(row[f"score_{signal}"], 6)
                                  for signal in ("interests", "assessments", "course_views")}
        for reason in ("interests", "course_tags", "courses", "assessments"):
            assert item["reasons"][f"shared_{reason}"] == {
                "count": row[f"n_shared_{reason}"], "items": json.loads(row[f"shared_{reason}"])}

    status, health = http_get(f"{base}/api/health")
    assert status == 200
    assert health["users_ranked"] == USERS and health["run"]["run_id"] == rows[0]["run_id"]

    missing = max(by_user) + 1000
    assert http_get(f"{base}/api/v1/users/{missing}/similar")[0] == 404
    cli = subprocess.run([sys.executable, "-m", "server.similarity", "--user_id", str(missing), "--port", port],
                         cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert cli.returncode == 1 and "user_not_found" in cli.stderr
