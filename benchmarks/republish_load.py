"""Republish under load: latency and correctness of the API while new runs are swapped in.

    python -m benchmarks.republish_load --users 10000 --runs 5 --clients 16
    python -m benchmarks.republish_load --publisher publish --users 100000 --runs 10   # publish step alone
    python -m benchmarks.republish_load --server 4x4 --blas-threads 1                 # gthread, BLAS threads

Publishes a first run (not measured), starts gunicorn over it on a free loopback port (``-w 4 -k sync``
by default), then drives it with ``--clients`` concurrent connections (the asyncio client of
benchmarks/api_load.py, mixing the original endpoint and ``/api/v1/users/<h>/similar`` with and
without ``explain``) while ``--runs`` new runs are published one after another, ``--pause`` seconds
apart. ``--publisher pipeline`` runs the real ``python -m pipeline`` on a generated sample, with
different weights each run; ``--publisher publish`` calls ``publish_ranking`` alone on synthetic
rankings (a new seed each run), to reach sizes the pipeline would take long to build.

A swap window is the publish step as the publisher process reports it: from the end of the dbt
build (or, for ``publish``, from the call to publish_ranking) to the line printed after the commit.
Every response is checked afterwards against ``<table>_history`` (every run's complete rows):
a mismatch is a response that equals no published run's rows, reports k != 5, or shows a run older
than one whose publish had already finished before the request was sent.
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import re
import sqlite3
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.api_load import (
    REQUEST_TIMEOUT,
    build_ranking,
    exchange,
    free_port,
    machine,
    original_request,
    parse_config,
    start_gunicorn,
    stop,
)
from contracts.published import history_table
from server.limits import SCORE_PLACES

ROOT = Path(__file__).resolve().parent.parent
K = 5
TABLE = "user_ranking"
# distinct signal weights, one set per pipeline run (the first run uses the pipeline's defaults)
WEIGHTS = [("1", "0", "0"), ("0.2", "0.6", "0.2"), ("0.3", "0.1", "0.6"), ("0.5", "0.3", "0.2"),
           ("0.2", "0.2", "0.6"), ("0.6", "0.2", "0.2"), ("0", "1", "0"), ("0", "0", "1")]
PUBLISH_LINE = re.compile(r"^\[3/3\] publish .*?([\d.]+) s$")

History = dict[str, dict[int, list[sqlite3.Row]]]  # run_id -> user -> its rows, by rank


# -- expected answers, from the history table (shared with tests/server/test_republish_under_load.py) ---
def load_history(db: Path, table: str = TABLE) -> tuple[History, dict[str, int]]:
    """Every kept run's rows, and the publish order (publish_seq) of each published run."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    con.row_factory = sqlite3.Row
    try:
        history: History = defaultdict(lambda: defaultdict(list))
        for row in con.execute(f'select * from "{history_table(table)}" order by run_id, user_handle, rank'):
            history[row["run_id"]][row["user_handle"]].append(row)
        seq = dict(con.execute("select run_id, publish_seq from ranking_runs where status = 'published'"
                               " and results_table = ?", (table,)).fetchall())
    finally:
        con.close()
    return history, seq


def legacy_list(rows: list[sqlite3.Row]) -> list[dict[str, Any]]:
    """What ``GET /api/similarity/`` must return for these rows (docs/api.md)."""
    return [{"user": r["similar_user_handle"], "score": round(r["score"], 4)} for r in rows[:K]]


