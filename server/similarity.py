"""Command-line client of the original endpoint: ``python -m server.similarity --user_id 110``.

Prints the JSON the endpoint returns (``{"110": [{"user": ..., "score": ...}]}``).
Standard library only, so it runs anywhere the repository is checked out.
Exit status: 0 success, 1 the API answered with an error (e.g. unknown user),
2 bad command line, 3 server unreachable; errors are one line on stderr.
"""
from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence

EXIT_API_ERROR = 1
EXIT_UNREACHABLE = 3


def fetch_similar(user_id: str, host: str, port: int, timeout: float) -> str:
    """The raw JSON text answered by ``GET /api/similarity/`` with a JSON body, as curl sends it."""
    request = urllib.request.Request(
        f"http://{host}:{port}/api/similarity/",
        data=json.dumps({"user_handle": user_id}).encode(),
        headers={"Content-Type": "application/json", "Accept": "application/json"},
        method="GET",
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.read().decode()


def _error_message(error: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(error.read())
        return f"{body['error']}: {body['message']}"
    except (ValueError, KeyError, TypeError, OSError):  # not our JSON (a proxy?): use the status line
        return f"{error.code} {error.reason}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m server.similarity", description=__doc__.splitlines()[0])
    parser.add_argument("--user_id", "--user-id", required=True, help="user handle, e.g. 110")
    parser.add_argument("--host", default="127.0.0.1", help="server address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=5000, help="server port (default 5000)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds (default 10)")
    args = parser.parse_args(argv)
    try:
        text = fetch_similar(args.user_id, args.host, args.port, args.timeout)
    except urllib.error.HTTPError as error:
        print(f"error: HTTP {error.code} {_error_message(error)}", file=sys.stderr)
        return EXIT_API_ERROR
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        print(f"error: cannot reach http://{args.host}:{args.port}: {reason}", file=sys.stderr)
        return EXIT_UNREACHABLE
    print(text.strip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
