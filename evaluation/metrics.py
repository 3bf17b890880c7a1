"""The metrics, as pure functions of neighbour lists, group labels and item matrices.

precision@k (planted groups)
    per user: share of its k neighbours in its own latent group (a missing
    neighbour counts as a miss, a user left out of the ranking scores 0);
    averaged over all users of the truth file, and per group-size bucket so
    that the many users of large groups do not hide how small groups fare.

hit rate@k and recall@k (held-out items)
    a user's *candidates* are the items its k neighbours hold in the masked
    data, minus the items the user already holds. hit rate = share of users
    with a hidden item who get at least one of them among the candidates;
    recall = share of all hidden items found (micro average). Longer lists
    find more, so the mean list length and the yield (hidden items found per
    listed item) are reported beside them.

popular items (the fair popularity baseline for held-out items)
    for each user the N most popular items it does not already hold, where N
    is that user's candidate count under the method being compared, so both
    lists have the same length and a hit is not bought with a longer list.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from evaluation.neighbours import MISSING, Neighbours

BUCKET_EDGES: tuple[int, ...] = (30, 60, 120)


def bucket_labels(edges: tuple[int, ...] = BUCKET_EDGES) -> list[str]:
    """'<=30', '31-60', '61-120', '>120' for the default edges."""
    labels = [f"<={edges[0]}"]
    labels += [f"{lo + 1}-{hi}" for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
    return labels + [f">{edges[-1]}"]


@dataclass(frozen=True)
class Precision:
    """precision@k over the users of a truth file."""

    k: int
    precision: float
    n_users: int
    coverage: float  # share of truth users the neighbour list covers
    buckets: dict[str, tuple[float, int]] = field(default_factory=dict)  # label -> (precision, users)
    per_user: np.ndarray = field(default_factory=lambda: np.zeros(0))  # in sorted truth-user order, for pairing


def lookup(keys: np.ndarray, values: np.ndarray, query: np.ndarray, default: int = MISSING) -> np.ndarray:
    """``values`` of each ``query`` in the sorted ``keys``; ``default`` where absent."""
    if keys.size == 0:
        return np.full(query.shape, default, np.int64)
    idx = np.searchsorted(keys, query)
    idx_c = np.minimum(idx, keys.size - 1)
    return np.where(keys[idx_c] == query, values[idx_c], default)


def planted_precision(
    neighbours: Neighbours,
    truth_users: np.ndarray,
    truth_groups: np.ndarray,
    k: int,
    edges: tuple[int, ...] = BUCKET_EDGES,
) -> Precision:
    """precision@k of ``neighbours`` against latent groups, overall and per group-size bucket."""
    top = neighbours.top(k)
    order = np.argsort(truth_users, kind="stable")
    users = np.asarray(truth_users, np.int64)[order]
    groups = np.asarray(truth_groups, np.int64)[order]
    if users.size and np.any(users[1:] == users[:-1]):
        raise ValueError("truth file lists a user twice")
    _, inverse, sizes = np.unique(groups, return_inverse=True, return_counts=True)
    group_size = sizes[inverse]

    per_user = np.zeros(users.size)
    rows = lookup(top.users, np.arange(top.users.size), users)
    ranked = rows >= 0
    neighbour_groups = lookup(users, groups, top.handles[rows[ranked]])
    same = (neighbour_groups == groups[ranked][:, None]) & (top.handles[rows[ranked]] != MISSING)
    per_user[ranked] = same.sum(axis=1) / k

    bucket = np.searchsorted(np.asarray(edges), group_size, side="left")
    buckets: dict[str, tuple[float, int]] = {}
    for b, label in enumerate(bucket_labels(edges)):
        members = bucket == b
        n = int(members.sum())
        buckets[label] = (float(per_user[members].mean()) if n else float("nan"), n)
    return Precision(
        k=k,
        precision=float(per_user.mean()) if users.size else float("nan"),
        n_users=int(users.size),
        coverage=float(ranked.mean()) if users.size else float("nan"),
        buckets=buckets,
        per_user=per_user,
    )


def group_precision(groups: np.ndarray, users: np.ndarray, handles: np.ndarray) -> float:
    """Share of listed neighbours in the user's own planted group; ``groups`` is indexed by handle.

    A missing neighbour (MISSING) counts as a miss. The quick form of :func:`planted_precision`
    for a sample of users, without buckets.
    """
    same = (handles != MISSING) & (groups[np.maximum(handles, 0)] == groups[users][:, None])
    return float(same.mean()) if handles.size else float("nan")


def paired_difference(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Mean of ``a - b`` over the same users and its 95% half-width (1.96 standard errors).

    Both methods are scored on the same users, so the paired difference is far
    tighter than comparing two independent means: it says whether a gap of a
    point or two is real or noise.
    """
    diff = np.asarray(a, np.float64) - np.asarray(b, np.float64)
    if diff.size < 2:
        return float(diff.mean()) if diff.size else float("nan"), float("nan")
    return float(diff.mean()), float(1.96 * diff.std(ddof=1) / np.sqrt(diff.size))