def v1_neighbours(rows: list[sqlite3.Row], explain: bool) -> list[dict[str, Any]]:
    """The ``neighbours`` of ``GET /api/v1/users/<h>/similar?k=5`` for these rows (docs/api.md)."""
    def r6(value: float | None) -> float | None:
        return None if value is None else round(value, SCORE_PLACES)

    out = []
    for r in rows[:K]:
        item: dict[str, Any] = {
            "rank": r["rank"], "user_handle": r["similar_user_handle"], "score": r6(r["score"]),
            "scores": {s: r6(r[f"score_{s}"]) for s in ("interests", "assessments", "course_views")},
        }
        if explain:
            item["reasons"] = {f"shared_{name}": {"count": r[f"n_shared_{name}"] or 0,
                                                  "items": json.loads(r[f"shared_{name}"] or "[]")}
                               for name in ("interests", "course_tags", "courses", "assessments")}
        out.append(item)
    return out


def matching_runs(kind: str, user: int, body: bytes, history: History) -> tuple[set[str], str | None]:
    """Runs whose complete rows a 200 response equals; or what is wrong with it."""
    try:
        data = json.loads(body)
    except ValueError:
        return set(), "not JSON"
    if kind == "legacy":
        got = data.get(str(user)) if isinstance(data, dict) and len(data) == 1 else None
        if not isinstance(got, list) or len(got) != K:
            return set(), f"legacy: not {K} neighbours"
        runs = {run for run, users in history.items() if legacy_list(users.get(user, [])) == got}
        return runs, None if runs else "legacy: equals no published run"
    run_id = data.get("run", {}).get("run_id") if isinstance(data, dict) else None
    if run_id not in history:
        return set(), "v1: unknown run"
    if data.get("k_returned") != K or data.get("k_max") != K or data.get("user_handle") != user:
        return set(), f"v1: k_returned {data.get('k_returned')}"
    if data["run"].get("current") is not True:  # no run_id asked: the current run, by definition
        return set(), "v1: not marked current"
    rows = history[run_id].get(user, [])
    if not rows or data["run"].get("run_at") != rows[0]["run_at"] or data.get("neighbours") != v1_neighbours(
            rows, kind == "v1-explain"):
        return set(), "v1: differs from its run"
    return {run_id}, None


# -- the publishers -----------------------------------------------------------------------------------
@dataclass
class Window:
    """One publisher process: its lifetime and its publish step (monotonic clock), as it reported them."""

    run_id: str
    started: float  # process start
    publish_start: float  # "build done" (pipeline) or "publishing" (publish) read
    publish_end: float  # the line printed after the commit read
    ended: float  # process exit
    reported: float  # seconds the process itself reports for its publish step


def pipeline_command(args: argparse.Namespace, work: Path, index: int) -> list[str]:
    weights = [] if index == 0 else ["--weights", *WEIGHTS[(index - 1) % len(WEIGHTS)]]
    return [sys.executable, "-m", "pipeline", "--data-dir", str(work / "raw"),
            "--sqlite-path", str(work / "ranking.db"), "--results-table", TABLE, "--keep-runs", str(args.runs + 1),
            *weights]


def publish_command(args: argparse.Namespace, work: Path, index: int) -> list[str]:
    return [sys.executable, "-m", "benchmarks.republish_load", "--publish-worker", str(work / "ranking.db"),
            "--users", str(args.users), "--seed", str(args.seed + index), "--runs", str(args.runs)]


async def run_publisher(command: list[str], env: dict[str, str]) -> Window:
    """Run one publisher process; note when its publish step starts and ends from its output lines."""
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(*command, cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE,
                                                   stderr=asyncio.subprocess.STDOUT)
    assert process.stdout is not None
    run_id, publish_start, publish_end, reported, output = "", float("nan"), float("nan"), float("nan"), []
    async for raw in process.stdout:
        line = raw.decode(errors="replace").rstrip()
        output.append(line)
        if line.startswith("run ") and not run_id:
            run_id = line.split()[1]
        elif line.startswith(("[2/3] build   done", "publishing")):
            publish_start = time.monotonic()
        elif (match := PUBLISH_LINE.match(line)) or line.startswith("published"):
            publish_end = time.monotonic()
            reported = float(match.group(1) if match else line.split()[-1])
    if await process.wait() != 0:
        raise RuntimeError("publisher failed:\n" + "\n".join(output[-30:]))
    return Window(run_id, started, publish_start, publish_end, time.monotonic(), reported)


