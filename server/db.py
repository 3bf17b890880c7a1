"""Read-only access to the SQLite file the pipeline publishes (layout: pipeline/publish.py).

Each thread keeps one read-only connection (opening one costs ~0.3 ms, more
than the query), reopened when the file is replaced. Nothing about the current
run is cached: the pipeline swaps a new ranking in with DROP + RENAME in one
WAL transaction, and the next query simply sees it. Queries that must agree
with each other run in one read transaction (a snapshot).
"""
from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from contracts.identifiers import check_identifier
from contracts.published import COLUMN_NAMES, current_run, history_table
from server.errors import RankingUnavailable

# Published columns the API reads: all but the user's own handle.
NEIGHBOUR_COLUMNS = tuple(c for c in COLUMN_NAMES if c != "user_handle")
_SELECT = ", ".join(f'"{c}"' for c in NEIGHBOUR_COLUMNS)


class RunNotFound(Exception):
    """The requested run is unknown, failed, or pruned from the history."""


@dataclass(frozen=True)
class UserRanking:
    """The neighbours of one user in one run, best first."""

    user_handle: int
    run_id: str
    run_at: str
    current: bool
    k_max: int  # neighbours published for this user in this run
    rows: list[sqlite3.Row]


class RankingStore:
    """Queries of one results table (and its history) in one SQLite file."""

    def __init__(self, path: Path, results_table: str) -> None:
        self.path = Path(path)
        self.table = check_identifier(results_table)
        self.history = history_table(results_table)
        # absolute but not resolved: a symlink swapped to a new file is followed on reopen
        self._uri = f"file:{quote(os.path.abspath(self.path))}?mode=ro"
        self._local = threading.local()

    # -- connections -----------------------------------------------------
    def _connection(self) -> sqlite3.Connection:
        """This thread's connection; a new one if the file was replaced since it was opened."""
        try:
            stat = os.stat(self.path)
        except OSError:
            self._drop_connection()
            raise RankingUnavailable("no ranking has been published yet (database file not found)") from None
        identity = (stat.st_dev, stat.st_ino)
        cached = getattr(self._local, "cached", None)
        if cached is not None and cached[0] == identity:
            return cached[1]
        self._drop_connection()
        try:
            con = sqlite3.connect(self._uri, uri=True, isolation_level=None, timeout=5)
        except sqlite3.Error as exc:
            raise RankingUnavailable(f"database cannot be opened: {exc}") from None
        # mode=ro covers this file only: an ATTACH would open (and create, and write) any other one
        con.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
        con.row_factory = sqlite3.Row
        self._local.cached = (identity, con)
        return con

    def _drop_connection(self) -> None:
        cached = getattr(self._local, "cached", None)
        self._local.cached = None
        if cached is not None:
            cached[1].close()

    @contextmanager
    def _read(self, snapshot: bool = False) -> Iterator[sqlite3.Connection]:
        """A connection, optionally inside one read transaction; SQLite errors become 503."""
        con = self._connection()
        try:
            if snapshot:
                con.execute("begin")
            try:
                yield con
            finally:
                if snapshot and con.in_transaction:
                    con.execute("rollback")
        except sqlite3.Error as exc:
            self._drop_connection()
            if "no such table" in str(exc):
                raise RankingUnavailable(f"no ranking has been published yet ({exc})") from None
            raise RankingUnavailable(f"database cannot be read: {exc}") from None

    # -- queries -----------------------------------------------------------
    def top_neighbours(self, user_handle: int, limit: int) -> list[sqlite3.Row]:
        """(similar user, score) of the current ranking, best first; [] for an unknown user."""
        with self._read() as con:
            return con.execute(
                f'select similar_user_handle, score from "{self.table}" where user_handle = ?'
                " order by rank limit ?",
                (user_handle, limit),
            ).fetchall()

    def user_ranking(self, user_handle: int, limit: int, run_id: str | None = None) -> UserRanking | None:
        """Up to ``limit`` neighbours from the current run, or from kept run ``run_id``.

        Returns None for a user absent from that run; raises :class:`RunNotFound`.
        """
        # count(*) over () counts every row of the user before LIMIT applies: k_max in the same query
        sql = f'select {_SELECT}, count(*) over () as k_max from "{{table}}" where {{where}} order by rank limit ?'
        if run_id is None:  # one statement: atomic without a transaction
            with self._read() as con:
                rows = con.execute(
                    sql.format(table=self.table, where="user_handle = ?"), (user_handle, limit)
                ).fetchall()
            current = True
        else:
            with self._read(snapshot=True) as con:
                status = con.execute(
                    "select status from ranking_runs where run_id = ? and results_table = ?", (run_id, self.table)
                ).fetchone()
                if status is None or status[0] != "published":
                    raise RunNotFound(run_id)
                rows = con.execute(
                    sql.format(table=self.history, where="run_id = ? and user_handle = ?"), (run_id, user_handle, limit)
                ).fetchall()
            current = current_run(con, self.table) == run_id
        if not rows:
            return None
        return UserRanking(
            user_handle=user_handle,
            run_id=rows[0]["run_id"],
            run_at=rows[0]["run_at"],
            current=current,
            k_max=rows[0]["k_max"],
            rows=rows,
        )

    def health(self) -> dict[str, Any]:
        """Facts about the run being served: id, times, users and rows ranked."""
        with self._read(snapshot=True) as con:
            head = con.execute(f'select run_id, run_at from "{self.table}" limit 1').fetchone()
            if head is None:
                raise RankingUnavailable(f"table {self.table} is empty")
            run = con.execute(
                "select finished_at, user_count, row_count from ranking_runs where run_id = ?",
                (head["run_id"],),
            ).fetchone()
            if run is None or run["user_count"] is None:  # published by something else than the pipeline
                users, rows = con.execute(
                    f'select count(distinct user_handle), count(*) from "{self.table}"'
                ).fetchone()
                finished_at = None
            else:
                users, rows, finished_at = run["user_count"], run["row_count"], run["finished_at"]
        return {
            "run_id": head["run_id"],
            "run_at": head["run_at"],
            "published_at": finished_at,
            "users": users,
            "rows": rows,
        }