@dataclass(frozen=True)
class HeldoutCounts:
    """Per user of the item universe: hidden items, hidden items found, candidate list length."""

    hidden: np.ndarray
    found: np.ndarray
    candidates: np.ndarray

    def __add__(self, other: HeldoutCounts) -> HeldoutCounts:
        return HeldoutCounts(self.hidden + other.hidden, self.found + other.found,
                             self.candidates + other.candidates)


@dataclass(frozen=True)
class Heldout:
    """hit rate@k and recall@k over users with at least one hidden item."""

    hit_rate: float
    recall: float
    n_users: int
    n_hidden: int
    n_found: int
    mean_candidates: float
    item_yield: float  # hidden items found per candidate item listed (micro): a length-fair rate


def neighbour_rows(neighbours: Neighbours, universe: np.ndarray) -> np.ndarray:
    """(len(universe), k) row indices into ``universe`` of each user's neighbours; -1 if none."""
    rows = lookup(neighbours.users, np.arange(neighbours.users.size), universe)
    out = np.full((universe.size, neighbours.k), MISSING, np.int64)
    ranked = rows >= 0
    handles = neighbours.handles[rows[ranked]]
    out[ranked] = np.where(handles == MISSING, MISSING,
                           lookup(universe, np.arange(universe.size), handles))
    return out


def neighbour_candidates(rows: np.ndarray, visible: sp.csr_matrix) -> sp.csr_matrix:
    """Items the neighbours hold (``visible`` rows ``rows[u]``) minus the user's own, as bool CSR."""
    n = visible.shape[0]
    valid = rows >= 0
    pick = sp.csr_matrix(
        (np.ones(int(valid.sum()), np.int32), (np.nonzero(valid)[0], rows[valid])), shape=(n, n))
    held = (pick @ visible.astype(np.int32)).astype(bool).astype(np.int8)
    held = held - held.multiply(visible.astype(np.int8))
    held.eliminate_zeros()
    return held.astype(bool).tocsr()


def popular_candidates(visible: sp.csr_matrix, n_per_user: np.ndarray) -> sp.csr_matrix:
    """For each user the ``n_per_user[u]`` most popular items it does not hold (ties: lower item id)."""
    visible = visible.tocsr()
    n_users, n_items = visible.shape
    popularity = np.asarray(visible.sum(axis=0)).ravel()
    order = np.lexsort((np.arange(n_items), -popularity))
    rank_of = np.empty(n_items, np.int64)
    rank_of[order] = np.arange(n_items)
    indptr = [0]
    indices: list[np.ndarray] = []
    for u in range(n_users):
        want = int(min(n_per_user[u], n_items))
        own = np.sort(rank_of[visible.indices[visible.indptr[u]:visible.indptr[u + 1]]])
        t = want
        while t < n_items and t - np.searchsorted(own, t) < want:  # skip the user's own items
            t = min(n_items, want + int(np.searchsorted(own, t)))
        picked = order[:t]
        if own.size:
            picked = picked[~np.isin(rank_of[picked], own)]
        indices.append(np.sort(picked))
        indptr.append(indptr[-1] + picked.size)
    flat = np.concatenate(indices) if indices else np.zeros(0, np.int64)
    return sp.csr_matrix((np.ones(flat.size, bool), flat, np.array(indptr)), shape=(n_users, n_items))


def heldout_counts(candidates: sp.csr_matrix, hidden: sp.csr_matrix) -> HeldoutCounts:
    """Per-user counts of hidden items, hidden items among the candidates and candidates."""
    def row_nnz(m: sp.spmatrix) -> np.ndarray:
        return np.diff(m.tocsr().indptr).astype(np.int64)

    return HeldoutCounts(
        hidden=row_nnz(hidden),
        found=row_nnz(candidates.multiply(hidden)),
        candidates=row_nnz(candidates),
    )


def summarise_heldout(counts: HeldoutCounts) -> Heldout:
    """hit rate, recall (micro) and mean list length over users with a hidden item."""
    users = counts.hidden > 0
    n_hidden = int(counts.hidden[users].sum())
    n_found = int(counts.found[users].sum())
    return Heldout(
        hit_rate=float((counts.found[users] > 0).mean()) if users.any() else float("nan"),
        recall=n_found / n_hidden if n_hidden else float("nan"),
        n_users=int(users.sum()),
        n_hidden=n_hidden,
        n_found=n_found,
        mean_candidates=float(counts.candidates[users].mean()) if users.any() else float("nan"),
        item_yield=n_found / int(counts.candidates[users].sum()) if counts.candidates[users].sum() else float("nan"),
    )