def publish_worker(db: Path, users: int, seed: int, keep_runs: int) -> int:
    """``--publish-worker``: build a synthetic ranking (not timed), then time publish_ranking alone."""
    import pyarrow as pa

    from pipeline.publish import COLUMN_NAMES, RunRecord, publish_ranking

    with tempfile.TemporaryDirectory(prefix="republish_") as tmp:
        scratch = Path(tmp) / "scratch.db"
        build_ranking(scratch, users, seed=seed)  # api_load's generator, published into a scratch file
        with sqlite3.connect(scratch) as con:
            rows = con.execute(f'select {", ".join(COLUMN_NAMES)} from "{TABLE}"').fetchall()
        table = pa.table({name: [row[i] for row in rows] for i, name in enumerate(COLUMN_NAMES)})
    run_id, run_at = table.column("run_id")[0].as_py(), table.column("run_at")[0].as_py()
    print(f"run {run_id}\npublishing", flush=True)
    started = time.perf_counter()
    publish_ranking(db, RunRecord(run_id, TABLE, run_at, {"synthetic": True, "seed": seed, "top_k": K}), table,
                    keep_runs=keep_runs)
    print(f"published {time.perf_counter() - started:.3f}", flush=True)
    return 0


# -- the clients --------------------------------------------------------------------------------------
def v1_request(user: int, explain: bool = False) -> bytes:
    query = b"k=5&explain=true" if explain else b"k=5"
    return b"GET /api/v1/users/%d/similar?%s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % (user, query)


REQUESTS: dict[str, Callable[[int], bytes]] = {
    "legacy": original_request, "v1": v1_request, "v1-explain": lambda user: v1_request(user, explain=True)}


@dataclass
class Load:
    """Responses as (kind, user, started, ended, status, body, error); bodies interned (few distinct)."""

    records: list[tuple[str, int, float, float, int, bytes, str | None]] = field(default_factory=list)
    bodies: dict[bytes, bytes] = field(default_factory=dict)
    stop: asyncio.Event = field(default_factory=asyncio.Event)


async def client(port: int, users: list[int], kinds: list[str], load: Load, rng: random.Random) -> None:
    """One connection sending requests back to back (reconnecting whenever the server closes it)."""
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    while not load.stop.is_set():
        kind, user = rng.choice(kinds), rng.choice(users)
        started = time.monotonic()
        error: str | None = None
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT):
                if writer is None:
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                assert reader is not None
                status, body, close = await exchange(reader, writer, REQUESTS[kind](user))
            if status != 200:
                error = f"HTTP {status}"
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ValueError) as exc:
            status, body, close, error = 0, b"", True, type(exc).__name__
        load.records.append((kind, user, started, time.monotonic(), status, load.bodies.setdefault(body, body), error))
        if close and writer is not None:
            writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()


async def drive(args: argparse.Namespace, work: Path, port: int, users: list[int], env: dict[str, str],
                command: Callable[[argparse.Namespace, Path, int], list[str]]) -> tuple[Load, list[Window], float]:
    """Clients run from ``--warmup`` s before the first publish until ``--pause`` s after the last."""
    load = Load()
    kinds = args.mix
    tasks = [asyncio.create_task(client(port, users, kinds, load, random.Random(args.seed * 1000 + i)))
             for i in range(args.clients)]
    started = time.monotonic()
    windows = []
    try:
        await asyncio.sleep(args.warmup)
        for index in range(1, args.runs + 1):
            windows.append(await run_publisher(command(args, work, index), env))
            print(f"  run {index}: {windows[-1].run_id} published in {windows[-1].reported:.2f} s"
                  f" ({windows[-1].ended - windows[-1].started:.1f} s process)", flush=True)
            await asyncio.sleep(args.pause)
    finally:
        load.stop.set()
        await asyncio.gather(*tasks)
    return load, windows, time.monotonic() - started


