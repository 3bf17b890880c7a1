"""gunicorn settings with safe defaults: ``gunicorn -c python:server.gunicorn_conf server.wsgi:app``.

(Or ``-c server/gunicorn_conf.py``.) Command-line options override any of these.

- Listens on 127.0.0.1:5000 only: put a reverse proxy in front (TLS, slow clients).
- No access log: the app writes one line per request itself (server.app: method,
  route, status, duration, user handle), with no client address, user agent,
  header, cookie or body. Should ``--access-logfile`` be turned on anyway, its
  format holds none of those either.
- gunicorn's warning about a malformed request names the client's address; it is
  logged without it.
- The settings (database, table) are checked in the master before any worker
  starts: a bad one stops gunicorn with one ``Error:`` line instead of a worker
  boot loop of tracebacks.
- No control socket (``gunicornc``): nothing else to secure on the host.
"""
from __future__ import annotations

import re
from typing import Any

from gunicorn.glogging import Logger

bind = ["127.0.0.1:5000"]
workers = 4  # 2 per core on the 2-core target; see docs/api.md, "Performance"
worker_class = "gthread"
threads = 4
timeout = 30
graceful_timeout = 30
keepalive = 2

accesslog = None
access_log_format = '%(t)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'  # no %(h)s, %(r)s (query), %(a)s, %(f)s, headers
errorlog = "-"
loglevel = "info"
control_socket_disable = True

_CLIENT_ADDRESS = re.compile(r"\s*from ip=[^:\s]*")
_CONTROL = str.maketrans({c: f"\\x{c:02x}" for c in [*range(0x20), *range(0x7F, 0xA0)]})


class AnonymousLogger(Logger):
    """gunicorn's logger, minus the client address in "Invalid request from ip=...: ..." warnings,
    and with control characters escaped in access-log fields (a decoded ``%0a`` in a path forges lines)."""

    def warning(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        super().warning(_CLIENT_ADDRESS.sub("", msg) if isinstance(msg, str) else msg, *args, **kwargs)

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        fields = super().atoms(resp, req, environ, request_time)
        return {key: value.translate(_CONTROL) if isinstance(value, str) else value for key, value in fields.items()}


logger_class = AnonymousLogger


def on_starting(server: Any) -> None:
    """Refuse to start on invalid settings (RuntimeError: gunicorn prints ``Error: ...`` and exits 1)."""
    from server.config import ConfigError, load_config

    try:
        load_config()
    except ConfigError as exc:
        raise RuntimeError(f"invalid configuration: {exc}") from None
