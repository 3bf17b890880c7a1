"""Real server processes over real HTTP: a new run is served without restart;
the command-line client and the development server work as documented."""
from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, Publisher, free_port, http_get

LEGACY_BODY = json.dumps({"user_handle": "7"}).encode()


def legacy(publisher: Publisher, run_id: str, user: int) -> dict[str, Any]:
    return {str(user): [{"user": r["similar_user_handle"], "score": round(r["score"], 4)}
                        for r in publisher.neighbours(run_id, user)]}


def client_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "server.similarity", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=30, env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_new_run_served_without_restart(live_server: Any, db_path: Path) -> None:
    """gunicorn (2 workers x 2 threads) is up before anything is published, then sees each new run."""
    base = live_server(db_path, kind="gunicorn")
    status, body = http_get(f"{base}/api/health")
    assert (status, body["error"]) == (503, "ranking_unavailable")

    publisher = Publisher(db_path)
    first = publisher.run()
    # several requests, so every worker process and thread answers at least once per run
    for _ in range(12):
        assert http_get(f"{base}/api/similarity/", LEGACY_BODY) == (200, legacy(publisher, first, 7))

    second = publisher.run()
    assert legacy(publisher, second, 7) != legacy(publisher, first, 7)
    for _ in range(12):
        assert http_get(f"{base}/api/similarity/", LEGACY_BODY) == (200, legacy(publisher, second, 7))
        status, body = http_get(f"{base}/api/v1/users/7/similar?explain=true")
        assert status == 200 and body["run"]["run_id"] == second
    status, health = http_get(f"{base}/api/health")
    assert status == 200 and health["run"]["run_id"] == second

    status, body = http_get(f"{base}/api/v1/users/7/similar?run_id={first}")
    assert status == 200 and body["run"] == {**body["run"], "run_id": first, "current": False}


@pytest.mark.parametrize(("padding", "status"), [(10, 200), (8000, 413)])
def test_chunked_body_limit(live_server: Any, publisher: Publisher, db_path: Path, padding: int, status: int) -> None:
    """A chunked body declares no length up front: the 4 KiB cap still holds once it is read."""
    publisher.run()
    host, port = live_server(db_path).removeprefix("http://").split(":")
    body = json.dumps({"user_handle": "7", "pad": "x" * padding}).encode()
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.putrequest("GET", "/api/similarity/")
        connection.putheader("Content-Type", "application/json")
        connection.putheader("Transfer-Encoding", "chunked")
        connection.endheaders()
        for start in range(0, len(body), 1000):
            chunk = body[start:start + 1000]
            connection.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        connection.send(b"0\r\n\r\n")
        response = connection.getresponse()
        answer = json.loads(response.read())
    finally:
        connection.close()
    assert response.status == status
    assert ("7" in answer) if status == 200 else (answer["error"] == "payload_too_large")


def test_cli_client(live_server: Any, publisher: Publisher, db_path: Path) -> None:
    run_id = publisher.run()
    base = live_server(db_path, kind="gunicorn")
    port = base.rsplit(":", 1)[1]

    ok = client_cli("--user_id", "7", "--port", port)
    assert ok.returncode == 0, ok.stderr
    status, raw = http_get(f"{base}/api/similarity/", LEGACY_BODY)
    assert json.loads(ok.stdout) == raw == legacy(publisher, run_id, 7)

    unknown = client_cli("--user_id", "999", "--host", "127.0.0.1", "--port", port)
    assert unknown.returncode == 1 and unknown.stdout == ""
    assert unknown.stderr.count("\n") == 1 and "user_not_found" in unknown.stderr

    invalid = client_cli("--user_id", "abc", "--port", port)
    assert invalid.returncode == 1 and "invalid_user_handle" in invalid.stderr


def test_installed_client_runs_from_any_folder(live_server: Any, publisher: Publisher, db_path: Path,
                                               tmp_path: Path) -> None:
    """`pip install -r requirements.txt` installs the project (-e .): `user-similarity` works outside the checkout."""
    command = Path(sys.executable).parent / "user-similarity"
    assert command.exists(), f"{command} missing: install with pip install -r requirements.txt (it ends with -e .)"
    run_id = publisher.run()
    port = live_server(db_path, kind="dev").rsplit(":", 1)[1]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # no help from the checkout's path
    answer = subprocess.run([str(command), "--user_id", "7", "--port", port], cwd=tmp_path, capture_output=True,
                            text=True, timeout=30, env=env)
    assert answer.returncode == 0, answer.stderr
    assert json.loads(answer.stdout) == legacy(publisher, run_id, 7)


def test_cli_client_server_down() -> None:
    down = client_cli("--user_id", "7", "--port", str(free_port()), "--timeout", "3")
    assert down.returncode == 3 and down.stdout == ""
    assert down.stderr.count("\n") == 1 and "cannot reach" in down.stderr


def test_dev_server(live_server: Any, publisher: Publisher, db_path: Path) -> None:
    """``python -m runserver --port P`` serves the same API, including GET with a JSON body."""
    run_id = publisher.run()
    base = live_server(db_path, kind="dev")
    assert http_get(f"{base}/api/similarity", LEGACY_BODY) == (200, legacy(publisher, run_id, 7))
    status, body = http_get(f"{base}/api/v1/users/999/similar")
    assert (status, body["error"]) == (404, "user_not_found")


@pytest.mark.parametrize("host", ["0.0.0.0", "::"])
def test_runserver_refuses_all_interfaces_from_the_environment(host: str) -> None:
    result = subprocess.run([sys.executable, "-m", "runserver"], cwd=ROOT, capture_output=True, text=True,
                            timeout=30, env={**os.environ, "HOST": host, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 2 and "explicitly" in result.stderr


def test_runserver_arguments() -> None:
    from runserver import parse_args

    assert (parse_args([], {}).host, parse_args([], {}).port) == ("127.0.0.1", 5000)
    assert (parse_args([], {"HOST": "127.0.0.2", "PORT": "8001"}).host, parse_args([], {"PORT": "8001"}).port) == (
        "127.0.0.2", 8001)
    explicit = parse_args(["--host", "0.0.0.0", "--port", "8080"], {"HOST": "127.0.0.1"})
    assert (explicit.host, explicit.port) == ("0.0.0.0", 8080)
    with pytest.raises(SystemExit):
        parse_args([], {"PORT": "http"})


def test_runserver_port_in_use_is_one_line_naming_what_to_do(db_path: Path) -> None:
    """A server left running (or any program) on the port: one line, exit 1, no banner, no traceback."""
    import socket

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "runserver", "--port", str(port)], cwd=ROOT,
                                capture_output=True, text=True, timeout=30,
                                env={**os.environ, "SIMILARITY_DB_PATH": str(db_path), "PYTHONPATH": str(ROOT)})
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr and "--port N" in result.stderr
