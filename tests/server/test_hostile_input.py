"""Hostile input over real HTTP against gunicorn, and proof that it can read or write nothing else.

One gunicorn (started with server/gunicorn_conf.py) serves a published ranking
plus a sentinel table. Injection strings, absurd numbers, look-alike Unicode
digits, NUL bytes, oversized bodies and path traversal go to every place a
client controls (path, query, JSON body, run_id); each gets a JSON 4xx, never
a 5xx. Afterwards the SQLite file is byte-for-byte the same, no file appeared
next to it, the workers hold no file but the database (and its -wal/-shm), and
a store connection refuses to write.
"""
from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import psutil
import pytest
from conftest import ROOT, TABLE, Publisher, free_port, stop

from server.config import ConfigError
from server.db import RankingStore

USERS = [*range(1, 31), 110, 1000]
SENTINEL = "canary-7c1e"  # a value no response may ever contain
V1 = "/api/v1/users/{}/similar"
LEGACY = "/api/similarity/"

INJECTIONS = [
    "1 OR 1=1",
    "1' OR '1'='1",
    "7; DROP TABLE sentinel; --",
    "7) UNION SELECT secret, 1 FROM sentinel --",
    "7 UNION SELECT * FROM user_ranking_history",
    "'; ATTACH DATABASE '/tmp/pwned.db' AS pwned; CREATE TABLE pwned.t(x); --",
    "7/**/OR/**/1=1",
    '7" OR ""="',
    "0x7",
    "7--",
]
RUN_ID_INJECTIONS = [
    "' OR '1'='1",
    "' OR status='published' --",
    "x'; DROP TABLE ranking_runs; --",
    "x' UNION SELECT secret FROM sentinel --",
    "%",
    "_",
]
LOOKALIKES = [
    "１１０",  # fullwidth digits
    "١١٠",  # Arabic-Indic digits
    "۱۱۰",  # extended Arabic-Indic (Persian) digits
    "\u200f110",  # right-to-left mark
    "110\u200e",  # left-to-right mark
    "\u202e011",  # right-to-left override
    "1\u200b10",  # zero-width space
    "110\ufeff",  # byte-order mark
    "\u00a0110",  # no-break space
    "\u3000110",  # ideographic space
    "110\x00",
    "\x00",
    "\x00110",
    "🙂",
    "1️⃣",
    "\ud800",  # a lone surrogate, as JSON may carry it
]
TRAVERSALS = [
    "/../../etc/passwd",
    "/api/../../../../etc/passwd",
    "/api/similarity/../../../etc/passwd",
    "/api/v1/users/../../../../etc/passwd/similar",
    "/api/v1/users/..%2f..%2f..%2fetc%2fpasswd/similar",
    "/api/v1/users/%2e%2e%2f%2e%2e%2fetc%2fpasswd/similar",
    "/api/v1/users/%252e%252e%252fetc%252fpasswd/similar",
    "/api/v1/users/7/similar/../../../../etc/passwd",
    "/api/openapi.json/../../../etc/passwd",
    "/static/../../etc/passwd",
    "/%2e%2e/%2e%2e/etc/passwd",
    "/api/v1/users/7/similar?run_id=../../../../etc/passwd",
    "/api/v1/users/7/similar?run_id=%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/api/v1/users/7/similar?run_id=/etc/passwd",
    "/api/v1/users/7/similar?run_id=file:///etc/passwd",
    "/api/v1/users/7/similar?run_id=file:/etc/passwd?mode=rwc",
    "/api/similarity/?user_handle=../../etc/passwd",
    "/api/similarity/?user_handle=%2e%2e%2fetc%2fpasswd",
]
# raw JSON for {"user_handle": <raw>}: how each number is answered (1000 is a published user, 7 too)
NUMBERS = [
    ("7", 200), ("7.0", 200), ("7e0", 200), ("70e-1", 200), ("1e3", 200), ("1E+3", 200), ("1000.000", 200),
    ('"007"', 200), ('" 7 "', 200), ('"0000000000000000000000007"', 200),
    ("999", 404), ("9223372036854775807", 404), ("9223372036854775807.0", 404), ('"9223372036854775807"', 404),
    ("9223372036854775808", 400), (str(2**63), 400), ("9223372036854775808.0", 400), ("-7", 400),
    ("1" + "0" * 400, 400), ("1e400", 400), ("1e-400", 400), ("1e999999999999999999", 400),
    ("1e9999999999999999999999", 400), ("-1e9999999999999999999999", 400), ("0", 400), ("-0", 400),
    ("-0.0", 400), ("0e5", 400), ("1.5", 400), ("7.000000000000000000001", 400), ('"1e3"', 400), ('"7.0"', 400),
    ('"-7"', 400), ('"+7"', 400), ('"9" * 30', 400), ("NaN", 400), ("Infinity", 400), ("-Infinity", 400),
    ("true", 400), ("null", 400), ("[7]", 400), ('{"$gt": 0}', 400),
]


