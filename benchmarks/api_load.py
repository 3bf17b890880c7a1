"""Load benchmark of the API under gunicorn: requests/s and latency percentiles.

    python -m benchmarks.api_load                      # builds a 10,000-user ranking
    python -m benchmarks.api_load --db FILE            # or serves an existing one
    python -m benchmarks.api_load --configs 4x4 2x8 sync:4   # gunicorn settings to compare
    python -m benchmarks.api_load --clients 8 16 32    # concurrency sweep

For each server setting it starts gunicorn on a free loopback port, drives it
with ``--clients`` concurrent keep-alive connections (a small asyncio HTTP/1.1
client, cheaper per request than http.client, since it shares the CPUs with
the server), each asking for random users until ``--requests`` are done or
``--seconds`` pass, then stops the server. Two scenarios: the original
endpoint (GET with a JSON body, like the curl example) and the versioned one
with ``explain=true``. Traffic goes to 127.0.0.1 only.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from simcore.precision import SCORE_DECIMALS

ROOT = Path(__file__).resolve().parent.parent
REQUEST_TIMEOUT = 10.0  # seconds; a request slower than this counts as an error
TARGETS = {"original": (20.0, 1000.0), "explain": (50.0, None)}  # p99 ms, req/s


# -- a synthetic ranking ------------------------------------------------------------
def build_ranking(db: Path, users: int, k: int = 5, seed: int = 7) -> None:
    """``users`` x ``k`` rows with reasons shaped like the pipeline's, published by publish_ranking."""
    import pyarrow as pa

    from pipeline.publish import COLUMN_NAMES, RunRecord, new_run_id, publish_ranking, utc_now

    rng = random.Random(seed)
    tags = [f"{a}-{b}" for a in ("python", "sql", "react", "docker", "aws", "excel", "java", "ml")
            for b in ("basics", "advanced", "patterns", "testing", "security", "data")]
    courses = [f"course-{i:04d}" for i in range(800)]
    bins = ("low", "medium", "high")
    run_id, run_at = new_run_id(), utc_now()
    columns: dict[str, list[object]] = {name: [] for name in COLUMN_NAMES}
    for user in range(1, users + 1):
        scores = sorted((rng.random() for _ in range(k)), reverse=True)
        for rank, score in enumerate(scores, start=1):
            similar = rng.randrange(1, users)
            similar += similar >= user  # never the user itself
            interests = sorted(rng.sample(tags, rng.randint(0, 14)))
            course_tags = sorted(rng.sample(tags, rng.randint(0, 14)))
            shared_courses = sorted(rng.sample(courses, rng.randint(0, 12)))
            assessed = sorted(rng.sample(tags, rng.randint(0, 6)))
            values = {
                "user_handle": user, "rank": rank, "similar_user_handle": similar,
                "score": round(score, SCORE_DECIMALS),
                "score_interests": round(rng.random(), SCORE_DECIMALS),
                "score_assessments": round(rng.random(), SCORE_DECIMALS),
                "score_course_views": round(rng.random(), SCORE_DECIMALS),
                "n_shared_interests": len(interests), "n_shared_course_tags": len(course_tags),
                "n_shared_courses": len(shared_courses), "n_shared_assessments": len(assessed),
                "shared_interests": json.dumps(interests[:10]), "shared_course_tags": json.dumps(course_tags[:10]),
                "shared_courses": json.dumps(shared_courses[:10]),
                "shared_assessments": json.dumps([{"tag": t, "user_bin": rng.choice(bins),
                                                   "similar_user_bin": rng.choice(bins)} for t in assessed]),
                "run_id": run_id, "run_at": run_at,
            }
            for name in COLUMN_NAMES:
                columns[name].append(values[name])
    publish_ranking(db, RunRecord(run_id, "user_ranking", run_at, {"synthetic": True, "top_k": k}),
                    pa.table(columns))


def ranked_users(db: Path, table: str) -> list[int]:
    import sqlite3

    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
        return [row[0] for row in con.execute(f'select distinct user_handle from "{table}"')]


