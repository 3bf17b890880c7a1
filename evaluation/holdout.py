"""The holdout step: hide a random share of each user's items before the pipeline runs.

For each item kind (interest tags, viewed courses, optionally assessments) a
user's distinct items are shuffled and ``fraction`` of them hidden: every raw
row of a hidden (user, item) leaves the masked table (all view rows of a
hidden course, not one day of it) and goes to ``heldout_<kind>.csv``.

The count hidden per user is ``fraction * n`` rounded at random (floor plus
one with probability of the remainder), so the expected share is exactly
``fraction`` even for users with a few items, and at most ``n - 1``: every
user keeps at least one item of each kind, so no user drops out of a signal
because of the evaluation. Selection depends only on ``seed`` and the sorted
(user, item) pairs, never on row order, so it is reproducible.
"""
from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from evaluation.items import ITEM_KINDS, RAW_TABLES, distinct_pairs, heldout_file, raw_path, read_raw, row_pairs

DEFAULT_KINDS: tuple[str, ...] = ("interests", "courses")
MANIFEST = "holdout.json"


@dataclass(frozen=True)
class KindSummary:
    """What the holdout did to one kind of item."""

    kind: str
    users: int  # users with at least one item
    users_with_hidden: int
    pairs: int  # distinct (user, item)
    hidden_pairs: int
    rows: int  # raw rows
    hidden_rows: int

    @property
    def hidden_share(self) -> float:
        return self.hidden_pairs / self.pairs if self.pairs else 0.0


def hidden_pair_mask(pair_users: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Which of the (user-sorted) pairs to hide: ``fraction`` of each user's, randomly rounded, <= n-1."""
    pair_users = np.asarray(pair_users)
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"fraction must be in [0, 1), got {fraction}")
    if pair_users.size == 0:
        return np.zeros(0, bool)
    if np.any(pair_users[1:] < pair_users[:-1]):
        raise ValueError("pairs must be sorted by user")
    _, starts, counts = np.unique(pair_users, return_index=True, return_counts=True)
    expected = fraction * counts
    n_hide = np.floor(expected).astype(np.int64)
    n_hide += rng.random(counts.size) < (expected - n_hide)
    n_hide = np.minimum(n_hide, counts - 1)
    keys = rng.random(pair_users.size)
    order = np.lexsort((keys, pair_users))  # users stay contiguous; random order within a user
    position = np.empty(pair_users.size, np.int64)
    position[order] = np.arange(pair_users.size) - np.repeat(starts, counts)
    return position < np.repeat(n_hide, counts)


def _pair_keys(users: np.ndarray, items: np.ndarray) -> pa.Array:
    return pc.binary_join_element_wise(
        pc.cast(pa.array(users, pa.int64()), pa.string()), pa.array(items, pa.string()), "\x1f")


def split_table(table: pa.Table, kind: str, fraction: float, seed: int) -> tuple[pa.Table, pa.Table, KindSummary]:
    """(masked rows, hidden rows, summary) of one raw table; unusable rows always stay masked-in."""
    handles, items, valid = row_pairs(table, kind)
    pair_users, pair_items = distinct_pairs(handles[valid], items[valid])
    rng = np.random.default_rng([seed, list(ITEM_KINDS).index(kind)])
    hide = hidden_pair_mask(pair_users, fraction, rng)
    hidden_keys = _pair_keys(pair_users[hide], pair_items[hide])
    row_hidden = pc.is_in(_pair_keys(handles, items), value_set=hidden_keys)
    row_hidden = pc.and_(row_hidden, pa.array(valid))
    summary = KindSummary(
        kind=kind,
        users=int(np.unique(pair_users).size),
        users_with_hidden=int(np.unique(pair_users[hide]).size),
        pairs=int(pair_users.size),
        hidden_pairs=int(hide.sum()),
        rows=table.num_rows,
        hidden_rows=int(pc.sum(pc.cast(row_hidden, pa.int64())).as_py() or 0),
    )
    return table.filter(pc.invert(row_hidden)), table.filter(row_hidden), summary


def _write(table: pa.Table, path: Path) -> None:
    if path.suffix == ".parquet":
        pq.write_table(table, path)
    else:
        pacsv.write_csv(table, path, pacsv.WriteOptions(quoting_style="needed"))


def holdout(
    data_dir: Path,
    out_dir: Path,
    fraction: float = 0.2,
    seed: int = 0,
    kinds: Sequence[str] = DEFAULT_KINDS,
    force: bool = False,
) -> list[KindSummary]:
    """Write masked raw tables, ``heldout_<kind>.csv`` and ``holdout.json`` into ``out_dir``.

    Tables not masked (course tags, and kinds not asked for) are copied
    unchanged; a ``truth/`` folder is copied too, so planted-group precision
    can be measured on the masked run as well.
    """
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    unknown = set(kinds) - set(ITEM_KINDS)
    if unknown:
        raise ValueError(f"unknown item kinds {sorted(unknown)}; expected some of {list(ITEM_KINDS)}")
    if out_dir.resolve() == data_dir.resolve():
        raise ValueError("--out must differ from --data-dir: the raw tables are never overwritten")
    if out_dir.exists() and any(out_dir.iterdir()) and not force:
        raise FileExistsError(f"{out_dir} is not empty; use --force to overwrite")
    out_dir.mkdir(parents=True, exist_ok=True)
    masked_tables = {ITEM_KINDS[kind][0]: kind for kind in kinds}
    summaries: list[KindSummary] = []
    for table_name in RAW_TABLES:
        source = raw_path(data_dir, table_name)
        target = out_dir / source.name
        for ext in ("csv", "parquet"):  # a stale file of the other format must not be read instead
            (out_dir / f"{table_name}.{ext}").unlink(missing_ok=True)
        if table_name not in masked_tables:
            shutil.copyfile(source, target)
            continue
        kind = masked_tables[table_name]
        masked, hidden, summary = split_table(read_raw(source), kind, fraction, seed)
        _write(masked, target)
        _write(hidden, out_dir / heldout_file(kind))
        summaries.append(summary)
    truth = data_dir / "truth"
    if truth.is_dir():
        shutil.copytree(truth, out_dir / "truth", dirs_exist_ok=True)
    manifest = {
        "source": str(data_dir.resolve()),
        "fraction": fraction,
        "seed": seed,
        "kinds": list(kinds),
        "summary": [asdict(s) | {"hidden_share": round(s.hidden_share, 4)} for s in summaries],
    }
    (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return summaries


def read_manifest(masked_dir: Path) -> dict:
    """The ``holdout.json`` of a masked folder (which kinds were hidden, with what fraction)."""
    path = Path(masked_dir) / MANIFEST
    if not path.exists():
        raise FileNotFoundError(f"{masked_dir} has no {MANIFEST}: run `python -m evaluation holdout` first")
    return json.loads(path.read_text())
