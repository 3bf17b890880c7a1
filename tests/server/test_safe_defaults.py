"""Safe defaults, checked on real processes: loopback only, no debug mode unless asked, ``prod`` never
guesses its database, request logs without personal data, and no secrets in the repository."""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from conftest import ROOT, TABLE, Publisher, free_port, http_get

from server.config import ConfigError, load_config

MARKERS = {  # sent with every logged request; none may reach a log
    "User-Agent": "agent-5f3a/1.0",
    "X-Forwarded-For": "203.0.113.77",
    "X-Real-IP": "198.51.100.23",
    "Cookie": "session=cookie-9d2b",
    "Referer": "https://referer-4e6c.example/",
    "Authorization": "Bearer token-0a7f",
}
BODY_MARKER = "body-marker-41c7"
QUERY_MARKER = "query-marker-88e1"


class Server:
    """A server process in its own session (the debug reloader forks a child); its log in a file."""

    def __init__(self, command: list[str], env: dict[str, str], cwd: Path, log: Path) -> None:
        self.log = log
        with open(log, "wb") as out:
            self.process = subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                            stderr=out, start_new_session=True)

    def wait_until_up(self, base: str) -> None:
        deadline = time.monotonic() + 20
        while True:
            try:
                http_get(f"{base}/api/health", timeout=1)
                return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                assert self.process.poll() is None, self.text()
                assert time.monotonic() < deadline, self.text()
                time.sleep(0.1)

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    started: list[Server] = []
    yield started
    for server in started:
        server.stop()


