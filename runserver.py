"""Development server: ``DATABASE_ENV=dev RESULTS_TABLE=user_ranking python -m runserver``.

Listens on 127.0.0.1:5000 unless ``--host/--port`` (or ``HOST``/``PORT``) say
otherwise. Binding every interface takes an explicit ``--host 0.0.0.0`` on the
command line: an inherited ``HOST`` variable must not expose a dev server. For
the same reason debug mode (reloader, interactive debugger) takes ``--debug``:
FLASK_DEBUG, FLASK_ENV and .env files are ignored. Werkzeug's access log, which
prints the client's address, is replaced by the app's own request line
(server.app). For production use gunicorn with ``server.wsgi:app`` (docs/api.md).
"""
from __future__ import annotations

import argparse
import errno
import logging
import os
import socket
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from werkzeug.serving import WSGIRequestHandler

ALL_INTERFACES = frozenset({"0.0.0.0", "::", "[::]", ""})


class AnonymousRequestHandler(WSGIRequestHandler):
    """Werkzeug's handler without the client address in its log lines, and without its access log."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """The app logs each request itself, without the address Werkzeug would print."""

    def log(self, type: str, message: str, *args: Any) -> None:
        """Werkzeug's format less the leading client address (errors such as a bad request line still show)."""
        level = logging.getLevelName(type.upper())
        logging.getLogger("werkzeug").log(level if isinstance(level, int) else logging.INFO, message, *args)


def parse_args(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> argparse.Namespace:
    env = os.environ if environ is None else environ
    parser = argparse.ArgumentParser(prog="python -m runserver", description=__doc__.splitlines()[0])
    parser.add_argument("--host", help="interface to bind (default: HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default: PORT or 5000)")
    parser.add_argument("--debug", action="store_true", help="Flask debug mode with reloader (never in production)")
    args = parser.parse_args(argv)
    if args.host is None:
        args.host = env.get("HOST") or "127.0.0.1"
        if args.host in ALL_INTERFACES:
            wildcard = args.host or "0.0.0.0"
            parser.error(f"HOST={args.host!r} would bind every interface; pass --host {wildcard} explicitly")
    if args.port is None:
        try:
            args.port = int(env.get("PORT") or 5000)
        except ValueError:
            parser.error(f"PORT must be an integer, got {env.get('PORT')!r}")
    if not 0 <= args.port <= 65535:
        parser.error(f"port must be 0..65535, got {args.port}")
    return args


def bind_problem(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be served, as one line naming what to do; None when it can.

    Checked before the app starts so that a port in use is one clear line, not
    a banner followed by Werkzeug's message.
    """
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Werkzeug binds
        try:
            probe.bind((host.strip("[]"), port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return (f"port {port} on {host} is already in use (an earlier runserver or make serve?):"
                        f" stop that process, or pass --port N")
            if exc.errno == errno.EACCES:
                return f"no permission to bind port {port} on {host}: use a port above 1023 (--port N)"
            return f"cannot bind {host}:{port}: {exc.strerror}; check --host"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    # with --debug, Werkzeug's reloader child serves on the socket its parent bound (WERKZEUG_SERVER_FD)
    problem = None if os.environ.get("WERKZEUG_SERVER_FD") else bind_problem(args.host, args.port)
    if problem:
        print(f"runserver: {problem}", file=sys.stderr)
        return 1
    from server.app import create_app
    from server.config import ConfigError

    try:
        app = create_app()
    except ConfigError as exc:
        print(f"runserver: invalid configuration: {exc}", file=sys.stderr)
        return 2
    print(
        f"serving {app.config['RESULTS_TABLE']} from {app.config['DATABASE_PATH']} on http://{args.host}:{args.port}",
        file=sys.stderr,
    )
    os.environ.pop("FLASK_RUN_FROM_CLI", None)  # would make app.run return without serving
    app.run(host=args.host, port=args.port, debug=args.debug, load_dotenv=False, threaded=True,
            request_handler=AnonymousRequestHandler)
    return 0


if __name__ == "__main__":
    sys.exit(main())
