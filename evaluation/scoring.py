"""Score neighbour lists: every metric of :mod:`evaluation.metrics` plus its baselines.

Results are flat dicts, one per method, keyed like ``precision``,
``precision[<=30]``, ``hit_rate``, ``recall[interests]``, so the same rows
feed the printed table, the JSON line and the CSV.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.csv as pacsv

from evaluation.holdout import read_manifest
from evaluation.items import ITEM_KINDS, ItemSets, heldout_file, item_sets, raw_path, read_pairs, user_activity
from evaluation.metrics import (
    HeldoutCounts,
    heldout_counts,
    neighbour_candidates,
    neighbour_rows,
    paired_difference,
    planted_precision,
    popular_candidates,
    summarise_heldout,
)
from evaluation.neighbours import Neighbours, most_active_neighbours, random_neighbours

RANDOM = "random users"
ACTIVE = "most active users"
POPULAR_ITEMS = "popular items"
Row = dict[str, Any]


@dataclass(frozen=True)
class Truth:
    """Latent group of every generated user."""

    users: np.ndarray
    groups: np.ndarray


def read_truth(path: Path) -> Truth:
    """``truth/user_groups.csv`` (user_handle, group_id)."""
    table = pacsv.read_csv(path)
    return Truth(table.column("user_handle").to_numpy().astype(np.int64),
                 table.column("group_id").to_numpy().astype(np.int64))


@dataclass(frozen=True)
class HeldoutData:
    """A masked folder's visible and hidden items, per hidden kind, on one user universe."""

    universe: np.ndarray
    sets: dict[str, ItemSets]
    fraction: float


def load_heldout(masked_dir: Path) -> HeldoutData:
    """Read the masked raw tables and ``heldout_<kind>.csv`` of every kind the holdout step hid."""
    manifest = read_manifest(masked_dir)
    visible, hidden = {}, {}
    for kind in manifest["kinds"]:
        visible[kind] = read_pairs(raw_path(masked_dir, ITEM_KINDS[kind][0]), kind)
        hidden[kind] = read_pairs(Path(masked_dir) / heldout_file(kind), kind)
    activity_users, _ = user_activity(masked_dir)
    universe = np.unique(np.concatenate(
        [activity_users] + [p[0] for p in visible.values()] + [p[0] for p in hidden.values()]).astype(np.int64))
    sets = {kind: item_sets(kind, universe, visible[kind], hidden[kind]) for kind in manifest["kinds"]}
    return HeldoutData(universe, sets, float(manifest["fraction"]))


def planted_row(neighbours: Neighbours, truth: Truth, k: int) -> tuple[Row, np.ndarray]:
    """precision@k overall and per group-size bucket; also the per-user values, for paired differences."""
    p = planted_precision(neighbours, truth.users, truth.groups, k)
    row: Row = {"precision": p.precision, "coverage": p.coverage}
    for label, (value, n) in p.buckets.items():
        row[f"precision[{label}]"] = value
        row[f"users[{label}]"] = n
    return row, p.per_user


def _heldout_row(per_kind: Mapping[str, HeldoutCounts]) -> Row:
    row: Row = {}
    total: HeldoutCounts | None = None
    for kind, counts in per_kind.items():
        s = summarise_heldout(counts)
        row[f"hit_rate[{kind}]"] = s.hit_rate
        row[f"recall[{kind}]"] = s.recall
        row[f"candidates[{kind}]"] = s.mean_candidates
        total = counts if total is None else total + counts
    if total is not None:
        s = summarise_heldout(total)
        row |= {"hit_rate": s.hit_rate, "recall": s.recall, "candidates": s.mean_candidates,
                "yield": s.item_yield, "heldout_users": s.n_users, "hidden_items": s.n_hidden,
                "found_items": s.n_found}
    return row


def user_hits(per_kind: Mapping[str, HeldoutCounts]) -> np.ndarray:
    """1.0 / 0.0 per user with a hidden item (any kind): was at least one found? For paired differences."""
    total: HeldoutCounts | None = None
    for counts in per_kind.values():
        total = counts if total is None else total + counts
    if total is None:
        return np.zeros(0)
    users = total.hidden > 0
    return (total.found[users] > 0).astype(np.float64)


def neighbour_counts(neighbours: Neighbours, data: HeldoutData) -> dict[str, HeldoutCounts]:
    """Per kind, per user: hidden items, hidden items among the neighbours' items, candidates."""
    rows = neighbour_rows(neighbours, data.universe)
    return {kind: heldout_counts(neighbour_candidates(rows, s.visible), s.hidden) for kind, s in data.sets.items()}


def heldout_row(neighbours: Neighbours, data: HeldoutData, k: int) -> tuple[Row, dict[str, HeldoutCounts]]:
    """hit rate@k and recall@k of a neighbour list; also the counts, to size the popular-items lists."""
    counts = neighbour_counts(neighbours.top(k), data)
    return _heldout_row(counts), counts


def popular_items_counts(data: HeldoutData, reference: Mapping[str, HeldoutCounts]) -> dict[str, HeldoutCounts]:
    """Popular items, list length per user and kind matched to the ``reference`` method's candidates."""
    return {kind: heldout_counts(popular_candidates(s.visible, reference[kind].candidates), s.hidden)
            for kind, s in data.sets.items()}


def baselines(users: np.ndarray, activity_dir: Path | None, k: int, seed: int) -> dict[str, Neighbours]:
    """Random users, and the most active users when the raw tables are at hand."""
    out = {RANDOM: random_neighbours(users, k, seed)}
    if activity_dir is not None:
        active_users, activity = user_activity(activity_dir)
        out[ACTIVE] = most_active_neighbours(users, active_users, activity, k)
    return out


def score_methods(
    methods: Mapping[str, Neighbours],
    k: int,
    *,
    truth: Truth | None = None,
    heldout: HeldoutData | None = None,
    popular_reference: str | None = None,
    reference: str | None = None,
) -> dict[str, Row]:
    """One row per method; with held-out data also a popular-items row sized on ``popular_reference``.

    With ``reference``, every other row also gets its paired difference to it
    (``dprecision``, ``dhit_rate``) and the 95% half-width (``*_ci``).
    """
    rows: dict[str, Row] = {name: {"method": name, "k": k} for name in methods}
    per_user: dict[str, dict[str, np.ndarray]] = {"precision": {}, "hit_rate": {}}
    reference_counts: dict[str, HeldoutCounts] | None = None
    for name, neighbours in methods.items():
        if truth is not None:
            planted, per_user["precision"][name] = planted_row(neighbours, truth, k)
            rows[name] |= planted
        if heldout is not None:
            heldout_metrics, counts = heldout_row(neighbours, heldout, k)
            rows[name] |= heldout_metrics
            per_user["hit_rate"][name] = user_hits(counts)
            if name == popular_reference:
                reference_counts = counts
    if heldout is not None and reference_counts is not None:
        counts = popular_items_counts(heldout, reference_counts)
        rows[POPULAR_ITEMS] = {"method": POPULAR_ITEMS, "k": k, "sized_on": popular_reference} | _heldout_row(counts)
        per_user["hit_rate"][POPULAR_ITEMS] = user_hits(counts)
    if reference is not None:
        for metric, values in per_user.items():
            if reference not in values:
                continue
            for name, own in values.items():
                if name != reference:
                    diff, ci = paired_difference(own, values[reference])
                    rows[name] |= {f"d{metric}": diff, f"d{metric}_ci": ci}
    return rows