def base_env(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if key not in ("DATABASE_ENV", "RESULTS_TABLE", "SIMILARITY_DB_PATH", "HOST", "PORT")
           and not key.startswith(("FLASK_", "GUNICORN_"))}
    return {**env, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1", **extra}


def listening_addresses(pid: int) -> set[str]:
    processes = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    return {conn.laddr.ip for proc in processes for conn in proc.net_connections("inet")
            if conn.status == psutil.CONN_LISTEN}


def send_logged_requests(base: str) -> list[tuple[int, str]]:
    """Four requests carrying the markers; (status, the request-log line expected for it)."""
    body = json.dumps({"user_handle": "7", "note": BODY_MARKER}).encode()
    requests = [
        (f"{base}/api/similarity/", body, 200, r"GET /api/similarity/ 200 [\d.]+ms user_handle=7"),
        (f"{base}/api/v1/users/7/similar?run_id={QUERY_MARKER}", None, 404,
         r"GET /api/v1/users/\{user_handle\}/similar 404 [\d.]+ms user_handle=7"),
        (f"{base}/api/v1/users/abc-{QUERY_MARKER}/similar", None, 400,
         r"GET /api/v1/users/\{user_handle\}/similar 400 [\d.]+ms user_handle=-"),
        (f"{base}/nowhere-{QUERY_MARKER}", None, 404, r"GET - 404 [\d.]+ms user_handle=-"),
    ]
    expected = []
    for url, data, status, line in requests:
        headers = {**MARKERS, **({"Content-Type": "application/json"} if data else {})}
        request = urllib.request.Request(url, data=data, headers=headers, method="GET")
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                answered = response.status
        except urllib.error.HTTPError as error:
            answered = error.code
        assert answered == status, url
        expected.append((status, line))
    return expected


def assert_private_log(new_text: str, expected: list[tuple[int, str]], path_markers: bool = True) -> None:
    """One request line per request, as expected, and nothing the client sent beyond the handle."""
    lines = [line for line in new_text.splitlines() if "server.requests" in line]
    assert len(lines) == len(expected), new_text
    for line, (_, pattern) in zip(lines, expected, strict=True):
        assert re.search(pattern + "$", line), (pattern, line)
    forbidden = [*MARKERS.values(), BODY_MARKER, "127.0.0.1", "cookie", "Bearer"]
    forbidden += [QUERY_MARKER] if path_markers else []
    for value in forbidden:
        assert value not in new_text, f"{value!r} leaked into the log:\n{new_text}"


# -- the development server ----------------------------------------------------------
def test_dev_server_original_interface_loopback_no_debug_private_log(tmp_path: Path, servers: list[Server]) -> None:
    """``DATABASE_ENV=dev RESULTS_TABLE=user_ranking python -m runserver``, as documented, with FLASK_DEBUG=1,
    FLASK_ENV=development and a .env asking for debug: served on 127.0.0.1 only, debug off, no reloader,
    and one request line per request without the client's address, headers or body."""
    data_root = tmp_path / "data"
    run_id = Publisher(data_root / "sqlite3" / "user_similarity_dev.db").run()
    (tmp_path / ".env").write_text("FLASK_DEBUG=1\nFLASK_ENV=development\n")
    (tmp_path / ".flaskenv").write_text("FLASK_DEBUG=1\n")
    port = free_port()
    env = base_env(DATABASE_ENV="dev", RESULTS_TABLE=TABLE, USER_SIM_DATA_ROOT=str(data_root), PORT=str(port),
                   FLASK_DEBUG="1", FLASK_ENV="development", FLASK_RUN_FROM_CLI="true")
    server = Server([sys.executable, "-m", "runserver"], env, tmp_path, tmp_path / "dev.log")
    servers.append(server)
    base = f"http://127.0.0.1:{port}"
    server.wait_until_up(base)

    assert http_get(f"{base}/api/v1/users/7/similar")[1]["run"]["run_id"] == run_id
    assert listening_addresses(server.process.pid) == {"127.0.0.1"}
    assert psutil.Process(server.process.pid).children() == []  # no reloader process
    startup = server.text()
    assert "Debug mode: off" in startup and "Debugger PIN" not in startup and "Restarting" not in startup

    offset = len(server.text())
    expected = send_logged_requests(base)
    time.sleep(0.3)
    assert_private_log(server.text()[offset:], expected)


def test_dev_server_debug_only_with_the_flag(tmp_path: Path, servers: list[Server], db_path: Path) -> None:
    """The control for the test above: ``--debug`` does turn debug mode (and its reloader) on."""
    Publisher(db_path).run()
    port = free_port()
    env = base_env(SIMILARITY_DB_PATH=str(db_path))
    server = Server([sys.executable, "-m", "runserver", "--port", str(port), "--debug"], env, ROOT,
                    tmp_path / "debug.log")
    servers.append(server)
    server.wait_until_up(f"http://127.0.0.1:{port}")
    assert "Debug mode: on" in server.text()
    assert psutil.Process(server.process.pid).children()  # the reloader runs the server in a child


def test_create_app_ignores_flask_debug(monkeypatch: pytest.MonkeyPatch, make_app: object) -> None:
    """Under gunicorn there is no app.run(): create_app itself must not take FLASK_DEBUG."""
    monkeypatch.setenv("FLASK_DEBUG", "1")
    monkeypatch.setenv("FLASK_ENV", "development")
    assert make_app().debug is False  # type: ignore[operator]
    assert make_app(DEBUG=True).debug is True  # type: ignore[operator]


# -- prod needs an explicit database -----------------------------------------------------
def test_prod_needs_an_explicit_database_path(tmp_path: Path) -> None:
    from server.app import create_app

    with pytest.raises(ConfigError, match="DATABASE_ENV=prod needs an explicit database: set SIMILARITY_DB_PATH"):
        load_config(environ={"DATABASE_ENV": "prod"})
    with pytest.raises(ConfigError, match="SIMILARITY_DB_PATH"):
        create_app({"DATABASE_ENV": "prod", "SIMILARITY_DB_PATH": ""})
    explicit = load_config(environ={"DATABASE_ENV": "prod", "SIMILARITY_DB_PATH": str(tmp_path / "p.db")})
    assert explicit["DATABASE_PATH"] == tmp_path / "p.db"
    assert load_config(environ={})["DATABASE_ENV"] == "dev"  # dev keeps its default file


@pytest.mark.parametrize(("command", "returncode"), [
    (["-m", "runserver", "--port", "0"], 2),
    (["-m", "gunicorn", "-b", "127.0.0.1:0", "server.wsgi:app"], 3),  # gunicorn: "Worker failed to boot"
    (["-m", "gunicorn", "-c", "python:server.gunicorn_conf", "-b", "127.0.0.1:0", "server.wsgi:app"], 1),
], ids=["runserver", "gunicorn", "gunicorn-conf"])
def test_prod_without_database_path_stops_real_servers(command: list[str], returncode: int, tmp_path: Path) -> None:
    env = base_env(DATABASE_ENV="prod", USER_SIM_DATA_ROOT=str(tmp_path))
    Publisher(tmp_path / "sqlite3" / "user_similarity_prod.db").run()  # even with the default file in place
    result = subprocess.run([sys.executable, *command], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60, stdin=subprocess.DEVNULL)
    assert result.returncode == returncode, result.stderr[-2000:]
    assert "DATABASE_ENV=prod needs an explicit database: set SIMILARITY_DB_PATH" in result.stderr
    if returncode == 1:  # the config file checks in the master: one line, no worker started
        assert "Error: invalid configuration" in result.stderr and "Booting worker" not in result.stderr


# -- gunicorn ------------------------------------------------------------------------------
def test_gunicorn_conf_defaults() -> None:
    """The settings gunicorn itself reads from server/gunicorn_conf.py (``--print-config``)."""
    result = subprocess.run([sys.executable, "-m", "gunicorn", "--print-config", "-c", "python:server.gunicorn_conf",
                             "server.wsgi:app"], cwd=ROOT, env=base_env(), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    settings = dict(re.findall(r"^(\w+)\s+= (.*)$", result.stdout, re.MULTILINE))
    assert settings["bind"] == "['127.0.0.1:5000']"
    assert settings["accesslog"] == "None"
    assert settings["control_socket_disable"] == "True"
    assert "AnonymousLogger" in settings["logger_class"]
    for atom in ("%(h)s", "%(r)s", "%(a)s", "%(f)s", "%(q)s", "}i", "}e"):
        assert atom not in settings["access_log_format"]


def test_gunicorn_logs_without_personal_data(tmp_path: Path, servers: list[Server], db_path: Path) -> None:
    """gunicorn with the config file, even with its access log turned on: the request lines, the access lines
    and the warning about a malformed request hold no address, header, cookie or body."""
    Publisher(db_path).run()
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "-c", "python:server.gunicorn_conf", "-w", "1",
               "-b", f"127.0.0.1:{port}", "--access-logfile", "-", "server.wsgi:app"]
    server = Server(command, base_env(SIMILARITY_DB_PATH=str(db_path)), ROOT, tmp_path / "gunicorn.log")
    servers.append(server)
    base = f"http://127.0.0.1:{port}"
    server.wait_until_up(base)
    time.sleep(0.3)
    offset = len(server.text())
    expected = send_logged_requests(base)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:  # gunicorn refuses this itself
        raw.sendall(b"BAD\x01 / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert raw.recv(100).startswith(b"HTTP/1.1 400")
    time.sleep(0.5)
    new = server.text()[offset:]
    assert "Invalid request" in new  # the control: the warning was logged, without "from ip=..."
    assert re.search(r'"GET /api/similarity/" 200 \d+ \d+ms', new)  # the access log is on
    assert_private_log(new, expected, path_markers=False)  # the access log's path may show what was asked for


# -- secrets ----------------------------------------------------------------------------------
SECRET_PATTERNS = {
    "private key block": re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----"),
    "AWS access key id": re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}\b"),
    "AWS secret access key": re.compile(r"(?i)aws_?secret_?access_?key\s*[:=]\s*['\"]?[A-Za-z0-9/+]{40}"),
    "GCP service account key": re.compile(r'"type"\s*:\s*"service_account"'),
    "GCP API key": re.compile(r"\bAIza[0-9A-Za-z_\-]{35}"),
    "GitHub token": re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})"),
    "Slack token": re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
    "secret key assignment": re.compile(r"(?i)\b\w*secret_?key\w*\s*[:=]\s*['\"][^'\"\s]+['\"]"),
    "password assignment": re.compile(  # a literal value, quoted or bare; not a lookup like os.environ["X"]
        r"(?i)(?:password|passwd|pwd|secret|api_?key|access_?token|auth_?token)\s*[:=]\s*"
        r"(?:['\"][^'\"\s]{4,}['\"]|[^'\"\s,;()\[\].]{4,}(?:[\s,;]|$))"),
    "credentials in a URL": re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@'\"]+:[^/\s:@'\"]+@"),
}