# -- the server ---------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class ServerConfig:
    """One gunicorn setting: worker class, processes and (gthread) threads per process."""

    kind: str
    workers: int
    threads: int = 1

    def args(self) -> list[str]:
        threads = ["--threads", str(self.threads)] if self.kind == "gthread" else []
        return ["-k", self.kind, "-w", str(self.workers), *threads]

    def __str__(self) -> str:
        return " ".join(self.args())


def start_gunicorn(db: Path, table: str, config: ServerConfig, port: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "gunicorn", *config.args(), "-b", f"127.0.0.1:{port}", "--log-level", "warning",
               "server.wsgi:app"]
    env = {**os.environ, "SIMILARITY_DB_PATH": str(db), "RESULTS_TABLE": table, "PYTHONPATH": str(ROOT)}
    # the request log (one line per request) goes to a file beside the database, not the terminal
    log = db.with_name(f"gunicorn-{port}.log")
    with log.open("wb") as sink:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=sink, stderr=sink)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited during startup:\n{log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=1) as response:
                if response.status == 200:
                    return process
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
    stop(process)
    raise RuntimeError("gunicorn did not become healthy within 30 s")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# -- the client ---------------------------------------------------------------------
def original_request(user: int) -> bytes:
    body = json.dumps({"user_handle": str(user)}).encode()
    return (b"GET /api/similarity/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(body), body))


def explain_request(user: int) -> bytes:
    return b"GET /api/v1/users/%d/similar?explain=true HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % user


SCENARIOS: dict[str, Callable[[int], bytes]] = {"original": original_request, "explain": explain_request}


@dataclass
class Result:
    latencies_ms: list[float]
    errors: int
    seconds: float
    client_cpu: float  # CPU seconds of this process per wall second

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                   request: bytes) -> tuple[int, bytes, bool]:
    """Send one request, read its response; (status, body, server asked to close)."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    length, close = 0, False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection" and value.strip().lower() == b"close":
            close = True
    return int(head[9:12]), await reader.readexactly(length), close


async def _one_client(port: int, make: Callable[[int], bytes], users: list[int], budget: list[int],
                      deadline: float, latencies: list[float], errors: list[int], rng: random.Random) -> None:
    """One keep-alive connection sending requests back to back; reconnects when the server closes it."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while budget[0] > 0 and time.perf_counter() < deadline:
            budget[0] -= 1
            request = make(rng.choice(users))
            started = time.perf_counter()
            try:
                async with asyncio.timeout(REQUEST_TIMEOUT):
                    status, _, close = await exchange(reader, writer, request)
                    ok = status == 200
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
                ok, close = False, True
            latencies.append((time.perf_counter() - started) * 1000)
            errors[0] += not ok
            if close:
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
    finally:
        writer.close()


async def _drive(port: int, make: Callable[[int], bytes], users: list[int], clients: int, requests: int,
                 seconds: float, seed: int) -> Result:
    latencies: list[float] = []
    errors = [0]
    budget = [requests]
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(*(
        _one_client(port, make, users, budget, deadline, latencies, errors, random.Random(seed + i))
        for i in range(clients)
    ))
    return Result(latencies, errors[0], time.perf_counter() - started, 0.0)


def drive(port: int, scenario: str, users: list[int], clients: int, requests: int, seconds: float,
          seed: int) -> Result:
    cpu = time.process_time()
    result = asyncio.run(_drive(port, SCENARIOS[scenario], users, clients, requests, seconds, seed))
    result.client_cpu = (time.process_time() - cpu) / result.seconds
    return result