# -- measuring and reporting --------------------------------------------------------------------------
def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def worker_peak_rss_mib(master: int) -> list[float]:
    """Peak resident memory (VmHWM) of each gunicorn worker, read before they stop."""
    import psutil

    peaks = []
    for child in psutil.Process(master).children():
        try:
            status = Path(f"/proc/{child.pid}/status").read_text()
        except OSError:
            continue
        kib = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), 0)
        peaks.append(kib / 1024)
    return peaks


def check(load: Load, windows: list[Window], db: Path) -> tuple[Counter[str], set[str]]:
    """Mismatches by kind (checked once per distinct body, counted per response); runs seen."""
    history, seq = load_history(db)
    verdicts: dict[tuple[str, int, bytes], tuple[set[str], str | None]] = {}
    # a run is stale for a request sent after a newer run's publish had reported its commit
    commits = sorted((w.publish_end, seq.get(w.run_id, 0)) for w in windows)
    mismatches: Counter[str] = Counter()
    seen: set[str] = set()
    for kind, user, started, _, status, body, error in load.records:
        if error is not None or status != 200:
            continue
        key = (kind, user, body)
        if key not in verdicts:
            verdicts[key] = matching_runs(kind, user, body, history)
        runs, problem = verdicts[key]
        if problem:
            mismatches[problem] += 1
            continue
        newest_committed = max((s for end, s in commits if end < started), default=0)
        if max(seq[r] for r in runs) < newest_committed:
            mismatches["stale run after a publish"] += 1
        if kind != "legacy":
            seen |= runs
    return mismatches, seen


def _mib(path: Path) -> float:
    return path.stat().st_size / 2**20 if path.exists() else 0.0


