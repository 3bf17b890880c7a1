"""Republish under load: gunicorn keeps answering correctly while the real pipeline swaps new runs in.

pipeline/publish.py promises that a reader sees the old ranking or the new one, never a mix, a
partial or an empty table. This drives the production server (gunicorn, real HTTP on loopback) with
concurrent clients while ``python -m pipeline`` publishes three new runs with different
weights, records every response, and then checks each one against ``user_ranking_history``, which
holds every run's complete rows. A swap that exposed an empty, partial or mixed table, a 5xx, or a
stale run after a publish finished would fail it.
"""
from __future__ import annotations

import http.client
import json
import random
import re
import subprocess
import sys
import threading
import time
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import accumulate
from pathlib import Path

import pytest
from conftest import TABLE, publish_rows, ranking_rows

from benchmarks.api_load import ServerConfig, free_port, start_gunicorn, stop
from benchmarks.republish_load import History, K, legacy_list, load_history, matching_runs, percentile
from pipeline.publish import new_run_id
from tests.conftest import PROJECT_DIR, pipeline_env, run_module

pytestmark = pytest.mark.e2e

USERS = 500  # generated handles 1..USERS; the pipeline ranks every one of them
CLIENTS = 6
# Between requests a client pauses, to leave the CPU to dbt, except from the end of the pipeline's
# build (publishing is next) until shortly after its exit: then every client sends back to back.
IDLE_PAUSE = 0.1
BURST_LINGER = 0.5
STAGGER = 3.0  # seconds between pipeline starts: each has its own warehouse, their publishes interleave
WEIGHTS = (("1", "0", "0"), ("0.2", "0.6", "0.2"), ("0.3", "0.1", "0.6"))  # one new run each
SERVER = ServerConfig("gthread", workers=4, threads=4)  # the production command of docs/api.md
INITIAL = float("-inf")  # the first run was published before the server started


@dataclass
class Response:
    """One request as a client saw it: when it started and ended, and what came back."""

    client: int
    kind: str  # "legacy", "v1" or "v1-explain"
    user: int
    started: float
    ended: float
    status: int  # 0: no HTTP response at all (connection error, timeout)
    body: bytes  # raw: millions of parsed JSON objects would make the GC pause the clients for seconds


@dataclass
class Window:
    """A pipeline process's lifetime (its publish committed somewhere inside it), and when it began publishing."""

    run_id: str
    started: float
    ended: float
    publishing: float  # when its "build done" line was read: only reading and publishing the ranking follow

    def overlaps(self, response: Response) -> bool:
        return self.publishing <= response.ended and response.started <= self.ended


@dataclass
class Traffic:
    """Client threads hammering the server until ``stop`` is set; full speed while any run is publishing."""

    port: int
    responses: list[Response] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    burst: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    publishing: int = 0

    def publish_started(self) -> None:
        with self.lock:
            self.publishing += 1
            self.burst.set()

    def publish_ended(self) -> None:
        with self.lock:
            self.publishing -= 1
            if not self.publishing:
                self.burst.clear()

    def client(self, index: int) -> None:
        rng = random.Random(index)
        mine: list[Response] = []
        try:
            while not self.stop.is_set():
                mine.append(self.one(index, rng.choice(("legacy", "v1", "v1-explain")), rng.randint(1, USERS)))
                if not self.burst.is_set():
                    time.sleep(IDLE_PAUSE)
        finally:
            with self.lock:
                self.responses.extend(mine)

    def one(self, index: int, kind: str, user: int) -> Response:
        """One request on a new connection: a kept-alive one can be closed by gunicorn after 2 s idle while
        a request is on its way, a transport race that has nothing to do with publishing (and that a
        starved client on a loaded machine does hit); every failure here is then the server's."""
        started = time.monotonic()
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            if kind == "legacy":  # the original endpoint: GET with a JSON body, as curl -d sends it
                connection.request("GET", "/api/similarity/", body=json.dumps({"user_handle": str(user)}),
                                   headers={"Content-Type": "application/json"})
            else:
                explain = "&explain=true" if kind == "v1-explain" else ""
                connection.request("GET", f"/api/v1/users/{user}/similar?k={K}{explain}")
            answer = connection.getresponse()
            status, body = answer.status, answer.read()
        except (OSError, http.client.HTTPException) as exc:
            status, body = 0, repr(exc).encode()
        finally:
            connection.close()
        return Response(index, kind, user, started, time.monotonic(), status, body)