@dataclass
class Served:
    base: str
    db: Path
    log: Path
    process: subprocess.Popen[bytes]
    runs: list[str]


def fingerprint(db: Path) -> dict[str, Any]:
    """What must not change: the file's bytes, what sits next to it, every table's rows, the sentinel."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
        tables = [row[0] for row in con.execute("select name from sqlite_master where type = 'table' order by 1")]
        counts = {name: con.execute(f'select count(*) from "{name}"').fetchone()[0] for name in tables}
        sentinel = con.execute("select secret from sentinel").fetchall()
    con.close()
    wal = db.with_name(db.name + "-wal")
    return {
        "sha256": hashlib.sha256(db.read_bytes()).hexdigest(),
        "files": sorted(p.name for p in db.parent.iterdir() if not p.name.endswith(("-wal", "-shm", ".log"))),
        "wal_bytes": wal.stat().st_size if wal.exists() else 0,
        "counts": counts,
        "sentinel": sentinel,
    }


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("hostile")
    db = tmp / "similarity.db"
    publisher = Publisher(db)
    runs = [publisher.run(users=USERS), publisher.run(users=USERS)]
    with sqlite3.connect(db) as con:
        con.execute("create table sentinel (secret text)")
        con.execute("insert into sentinel values (?)", (SENTINEL,))
    con.close()
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_ENV", "HOST", "PORT")}
    env.update(SIMILARITY_DB_PATH=str(db), RESULTS_TABLE=TABLE, PYTHONPATH=str(ROOT))
    command = [sys.executable, "-m", "gunicorn", "-c", "python:server.gunicorn_conf", "-w", "2",
               "-b", f"127.0.0.1:{port}", "server.wsgi:app"]
    log = tmp / "gunicorn.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
    served = Served(f"http://127.0.0.1:{port}", db, log, process, runs)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if send(served, "/api/health")[0] == 200:
                    break
            except OSError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        yield served
    finally:
        stop(process)
    text = log.read_text(errors="replace")
    assert "Traceback" not in text and "[ERROR]" not in text, text[-3000:]
    statuses = re.findall(r"server\.requests \S+ \S+ (\d{3}) ", text)
    assert statuses and not [status for status in statuses if status.startswith("5")]


def send(served: Served, target: str, body: bytes | None = None, headers: dict[str, str] | None = None,
         ) -> tuple[int, str, bytes]:
    """(status, content type, body) of a GET sent exactly as given: the path is not normalised or re-encoded."""
    url = urlsplit(served.base)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        connection.putrequest("GET", target, skip_accept_encoding=True)
        fields = dict(headers or {})
        if body is not None:
            fields.setdefault("Content-Type", "application/json")
            fields.setdefault("Content-Length", str(len(body)))
        for name, value in fields.items():
            connection.putheader(name, value)
        connection.endheaders()
        if body:
            connection.send(body)
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type") or "", response.read()
    finally:
        connection.close()


def error_of(answer: tuple[int, str, bytes]) -> str:
    """The JSON error code of an answer, after checking it is one and leaks nothing."""
    status, content_type, body = answer
    assert 400 <= status < 500, (status, body[:300])
    assert content_type == "application/json", (status, content_type, body[:300])
    assert SENTINEL.encode() not in body and b"root:" not in body and b"Traceback" not in body
    payload = json.loads(body)
    assert set(payload) == {"error", "message"}
    return payload["error"]


def legacy_body(raw: str) -> bytes:
    return b'{"user_handle": ' + raw.encode() + b"}"


# -- SQL injection -----------------------------------------------------------------
@pytest.mark.parametrize("text", INJECTIONS)
def test_sql_injection_in_the_handle(served: Served, text: str) -> None:
    """Path, query and JSON body: the handle is parsed to an integer before any query, so each is a 400
    (a 404 in the path when a decoded "/" makes it no route at all)."""
    in_path = error_of(send(served, V1.format(quote(text, safe=""))))
    assert in_path == ("not_found" if "/" in text else "invalid_user_handle")
    assert error_of(send(served, f"{LEGACY}?user_handle={quote(text, safe='')}")) == "invalid_user_handle"
    assert error_of(send(served, LEGACY, json.dumps({"user_handle": text}).encode())) == "invalid_user_handle"


def test_sql_injection_in_run_id(served: Served) -> None:
    """run_id is a bound parameter: injected SQL, LIKE wildcards and a real id with a tail all find no run."""
    old = served.runs[0]
    # lower(): the id's T and Z always change (its hex tail may be all digits, so upper() could equal it)
    for text in [*RUN_ID_INJECTIONS, f"{old}' OR '1'='1", f"{old}'--", f"{old} ", old.lower()]:
        assert error_of(send(served, V1.format(7) + f"?run_id={quote(text, safe='')}")) == "run_not_found", text
    status, _, body = send(served, V1.format(7) + f"?run_id={old}")  # the control: the real id is served
    assert status == 200 and json.loads(body)["run"] == {"run_id": old, "run_at": json.loads(body)["run"]["run_at"],
                                                          "current": False}


@pytest.mark.parametrize("table", ['user_ranking"; DROP TABLE sentinel; --', "user_ranking --", "sentinel where 1=1",
                                   "../user_ranking", "user_ranking\x00", "ｕser_ranking", ""])
def test_sql_injection_in_results_table_is_refused_by_create_app(table: str, db_path: Path) -> None:
    from server.app import create_app

    with pytest.raises(ConfigError, match="invalid table name|RESULTS_TABLE"):
        create_app({"SIMILARITY_DB_PATH": str(db_path), "RESULTS_TABLE": table or " "})


@pytest.mark.parametrize("command", [
    ["-m", "runserver", "--port", "0"],
    ["-m", "gunicorn", "-b", "127.0.0.1:0", "server.wsgi:app"],
    ["-m", "gunicorn", "-c", "python:server.gunicorn_conf", "-b", "127.0.0.1:0", "server.wsgi:app"],
], ids=["runserver", "gunicorn", "gunicorn-conf"])
def test_sql_injection_in_results_table_stops_real_servers(command: list[str], tmp_path: Path) -> None:
    """The process exits non-zero, names the problem, and never listens."""
    db = tmp_path / "similarity.db"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SIMILARITY_DB_PATH": str(db),
           "RESULTS_TABLE": 'user_ranking"; DROP TABLE sentinel; --'}
    env.pop("DATABASE_ENV", None)
    result = subprocess.run([sys.executable, *command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
                            stdin=subprocess.DEVNULL)
    assert result.returncode != 0
    assert "invalid table name 'user_ranking\"; DROP TABLE sentinel; --'" in result.stderr, result.stderr[-2000:]
    assert "Listening at" not in result.stderr or "Worker failed to boot" in result.stderr
    assert not db.exists()


# -- numbers and Unicode -----------------------------------------------------------
def test_numbers_in_the_json_body(served: Served) -> None:
    """JSON integers, with or without a zero fraction or an exponent, are read exactly; nothing else passes."""
    for raw, expected in NUMBERS:
        answer = send(served, LEGACY, legacy_body(raw))
        if expected == 200:
            handle = int(json.loads(raw)) if not raw.startswith('"') else int(json.loads(raw))
            assert answer[0] == 200 and list(json.loads(answer[2])) == [str(handle)], (raw, answer)
        else:
            code = error_of(answer)
            assert answer[0] == expected, (raw, answer)
            assert code in {"user_not_found", "invalid_user_handle", "missing_user_handle", "malformed_json"}, raw


@pytest.mark.parametrize(("text", "status"), [
    ("9223372036854775807", 404), ("9223372036854775808", 400), ("1" + "0" * 4000, 400), ("0" * 300 + "7", 200),
    ("-0", 400), ("+7", 400), ("1e3", 400), ("7.0", 400), ("0x7", 400), ("7_0", 400), ("%207%20", 200),
])
def test_numbers_in_the_path_and_query(served: Served, text: str, status: int) -> None:
    """Text handles are ASCII digits only (Python's int() would take "7_0", " 7" and far more)."""
    target = text if "%" in text else quote(text, safe="")
    for path in (V1.format(target), f"{LEGACY}?user_handle={target}"):
        answer = send(served, path)
        assert answer[0] == status, (path[:80], answer[:2])
        if status != 200:
            error_of(answer)


@pytest.mark.parametrize("text", LOOKALIKES, ids=[ascii(t) for t in LOOKALIKES])
def test_lookalike_digits_and_invisible_characters(served: Served, text: str) -> None:
    """Unicode digits, direction marks, zero-width and NUL characters are refused, not normalised to 110."""
    encoded = quote(text.encode("utf-8", "surrogatepass"), safe="")
    assert error_of(send(served, V1.format(encoded))) == "invalid_user_handle"
    assert error_of(send(served, f"{LEGACY}?user_handle={encoded}")) == "invalid_user_handle"
    body = json.dumps({"user_handle": text}).encode()  # ASCII-escaped, lone surrogate included
    assert error_of(send(served, LEGACY, body)) == "invalid_user_handle"
    raw = json.dumps({"user_handle": text}, ensure_ascii=False).encode("utf-8", "surrogatepass")
    assert error_of(send(served, LEGACY, raw)) in {"invalid_user_handle", "malformed_json"}


# -- bodies --------------------------------------------------------------------------
def test_oversized_bodies(served: Served) -> None:
    """1 MiB on every endpoint, and a declared terabyte that is never sent: 413 before anything is read."""
    big = b'{"user_handle": "7", "pad": "' + b"x" * (1 << 20) + b'"}'
    for path in (LEGACY, V1.format(7), "/api/health", "/api/openapi.json"):
        assert error_of(send(served, path, big)) == "payload_too_large"
    declared = send(served, LEGACY, b"", {"Content-Length": str(10**12)})
    assert error_of(declared) == "payload_too_large"
    nested = b'{"user_handle": ' + b"[" * 2000 + b"]" * 2000 + b"}"
    assert error_of(send(served, LEGACY, nested)) in {"invalid_user_handle", "malformed_json"}


def test_malformed_length_is_refused_by_gunicorn(served: Served) -> None:
    """gunicorn answers a bad Content-Length itself: a 400, not a 5xx, and the server stays up."""
    for value in ("-1", "abc", "1, 2"):
        assert send(served, LEGACY, None, {"Content-Length": value})[0] == 400
    assert send(served, "/api/health")[0] == 200


# -- path traversal --------------------------------------------------------------------
@pytest.mark.parametrize("target", TRAVERSALS)
def test_path_traversal(served: Served, target: str) -> None:
    """Nothing is served from the file system: no route takes a file name, and run_id is only compared."""
    code = error_of(send(served, target))
    assert code in {"not_found", "run_not_found", "invalid_user_handle"}, (target, code)


# -- proof: nothing read or written ----------------------------------------------------
def all_attacks(served: Served) -> list[tuple[str, bytes | None]]:
    requests: list[tuple[str, bytes | None]] = [(target, None) for target in TRAVERSALS]
    for text in INJECTIONS + LOOKALIKES:
        encoded = quote(text.encode("utf-8", "surrogatepass"), safe="")
        requests += [(V1.format(encoded), None), (f"{LEGACY}?user_handle={encoded}", None),
                     (LEGACY, json.dumps({"user_handle": text}).encode())]
    requests += [(V1.format(7) + f"?run_id={quote(text, safe='')}", None) for text in RUN_ID_INJECTIONS]
    requests += [(LEGACY, legacy_body(raw)) for raw, _ in NUMBERS]
    return requests


def test_attacks_change_nothing_on_disk(served: Served) -> None:
    before = fingerprint(served.db)
    assert before["sentinel"] == [(SENTINEL,)] and before["counts"][TABLE] == len(USERS) * 5
    for target, body in all_attacks(served):
        assert send(served, target, body)[0] < 500, target
    after = fingerprint(served.db)
    assert after == before
    assert after["wal_bytes"] == 0  # not one page written, not even to the write-ahead log
    assert not Path("/tmp/pwned.db").exists()


def test_store_connection_refuses_writes(served: Served) -> None:
    """The connection the server reads with cannot write, create, attach a new file or change the journal."""
    store = RankingStore(served.db, TABLE)
    assert store.top_neighbours(7, 5)  # the control: it reads
    connection = store._connection()
    for statement in ("insert into sentinel values ('x')", "delete from sentinel", "drop table sentinel",
                      "create table pwned (x)", f'update "{TABLE}" set score = 1', "pragma user_version = 7"):
        with pytest.raises(sqlite3.OperationalError, match="attempt to write a readonly database"):
            connection.execute(statement)
    with pytest.raises(sqlite3.OperationalError, match="readonly database|attached"):  # VACUUM attaches a copy
        connection.execute("vacuum")
    # mode=ro does not extend to attached files: SQLite would create and write this one; the store forbids ATTACH
    target = served.db.with_name("attached.db")
    with pytest.raises(sqlite3.OperationalError, match="too many attached databases"):
        connection.execute("attach database ? as pwned", (str(target),))
    assert not target.exists()
    assert fingerprint(served.db)["sentinel"] == [(SENTINEL,)]


def test_workers_hold_no_other_file(served: Served) -> None:
    """After serving, each gunicorn worker has open only the database, its -wal/-shm, sockets, pipes, the log,
    /dev/null and gunicorn's own (deleted) heartbeat file."""
    for _ in range(20):  # every worker and thread reads at least once
        assert send(served, V1.format(7))[0] == 200
    workers = psutil.Process(served.process.pid).children()
    assert len(workers) == 2
    allowed = {str(served.db), f"{served.db}-wal", f"{served.db}-shm", str(served.log), "/dev/null"}
    database_open = 0
    for worker in workers:
        for fd in os.listdir(f"/proc/{worker.pid}/fd"):
            try:
                target = os.readlink(f"/proc/{worker.pid}/fd/{fd}")
            except FileNotFoundError:  # closed while listing
                continue
            if target.startswith(("socket:", "pipe:", "anon_inode:")):
                continue
            if re.fullmatch(r"/(tmp|dev/shm)/wgunicorn-\w+ \(deleted\)", target):
                continue
            assert target in allowed, f"worker {worker.pid} holds {target}"
            database_open += target == str(served.db)
    assert database_open >= 1  # the control: the listing sees the database itself