def report(files: str, load: Load, windows: list[Window], seconds: float, mismatches: Counter[str], seen: set[str],
           peaks: list[float]) -> str:
    latency = [(r[3] - r[2]) * 1000 for r in load.records]
    in_swap = [(r[3] - r[2]) * 1000 for r in load.records
               if any(w.publish_start <= r[3] and r[2] <= w.publish_end for w in windows)]
    errors = Counter(r[6] for r in load.records if r[6] is not None)
    lines = [f"{'run':>3} {'run_id':<24} {'process s':>9} {'publish s':>9} {'window s':>8} {'requests':>8}"
             f" {'errors':>6} {'p99 ms':>7}"]
    for i, w in enumerate(windows, start=1):
        inside = [r for r in load.records if w.publish_start <= r[3] and r[2] <= w.publish_end]
        failed = sum(r[6] is not None for r in inside)
        lines.append(f"{i:>3} {w.run_id:<24} {w.ended - w.started:>9.1f} {w.reported:>9.2f}"
                     f" {w.publish_end - w.publish_start:>8.2f} {len(inside):>8} {failed:>6}"
                     f" {percentile([(r[3] - r[2]) * 1000 for r in inside], 0.99):>7.1f}")
    rows = [
        ("requests served (200)", f"{sum(r[4] == 200 for r in load.records):,} in {seconds:.0f} s"
                                  f" ({len(load.records) / seconds:,.0f} req/s)"),
        ("errors", f"{sum(errors.values())}" + (f" {dict(errors)}" if errors else "")),
        ("mismatches", f"{sum(mismatches.values())}" + (f" {dict(mismatches)}" if mismatches else "")),
        ("runs served (v1)", f"{len(seen)} of {len(windows) + 1}"),
        ("latency p50 / p99 / max", f"{percentile(latency, 0.5):.1f} / {percentile(latency, 0.99):.1f} /"
                                    f" {max(latency, default=float('nan')):.1f} ms"),
        ("p99 during swap windows", f"{percentile(in_swap, 0.99):.1f} ms over {len(in_swap):,} requests"),
        ("swap durations (publisher)", ", ".join(f"{w.reported:.2f}" for w in windows) + " s"),
        ("SQLite file / WAL at the end", files),
        ("peak RSS per server worker", (f"{max(peaks):.0f} MiB max, {sum(peaks):.0f} MiB for {len(peaks)} workers"
                                        if peaks else "n/a")),
    ]
    width = max(len(name) for name, _ in rows)
    return "\n".join(lines + [""] + [f"{name:<{width}}  {value}" for name, value in rows])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.republish_load", description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000, help="users in the sample / synthetic ranking")
    parser.add_argument("--runs", type=int, default=5, help="runs published under load, after the first one")
    parser.add_argument("--clients", type=int, default=16, help="concurrent connections")
    parser.add_argument("--server", type=parse_config, default=parse_config("sync:4"),
                        help="gunicorn: sync:WORKERS or WORKERSxTHREADS (gthread); default sync:4")
    parser.add_argument("--publisher", choices=("pipeline", "publish"), default="pipeline",
                        help="real pipeline runs, or publish_ranking alone on synthetic rankings")
    parser.add_argument("--mix", nargs="+", choices=sorted(REQUESTS), default=["legacy", "v1", "v1-explain"],
                        help="request kinds, picked at random")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of load before the first publish")
    parser.add_argument("--pause", type=float, default=3.0, help="seconds of load after each publish")
    parser.add_argument("--blas-threads", help="USER_SIM_BLAS_THREADS for the pipeline runs")
    parser.add_argument("--workdir", type=Path, help="keep the data, warehouse and SQLite file here")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--publish-worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.publish_worker:
        return publish_worker(args.publish_worker, args.users, args.seed, args.runs + 1)

    work = args.workdir or Path(tempfile.mkdtemp(prefix="republish_load_"))
    work.mkdir(parents=True, exist_ok=True)
    db = work / "ranking.db"
    for stale in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        stale.unlink(missing_ok=True)
    env = {**os.environ, "USER_SIM_WAREHOUSE_DIR": str(work / "warehouse"), "USER_SIM_DATA_ROOT": str(work / "data"),
           "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "PYTHONPATH": str(ROOT)}
    if args.blas_threads is not None:
        env["USER_SIM_BLAS_THREADS"] = args.blas_threads
    command = pipeline_command if args.publisher == "pipeline" else publish_command
    if args.publisher == "pipeline" and not (work / "raw").exists():
        from datagen.generate import generate

        generate(work / "raw", users=args.users, seed=42)
    first = asyncio.run(run_publisher(command(args, work, 0), env))
    print(f"machine: {machine()}; load average before: {os.getloadavg()[0]:.2f}")
    print(f"server: gunicorn {args.server}; {args.clients} clients ({' '.join(args.mix)}); publisher {args.publisher};"
          f" {args.users:,} users; {args.runs} runs; first run {first.run_id} published in {first.reported:.2f} s")

    from benchmarks.api_load import ranked_users

    users = ranked_users(db, TABLE)
    port = free_port()
    server = start_gunicorn(db, TABLE, args.server, port)
    gc.collect()
    gc.disable()  # a collection over hundreds of thousands of records would stall every client at once
    try:
        load, windows, seconds = asyncio.run(drive(args, work, port, users, env, command))
        peaks = worker_peak_rss_mib(server.pid)
        files = f"{_mib(db):.0f} MiB / {_mib(db.with_name(db.name + '-wal')):.0f} MiB"  # before readers close
    finally:
        gc.enable()
        stop(server)
    mismatches, seen = check(load, windows, db)
    print(f"load average after: {os.getloadavg()[0]:.2f}; data in {work}\n")
    print(report(files, load, windows, seconds, mismatches, seen, peaks))
    errors = sum(r[6] is not None for r in load.records)
    return 0 if errors == 0 and not mismatches else 1


if __name__ == "__main__":
    sys.exit(main())