# -- checking responses against the history table -------------------------------------------------
def candidate_runs(response: Response, history: History) -> tuple[set[str], str | None]:
    """Runs whose complete rows this response equals; or a reason why it equals none."""
    if response.status != 200:
        return set(), f"status {response.status}: {response.body[:200]!r}"
    runs, problem = matching_runs(response.kind, response.user, response.body, history)
    return runs, problem and f"{problem}: {response.body[:300]!r}"


def feasible(runs: set[str], response: Response, seq: dict[str, int], windows: dict[str, Window]) -> set[int]:
    """Publish numbers of the runs that could have been current at some moment of this request.

    Run r was not current yet if its pipeline started after the response ended, and no longer
    current if a newer run's pipeline had exited (so committed) before the request started.
    """
    ok = set()
    for run in runs:
        if windows[run].started > response.ended:
            continue
        if any(seq[other] > seq[run] and w.ended < response.started for other, w in windows.items()):
            continue
        ok.add(seq[run])
    return ok


def order_violations(served: Iterable[tuple[Response, set[int]]]) -> list[str]:
    """Real-time order: a request that starts after another one ended never sees an older run."""
    served = list(served)
    by_end = sorted(served, key=lambda item: item[0].ended)
    ends = [item[0].ended for item in by_end]
    newest_seen = list(accumulate((min(seqs) for _, seqs in by_end), max))
    problems = []
    for response, seqs in served:
        before = bisect_left(ends, response.started)  # responses that ended before this one started
        if before and max(seqs) < newest_seen[before - 1]:
            problems.append(f"{response.kind} user {response.user} at {response.started:.3f}: run #{max(seqs)} "
                            f"after run #{newest_seen[before - 1]} had been served")
    return problems


