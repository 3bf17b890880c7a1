"""Neighbour lists: a published ranking read back from SQLite, and the simple baselines.

Every method under evaluation ends up as one :class:`Neighbours` (users x k
handles, ``-1`` where a user has fewer than k), so all of them go through the
very same metric code.
"""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from contracts.identifiers import check_identifier
from contracts.published import history_table, published_runs

MISSING = -1


@dataclass(frozen=True)
class Neighbours:
    """Each user's neighbours, best first."""

    users: np.ndarray  # (n,) sorted unique handles
    handles: np.ndarray  # (n, k) neighbour handles, MISSING-padded

    def __post_init__(self) -> None:
        if self.handles.ndim != 2 or self.handles.shape[0] != self.users.shape[0]:
            raise ValueError("handles must be (len(users), k)")
        if self.users.size and np.any(self.users[1:] <= self.users[:-1]):
            raise ValueError("users must be sorted and unique")

    @property
    def k(self) -> int:
        return int(self.handles.shape[1])

    def top(self, k: int) -> Neighbours:
        """The first ``k`` neighbours; refuses a k the list does not have."""
        if k > self.k:
            raise ValueError(f"asked for precision at k={k} but the ranking holds only {self.k} neighbours per user")
        return Neighbours(self.users, self.handles[:, :k])


def from_long(users: np.ndarray, ranks: np.ndarray, similar: np.ndarray) -> Neighbours:
    """Build from long (user, rank, similar_user) rows, rank 1 first; gaps stay MISSING."""
    users = np.asarray(users, np.int64)
    ranks = np.asarray(ranks, np.int64)
    if ranks.size and ranks.min() < 1:
        raise ValueError("ranks start at 1")
    universe = np.unique(users)
    k = int(ranks.max()) if ranks.size else 0
    handles = np.full((universe.size, k), MISSING, np.int64)
    handles[np.searchsorted(universe, users), ranks - 1] = np.asarray(similar, np.int64)
    return Neighbours(universe, handles)


def from_indices(universe: np.ndarray, index: np.ndarray) -> Neighbours:
    """Build from row indices into ``universe`` (as :func:`simcore.topk.top_k` returns them)."""
    universe = np.asarray(universe, np.int64)
    index = np.asarray(index, np.int64)
    handles = np.where(index >= 0, universe[np.clip(index, 0, max(universe.size - 1, 0))], MISSING)
    return Neighbours(universe, handles.reshape(index.shape))


def list_runs(sqlite_file: Path, table: str) -> list[str]:
    """Run ids kept in ``<table>_history``, newest first."""
    con = sqlite3.connect(f"file:{sqlite_file}?mode=ro", uri=True)
    try:
        return published_runs(con, table)
    finally:
        con.close()


def read_ranking(sqlite_file: Path, table: str, run_id: str | None = None) -> tuple[Neighbours, str]:
    """The current ranking of ``table`` (or kept run ``run_id`` from its history) and its run id."""
    check_identifier(table)
    sqlite_file = Path(sqlite_file)
    if not sqlite_file.exists():
        raise FileNotFoundError(f"no SQLite file at {sqlite_file}")
    con = sqlite3.connect(f"file:{sqlite_file}?mode=ro", uri=True)
    try:
        source = f'"{table}"' if run_id is None else f'"{history_table(table)}"'
        where, params = ("", ()) if run_id is None else (" where run_id = ?", (run_id,))
        try:
            rows = con.execute(
                f"select user_handle, rank, similar_user_handle, run_id from {source}{where}", params).fetchall()
        except sqlite3.OperationalError as exc:
            raise ValueError(f"cannot read ranking table {source} in {sqlite_file}: {exc}") from exc
    finally:
        con.close()
    if not rows:
        kept = ", ".join(list_runs(sqlite_file, table)) or "none"
        what = f"run {run_id!r} of {table}" if run_id else f"table {table}"
        raise ValueError(f"{what} has no rows in {sqlite_file} (kept runs: {kept})")
    array = np.array([r[:3] for r in rows], dtype=np.int64)
    runs = {r[3] for r in rows}
    if len(runs) != 1:
        raise ValueError(f"table {table} mixes runs {sorted(runs)}")
    return from_long(array[:, 0], array[:, 1], array[:, 2]), runs.pop()


def random_neighbours(users: np.ndarray, k: int, seed: int = 0) -> Neighbours:
    """k distinct other users drawn uniformly for every user: the chance level of any metric."""
    users = np.asarray(users, np.int64)
    n = users.size
    k_eff = min(k, n - 1)
    rng = np.random.default_rng(seed)
    index = np.empty((n, max(k_eff, 0)), np.int64)
    for row in range(n):
        picks = rng.choice(n - 1, size=k_eff, replace=False)
        index[row] = picks + (picks >= row)  # skip the user itself
    return from_indices(users, index)


def most_active_neighbours(
    users: np.ndarray, candidates: np.ndarray, activity: np.ndarray, k: int
) -> Neighbours:
    """The same k most active candidates for everyone (minus the user itself): a popularity baseline.

    Ties in activity go to the lower handle, as in the ranking itself.
    """
    users = np.asarray(users, np.int64)
    order = np.lexsort((candidates, -np.asarray(activity)))
    top = np.asarray(candidates, np.int64)[order[: k + 1]]
    handles = np.full((users.size, k), MISSING, np.int64)
    # each user gets the first k of ``top`` that are not the user
    is_self = users[:, None] == top[None, :]
    keep_rank = np.cumsum(~is_self, axis=1)
    for j in range(top.size):
        slot = keep_rank[:, j] - 1
        ok = ~is_self[:, j] & (slot < k)
        handles[ok, slot[ok]] = top[j]
    return Neighbours(users, handles)
