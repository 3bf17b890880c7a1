"""Raw tables as normalised (user, item) pairs and sparse user x item matrices.

The evaluation reads the raw files, not the warehouse, so that it can score a
ranking of any kept run long after its warehouse was rebuilt. Handles and
items are parsed by the staging models' own rules (the dbt macros, rendered by
:mod:`contracts.staging_rules`), so the holdout step, the evaluation and the
pipeline agree on what "the same user" and "the same item" are.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import scipy.sparse as sp

from contracts.raw import RAW_TABLES
from contracts.staging_rules import rule_sql

__all__ = ["ITEM_KINDS", "RAW_TABLES", "ItemSets", "distinct_pairs", "heldout_file", "item_sets", "raw_path",
           "read_pairs", "read_raw", "row_pairs", "user_activity"]

# kind -> (raw table, item column, the staging macro that normalises the item)
ITEM_KINDS: dict[str, tuple[str, str, str]] = {
    "interests": ("user_interests", "interest_tag", "normalize_tag"),
    "courses": ("user_course_views", "course_id", "normalize_course_id"),
    "assessments": ("user_assessment_scores", "assessment_tag", "normalize_tag"),
}


def heldout_file(kind: str) -> str:
    """Name of the file the holdout step writes the hidden rows of ``kind`` to."""
    return f"heldout_{kind}.csv"


def raw_path(data_dir: Path, table: str) -> Path:
    """The CSV or Parquet file of ``table`` in ``data_dir`` (CSV preferred, as the pipeline does)."""
    for ext in ("csv", "parquet"):
        path = Path(data_dir) / f"{table}.{ext}"
        if path.exists():
            return path
    raise FileNotFoundError(f"{data_dir} has no {table}.csv or {table}.parquet")


def read_raw(path: Path) -> pa.Table:
    """Every column as a string, exactly as stored, so rewritten files lose nothing."""
    path = Path(path)
    if path.suffix == ".parquet":
        table = pq.read_table(path)
        return pa.table({name: pc.cast(table.column(name), pa.string()) for name in table.column_names})
    with open(path, newline="", encoding="utf-8") as fh:
        header = next(csv.reader(fh), [])
    return pacsv.read_csv(
        path,
        convert_options=pacsv.ConvertOptions(
            column_types={name: pa.string() for name in header},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )


def row_pairs(table: pa.Table, kind: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per raw row, in order: user handle, normalised item and whether the row is a usable (user, item).

    Usable means what staging keeps on these two columns: a positive integer
    handle and a non-empty item (other columns' rules do not change the pair).
    """
    _, item_column, normaliser = ITEM_KINDS[kind]
    con = duckdb.connect()
    try:
        con.register("raw_rows", table)
        parsed = con.sql(
            f"select {rule_sql('parse_handle', 'user_handle')} as handle,"
            f" {rule_sql(normaliser, item_column)} as item from raw_rows"
        ).to_arrow_table()
    finally:
        con.close()
    handles = np.asarray(pc.fill_null(parsed.column("handle"), 0).to_numpy(), dtype=np.int64)
    items = pc.fill_null(parsed.column("item"), "").to_numpy(zero_copy_only=False).astype(object)
    return handles, items, (handles > 0) & (items != "")


def read_pairs(path: Path, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (user, item) pairs of one raw file, sorted by user then item."""
    handles, items, valid = row_pairs(read_raw(path), kind)
    return distinct_pairs(handles[valid], items[valid])


def distinct_pairs(users: np.ndarray, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct (user, item) pairs."""
    if len(users) == 0:
        return np.zeros(0, np.int64), np.zeros(0, object)
    table = pa.table({"u": pa.array(users, pa.int64()), "i": pa.array(items, pa.string())})
    table = table.group_by(["u", "i"]).aggregate([]).sort_by([("u", "ascending"), ("i", "ascending")])
    return table.column("u").to_numpy(), table.column("i").to_numpy(zero_copy_only=False).astype(object)


@dataclass(frozen=True)
class ItemSets:
    """Visible and hidden items of one kind over one user universe and one item vocabulary."""

    kind: str
    users: np.ndarray  # sorted unique handles: the row order of both matrices
    visible: sp.csr_matrix  # (users, items) bool: what the pipeline saw
    hidden: sp.csr_matrix  # (users, items) bool: what the holdout step hid

    @property
    def n_items(self) -> int:
        return self.visible.shape[1]


def pair_matrix(universe: np.ndarray, users: np.ndarray, codes: np.ndarray, n_items: int) -> sp.csr_matrix:
    """Boolean CSR (len(universe), n_items); pairs of users outside the universe are dropped."""
    idx = np.searchsorted(universe, users)
    inside = (idx < len(universe)) & (universe[np.minimum(idx, len(universe) - 1)] == users) \
        if len(universe) else np.zeros(len(users), bool)
    data = np.ones(int(inside.sum()), dtype=bool)
    matrix = sp.csr_matrix((data, (idx[inside], codes[inside])), shape=(len(universe), n_items), dtype=bool)
    matrix.sum_duplicates()
    return matrix


def item_sets(
    kind: str,
    universe: np.ndarray,
    visible: tuple[np.ndarray, np.ndarray],
    hidden: tuple[np.ndarray, np.ndarray],
) -> ItemSets:
    """Both pair lists encoded on one vocabulary (sorted item names) and one user universe."""
    vocabulary = np.unique(np.concatenate([visible[1], hidden[1]]).astype(str))
    codes = [np.searchsorted(vocabulary, pairs[1].astype(str)) for pairs in (visible, hidden)]
    universe = np.asarray(universe, np.int64)
    return ItemSets(
        kind=kind,
        users=universe,
        visible=pair_matrix(universe, visible[0], codes[0], len(vocabulary)),
        hidden=pair_matrix(universe, hidden[0], codes[1], len(vocabulary)),
    )


def user_activity(data_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """(handles, activity): distinct interests + courses + assessments per user in ``data_dir``.

    The "most active users" baseline recommends these users to everyone.
    """
    handles: list[np.ndarray] = []
    for kind, (table, _, _) in ITEM_KINDS.items():
        try:
            users, _ = read_pairs(raw_path(data_dir, table), kind)
        except FileNotFoundError:
            continue
        handles.append(users)
    if not handles:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    users, counts = np.unique(np.concatenate(handles), return_counts=True)
    return users.astype(np.int64), counts.astype(np.int64)