def find_secrets(root: Path, names: list[str]) -> list[str]:
    """``path:line: kind`` for every line of the (text) files that looks like a credential."""
    found = []
    for name in names:
        path = root / name
        if not path.is_file():
            continue
        data = path.read_bytes()
        if b"\0" in data[:8192]:  # binary (figures)
            continue
        for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
            found += [f"{name}:{number}: {kind}" for kind, pattern in SECRET_PATTERNS.items() if pattern.search(line)]
    return found


def test_no_secrets_in_the_repository() -> None:
    """Every file git tracks, or would add (untracked, not ignored)."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    names = [name for name in listed if name]
    assert len(names) > 100 and "server/app.py" in names
    assert find_secrets(ROOT, names) == []


def test_secret_scanner_finds_planted_secrets(tmp_path: Path) -> None:
    """The scanner above can fail: one planted example of each kind is found, and harmless prose is not."""
    planted = {  # assembled at run time, so this file holds none of them
        "private key block": "-----BEGIN " + "RSA PRIVATE KEY-----",
        "AWS access key id": "key_id = " + "AKIA" + "Q3EGRIOSFODNN7EX",
        "AWS secret access key": "aws_secret_access_key = " + "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEYab",
        "GCP service account key": '{"type": ' + '"service_account", "project_id": "p"}',
        "GCP API key": "AIza" + "SyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY",
        "GitHub token": "token " + "ghp_" + "a" * 36,
        "Slack token": "xoxb-" + "1234567890-abcdefghij",
        "secret key assignment": "SECRET_KEY" + ' = "dev-not-so-secret"',
        "password assignment": "db_password" + "=hunter22",
        "credentials in a URL": "postgres://" + "app:s3cr3t@db.internal:5432/app",
    }
    names = []
    for index, text in enumerate(planted.values()):
        (tmp_path / f"planted{index}.txt").write_text(f"some context\n{text}\n")
        names.append(f"planted{index}.txt")
    (tmp_path / "clean.md").write_text(
        "Set the password in your shell, never in a file.\nSee http://127.0.0.1:5000/api/health and SECRET_KEY docs.\n"
        'api_key = os.environ["API_KEY"]\npassword: str | None = None\n')
    found = find_secrets(tmp_path, [*names, "clean.md"])
    for index, kind in enumerate(planted):
        assert any(hit.startswith(f"planted{index}.txt:2: ") and kind in hit for hit in found), (kind, found)
    assert not [hit for hit in found if hit.startswith("clean.md")], found
