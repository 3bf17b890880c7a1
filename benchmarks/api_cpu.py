"""Server CPU per request, in one process through Flask's test client (no sockets).

    python -m benchmarks.api_cpu                  # 10,000-user ranking, 3 rounds of 3,000 requests
    python -m benchmarks.api_cpu --requests 10000 --rounds 5

Throughput over HTTP (``benchmarks.api_load``) moves with whatever else the
host runs; CPU time spent by the app per request does much less, so this is
the figure to compare two versions of the server code on a shared machine.
It covers routing, validation, the SQLite lookup and the JSON dump, not
gunicorn's socket handling. Prints the median of the rounds per scenario.
"""
from __future__ import annotations

import argparse
import json
import logging
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from flask.testing import FlaskClient

from benchmarks.api_load import build_ranking
from server.app import create_app


def _original(client: FlaskClient, user: int) -> int:
    body = json.dumps({"user_handle": str(user)})
    return client.get("/api/similarity/", data=body, content_type="application/json").status_code


def _explain(client: FlaskClient, user: int) -> int:
    return client.get(f"/api/v1/users/{user}/similar?explain=true").status_code


SCENARIOS: dict[str, Callable[[FlaskClient, int], int]] = {"original": _original, "explain": _explain}


def cpu_ms_per_request(client: FlaskClient, scenario: str, users: int, requests: int, rng: random.Random) -> float:
    """Process CPU milliseconds per request over ``requests`` random users; every answer must be 200."""
    ask = SCENARIOS[scenario]
    start = time.process_time()
    for _ in range(requests):
        status = ask(client, rng.randrange(1, users + 1))
        if status != 200:
            raise RuntimeError(f"{scenario}: HTTP {status}")
    return (time.process_time() - start) / requests * 1e3


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=3_000, help="per round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    logging.disable(logging.INFO)  # the request log would be most of the cost measured
    with tempfile.TemporaryDirectory(prefix="api_cpu_") as tmp:
        db = Path(tmp) / "ranking.db"
        build_ranking(db, args.users)
        client = create_app({"SIMILARITY_DB_PATH": str(db), "RESULTS_TABLE": "user_ranking"}).test_client()
        rng = random.Random(1)
        for scenario in SCENARIOS:
            rounds = [cpu_ms_per_request(client, scenario, args.users, args.requests, rng) for _ in range(args.rounds)]
            print(f"{scenario:9s} {statistics.median(rounds):.3f} ms CPU/request (median of {args.rounds} x "
                  f"{args.requests:,}; rounds {', '.join(f'{r:.3f}' for r in rounds)})")


if __name__ == "__main__":
    main()
