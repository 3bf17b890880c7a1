"""Printed tables, the one-line JSON summary and the JSON / CSV files for the docs."""
from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from evaluation.metrics import bucket_labels

METRIC_DECIMALS = 6  # metrics in result files (not scores: those are simcore.precision's)


def columns_for(rows: Iterable[Mapping[str, Any]], k: int) -> list[tuple[str, str]]:
    """(key, header) of the metrics present in any row, in a fixed reading order."""
    present = set().union(*(r.keys() for r in rows))
    wanted: list[tuple[str, str]] = [("method", "method")]
    wanted.append(("precision", f"P@{k}"))
    wanted += [("dprecision", "vs ref"), ("dprecision_ci", "±95%")]
    wanted += [(f"precision[{b}]", f"grp{b}") for b in bucket_labels()]
    wanted += [("hit_rate", f"hit@{k}"), ("dhit_rate", "vs ref"), ("dhit_rate_ci", "±95%"), ("recall", f"recall@{k}")]
    for kind in ("interests", "courses", "assessments"):
        wanted += [(f"recall[{kind}]", f"rec {kind}")]
    wanted += [("candidates", "items/user"), ("yield", "found/100 items")]
    return [(key, head) for key, head in wanted if key in present]


def _cell(value: Any, key: str = "") -> str:
    if value is None:
        return ""
    if key == "yield" and isinstance(value, float) and not math.isnan(value):
        return f"{100 * value:.2f}"
    if key.startswith("d") and key.endswith(("precision", "hit_rate")) and isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:+.3f}"
    if isinstance(value, float):
        return "-" if math.isnan(value) else (f"{value:.1f}" if abs(value) >= 10 else f"{value:.3f}")
    return str(value)


def format_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[tuple[str, str]]) -> str:
    """A plain fixed-width text table (also valid Markdown when ``markdown``-style pipes are wanted)."""
    cells = [[head for _, head in columns]] + [[_cell(r.get(key), key) for key, _ in columns] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    lines = []
    for n, row in enumerate(cells):
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths,
                                                                                                    strict=True))))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[tuple[str, str]]) -> str:
    """The same table in Markdown, for docs/analysis.md."""
    out = ["| " + " | ".join(head for _, head in columns) + " |",
           "|" + "|".join("---" if i == 0 else "---:" for i in range(len(columns))) + "|"]
    out += ["| " + " | ".join(_cell(r.get(key), key) for key, _ in columns) + " |" for r in rows]
    return "\n".join(out)


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, METRIC_DECIMALS)
    if isinstance(value, Mapping):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def json_line(payload: Mapping[str, Any]) -> str:
    """One line of JSON (NaN as null), for scripts that parse the command's output."""
    return json.dumps(_clean(dict(payload)), sort_keys=False)


def write_results(stem: Path, payload: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> list[Path]:
    """``<stem>.json`` (payload, rows included) and ``<stem>.csv`` (the rows)."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    json_path, csv_path = stem.with_suffix(".json"), stem.with_suffix(".csv")
    json_path.write_text(json.dumps(_clean(dict(payload)), indent=2) + "\n")
    keys: list[str] = []
    for row in rows:
        keys += [k for k in row if k not in keys]
    with open(csv_path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=keys)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _clean(v) for k, v in row.items()})
    return [json_path, csv_path]


def append_jsonl(path: Path, record: Mapping[str, Any]) -> None:
    """Append one result as it comes, so a long grid leaves its finished part on disk."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fh.write(json_line(record) + "\n")