# -- main ---------------------------------------------------------------------------
def parse_config(text: str) -> ServerConfig:
    """``4x4`` (gthread, 4 workers x 4 threads) or ``sync:4`` (4 sync workers, no keep-alive)."""
    kind, _, size = text.lower().rpartition(":")
    workers, _, threads = size.partition("x")
    try:
        config = ServerConfig(kind or "gthread", int(workers), int(threads or 1))
    except ValueError:
        config = None
    if config is None or config.kind not in ("gthread", "sync") or config.workers < 1 or config.threads < 1:
        raise argparse.ArgumentTypeError(f"expected WORKERSxTHREADS (gthread) or sync:WORKERS, got {text!r}")
    return config


def machine() -> str:
    model = ""
    try:
        model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("model name")), "")
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs ({model or platform.processor() or 'unknown'}), Python {platform.python_version()}"


def report_line(config: ServerConfig, clients: int, scenario: str, result: Result) -> str:
    rate = len(result.latencies_ms) / result.seconds
    p99_target, rate_target = TARGETS[scenario]
    met = result.percentile(0.99) < p99_target and (rate_target is None or rate >= rate_target)
    target = f"p99<{p99_target:g}" + (f", >={rate_target:,.0f}/s" if rate_target else "")
    return (f"{str(config):<30} {clients:>7} {scenario:<9} {len(result.latencies_ms):>8} {result.errors:>6} "
            f"{rate:>7.0f} {result.percentile(0.50):>7.2f} {result.percentile(0.90):>7.2f} "
            f"{result.percentile(0.99):>7.2f} {max(result.latencies_ms):>7.2f} {result.client_cpu:>7.0%}  "
            f"{target}: {'met' if met else 'MISSED'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.api_load", description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, help="serve this SQLite file instead of building one")
    parser.add_argument("--results-table", default="user_ranking")
    parser.add_argument("--users", type=int, default=10_000, help="users in the built ranking (default 10,000)")
    parser.add_argument("--clients", type=int, nargs="+", default=[32],
                        help="concurrent connections; several values sweep them (default 32)")
    parser.add_argument("--requests", type=int, default=20_000, help="requests per scenario (default 20,000)")
    parser.add_argument("--seconds", type=float, default=60, help="time cap per scenario (default 60)")
    parser.add_argument("--warmup", type=int, default=1_000, help="unmeasured requests first (default 1,000)")
    parser.add_argument("--configs", type=parse_config, nargs="+", default=[parse_config("4x4"), parse_config("2x8")],
                        help="gunicorn settings: WORKERSxTHREADS for gthread, sync:WORKERS (default 4x4 2x8)")
    parser.add_argument("--scenarios", nargs="+", choices=sorted(SCENARIOS), default=["original", "explain"])
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="api_load_") as tmp:
        db = args.db
        if db is None:
            db = Path(tmp) / "ranking.db"
            started = time.perf_counter()
            build_ranking(db, args.users)
            print(f"built {args.users:,} users x 5 neighbours in {time.perf_counter() - started:.1f} s: {db}")
        users = ranked_users(db, args.results_table)
        print(f"machine: {machine()}; load average before: {os.getloadavg()[0]:.2f}")
        print(f"{args.requests:,} requests or {args.seconds:g} s per scenario after {args.warmup:,} warm-up;"
              f" {len(users):,} users ranked; client CPU = share of one core used by this load generator")
        lines = [f"{'server':<30} {'clients':>7} {'scenario':<9} {'requests':>8} {'errors':>6} {'req/s':>7} "
                 f"{'p50 ms':>7} {'p90 ms':>7} {'p99 ms':>7} {'max ms':>7} {'cli CPU':>7}  target"]
        print(lines[0], flush=True)
        for config in args.configs:
            port = free_port()
            server = start_gunicorn(db, args.results_table, config, port)
            try:
                for clients in args.clients:
                    for scenario in args.scenarios:
                        drive(port, scenario, users, clients, args.warmup, args.seconds, args.seed + 99)
                        result = drive(port, scenario, users, clients, args.requests, args.seconds, args.seed)
                        lines.append(report_line(config, clients, scenario, result))
                        print(lines[-1], flush=True)
            finally:
                stop(server)
        print(f"load average after: {os.getloadavg()[0]:.2f}\n\n" + "\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
