"""Fixtures for the API tests: real SQLite files written by the pipeline's own
``publish_ranking``, apps built per test, and real server processes on free
loopback ports that are always stopped at teardown.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from pipeline.publish import COLUMN_NAMES, RunRecord, new_run_id, publish_ranking, utc_now

ROOT = Path(__file__).resolve().parents[2]

TABLE = "user_ranking"
Rows = list[dict[str, Any]]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "e2e: runs the real pipeline and the real server (slow)")


# -- published rankings -----------------------------------------------------------
def ranking_rows(run_id: str, users: list[int], k: int = 5, variant: int = 0, run_at: str | None = None) -> Rows:
    """Deterministic ranking rows with realistic reasons; ``variant`` changes every neighbour."""
    run_at = run_at or utc_now()
    rows: Rows = []
    for user in users:
        others = [u for u in users if u != user]
        for rank in range(1, k + 1):
            similar = others[(user * 7 + rank * 3 + variant * 11) % len(others)]
            n_tags = (user + rank) % 4
            rows.append({
                "user_handle": user,
                "rank": rank,
                "similar_user_handle": similar,
                "score": round(0.9 - 0.1 * rank - 0.001 * variant + user * 1e-6 + 0.0000371, 6),
                "score_interests": round(0.8 - 0.05 * rank, 6),
                "score_assessments": round(0.6 - 0.05 * rank, 6),
                "score_course_views": None if rank == k else round(0.4 - 0.05 * rank, 6),
                "n_shared_interests": n_tags,
                "n_shared_course_tags": 12,  # more than the 10 items listed, as the pipeline caps lists
                "n_shared_courses": 1,
                "n_shared_assessments": 1,
                "shared_interests": json.dumps([f"tag-{user}-{i}" for i in range(n_tags)]),
                "shared_course_tags": json.dumps([f"course-tag-{i:02d}" for i in range(10)]),
                "shared_courses": json.dumps([f"course-{similar}-v{variant}"]),
                "shared_assessments": json.dumps(
                    [{"tag": "python", "user_bin": "high", "similar_user_bin": ["low", "medium", "high"][rank % 3]}]
                ),
                "run_id": run_id,
                "run_at": run_at,
            })
    return rows


def publish_rows(db: Path, rows: Rows, run_id: str, table: str = TABLE, keep_runs: int = 5) -> None:
    arrow = pa.table({name: [row[name] for row in rows] for name in COLUMN_NAMES})
    publish_ranking(db, RunRecord(run_id, table, utc_now(), {"top_k": 5}), arrow, keep_runs=keep_runs)


class Publisher:
    """Publishes runs into one SQLite file and remembers their rows (the expected answers)."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self.runs: dict[str, Rows] = {}
        self._variant = 0

    def run(self, users: list[int] | None = None, k: int = 5, table: str = TABLE, keep_runs: int = 5) -> str:
        run_id = new_run_id()
        while run_id in self.runs:  # same second and the 6-hex suffix collided: never in practice
            run_id = new_run_id()
        rows = ranking_rows(run_id, users or list(range(1, 21)), k=k, variant=self._variant)
        self._variant += 1
        publish_rows(self.db, rows, run_id, table=table, keep_runs=keep_runs)
        self.runs[run_id] = rows
        return run_id

    def neighbours(self, run_id: str, user: int) -> Rows:
        return sorted((r for r in self.runs[run_id] if r["user_handle"] == user), key=lambda r: r["rank"])


@pytest.fixture(autouse=True)
def _clean_server_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests configure apps explicitly; a developer's shell variables must not leak in."""
    for key in ("DATABASE_ENV", "RESULTS_TABLE", "SIMILARITY_DB_PATH", "HOST", "PORT"):
        monkeypatch.delenv(key, raising=False)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "similarity.db"


@pytest.fixture
def publisher(db_path: Path) -> Publisher:
    return Publisher(db_path)


@pytest.fixture
def make_app(db_path: Path) -> Callable[..., Any]:
    """A new app over ``db_path`` (or another file), created per call."""
    from server.app import create_app

    def make(path: Path | None = None, **config: Any) -> Any:
        settings = {"SIMILARITY_DB_PATH": str(path or db_path), "RESULTS_TABLE": TABLE, "TESTING": True, **config}
        return create_app(settings)

    return make


@pytest.fixture
def client(make_app: Callable[..., Any]) -> Any:
    return make_app().test_client()


# -- real server processes ---------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_get(url: str, body: bytes | None = None, timeout: float = 5.0) -> tuple[int, Any]:
    """(status, parsed JSON) of a GET, with an optional JSON body as curl -d sends it."""
    headers = {"Content-Type": "application/json"} if body is not None else {}
    request = urllib.request.Request(url, data=body, headers=headers, method="GET")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def server_command(kind: str, port: int) -> list[str]:
    if kind == "gunicorn":
        return [sys.executable, "-m", "gunicorn", "-w", "2", "-k", "gthread", "--threads", "2",
                "-b", f"127.0.0.1:{port}", "server.wsgi:app"]
    if kind == "dev":
        return [sys.executable, "-m", "runserver", "--port", str(port)]
    raise ValueError(kind)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[Callable[..., str]]:
    """Start a real server process over a SQLite file; returns its base URL. Stopped at teardown."""
    processes: list[subprocess.Popen[bytes]] = []

    def start(db: Path, kind: str = "gunicorn", table: str = TABLE) -> str:
        port = free_port()
        env = {**os.environ, "SIMILARITY_DB_PATH": str(db), "RESULTS_TABLE": table,
               "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
        log = open(tmp_path / f"server-{port}.log", "wb")  # noqa: SIM115 - closed by the process' end
        process = subprocess.Popen(server_command(kind, port), cwd=ROOT, env=env, stdout=log, stderr=log)
        log.close()
        processes.append(process)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"server exited: {(tmp_path / f'server-{port}.log').read_text()}")
            try:
                http_get(f"{base}/api/health", timeout=1)  # 200 or 503: it answers
                return base
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.1)
        raise RuntimeError(f"server did not answer: {(tmp_path / f'server-{port}.log').read_text()}")

    try:
        yield start
    finally:
        for process in processes:
            stop(process)