# -- the test --------------------------------------------------------------------------------------
def republish(raw: Path, db: Path, weights: tuple[str, ...], workdir: Path, traffic: Traffic) -> Window:
    """One real ``python -m pipeline`` run (warehouse in ``workdir``); full-speed traffic while it publishes."""
    started = time.monotonic()
    publishing = float("inf")
    process = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "--data-dir", str(raw), "--sqlite-path", str(db), "--weights", *weights,
         "--keep-runs", "10"],
        cwd=PROJECT_DIR, env={**pipeline_env(workdir), "USER_SIM_BLAS_THREADS": "1"},  # 3 runs share 2 cores
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        assert process.stdout is not None
        output = []
        for line in process.stdout:
            output.append(line)
            if line.startswith("[2/3] build   done"):
                publishing = time.monotonic()
                traffic.publish_started()
        returncode = process.wait(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    ended = time.monotonic()
    if publishing != float("inf"):
        time.sleep(BURST_LINGER)
        traffic.publish_ended()
    assert returncode == 0, "".join(output)
    run_id = next(line.split()[1] for line in output if line.startswith("run "))  # "run <id> (env dev) -> ..."
    return Window(run_id, started, ended, publishing)


@pytest.mark.slow
def test_republish_under_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    raw = tmp_path / "raw"
    generated = run_module("datagen", ["--users", str(USERS), "--seed", "11", "--out", str(raw)], tmp_path)
    assert generated.returncode == 0, generated.stderr
    db = tmp_path / "similarity.db"
    first = new_run_id()
    publish_rows(db, ranking_rows(first, list(range(1, USERS + 1))), first, keep_runs=10)
    windows = {first: Window(first, INITIAL, INITIAL, INITIAL)}

    server_log = tmp_path / "gunicorn.log"  # worker timeouts and crashes are logged at warning level and above
    monkeypatch.setenv("GUNICORN_CMD_ARGS", f"--error-logfile {server_log}")
    server = start_gunicorn(db, TABLE, SERVER, port := free_port())
    traffic = Traffic(port)
    clients = [threading.Thread(target=traffic.client, args=(i,), daemon=True) for i in range(CLIENTS)]
    try:
        for thread in clients:
            thread.start()
        time.sleep(1.0)  # traffic on the first run before any swap
        with ThreadPoolExecutor(len(WEIGHTS)) as pool:  # staggered runs, to fit the test in ~40 s on 2 cores
            runs = []
            for i, weights in enumerate(WEIGHTS):
                runs.append(pool.submit(republish, raw, db, weights, tmp_path / f"pipeline{i}", traffic))
                time.sleep(STAGGER)
            for run in runs:
                window = run.result()
                windows[window.run_id] = window
    finally:
        traffic.stop.set()
        for thread in clients:
            thread.join(timeout=30)
        stop(server)
    assert not any(thread.is_alive() for thread in clients)

    history, seq = load_history(db)
    assert set(seq) == set(windows) == set(history), "every run published and kept"
    for run in history:  # complete runs, and rankings that really differ from run to run
        assert sorted(history[run]) == list(range(1, USERS + 1)) and {len(v) for v in history[run].values()} == {K}
    lists = {run: [legacy_list(history[run][u]) for u in range(1, USERS + 1)] for run in history}
    for a in lists:
        for b in lists:
            if a < b:
                assert sum(x != y for x, y in zip(lists[a], lists[b], strict=True)) > USERS // 2, (a, b)

    failures: list[str] = []
    served: list[tuple[Response, set[int]]] = []
    for response in traffic.responses:
        runs, problem = candidate_runs(response, history)
        seqs = feasible(runs, response, seq, windows) if runs else set()
        if problem is None and not seqs:
            problem = f"run(s) {sorted(runs)} could not have been current then"
        if problem:
            failures.append(f"{response.kind} user {response.user} at {response.started:.3f}-{response.ended:.3f}"
                            f" (client {response.client}): {problem}")
        else:
            served.append((response, seqs))
    failures += order_violations(served)

    swaps = [w for w in windows.values() if w.started != INITIAL]
    in_swap = [r for r in traffic.responses if any(w.overlaps(r) for w in swaps)]
    v1_runs = Counter(next(iter(seqs)) for response, seqs in served if response.kind != "legacy")
    print(summary(traffic.responses, in_swap, failures, v1_runs, swaps))  # shown with -s, or on failure
    assert not failures, f"{len(failures)} of {len(traffic.responses)} responses wrong; windows " \
                         f"{[(w.started, w.publishing, w.ended) for w in swaps]}:\n" + "\n".join(failures[:20]) \
                         + f"\ngunicorn log:\n{server_log.read_text()[-3000:]}"
    crashes = re.findall(r".*(?:\[ERROR\]|\[CRITICAL\]|Traceback).*", server_log.read_text())
    assert not crashes, f"a worker timed out, crashed or logged an error: {crashes[:5]}"
    assert set(v1_runs) == set(seq.values()), "every run was served, so the swaps happened under traffic"
    assert len(v1_runs) >= 1 + len(WEIGHTS)
    for window in swaps:  # requests in flight while every run was being published
        assert sum(window.overlaps(r) for r in traffic.responses) >= 20, window


def summary(responses: list[Response], in_swap: list[Response], failures: list[str], v1_runs: Counter[int],
            swaps: list[Window]) -> str:
    def p99(items: list[Response]) -> float:
        return percentile([(r.ended - r.started) * 1000 for r in items], 0.99)

    durations = [round(w.ended - w.started, 1) for w in swaps]
    publishing = [round(w.ended - w.publishing, 2) for w in swaps]
    return (f"\n{len(responses)} responses {dict(Counter(r.kind for r in responses))}, {len(failures)} problems,"
            f" p99 {p99(responses):.1f} ms; {len(in_swap)} while publishing, p99 {p99(in_swap):.1f} ms;"
            f" v1 answers per run (publish order) {dict(sorted(v1_runs.items()))}; pipeline runs"
            f" {durations} s, publishing (build done to exit) {publishing} s")
