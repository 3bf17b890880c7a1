"""The raw tables as the original system wrote them, and writing them safely.

Column names and order come from :mod:`contracts.raw` (dbt's ``_sources.yml``);
this module adds only their Arrow types and the original CSV quoting. Both
generators hand :func:`write_dataset` a course-tag table and a stream of user
chunks, so the file format lives here once.
"""
from __future__ import annotations

import functools
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from contracts.raw import RAW_TABLES, expected_columns

IntArray = npt.NDArray[np.int64]

ASSESSMENTS = "user_assessment_scores"
COURSE_TAGS = "course_tags"
VIEWS = "user_course_views"
INTERESTS = "user_interests"
TABLES: tuple[str, ...] = RAW_TABLES
TRUTH_FILE = Path("truth") / "user_groups.csv"
FORMATS = ("csv", "parquet")

# Numbers are written bare, everything else as text (the original export's types).
_INTEGER_COLUMNS = frozenset({"user_handle", "author_handle", "user_assessment_score", "view_time_seconds"})
SCHEMAS: dict[str, pa.Schema] = {
    table: pa.schema([(c, pa.int64() if c in _INTEGER_COLUMNS else pa.string()) for c in columns])
    for table, columns in expected_columns().items()
}
# Original files double-quote every string (and header) in these two tables
# and quote nothing in the other two; arrow's "needed" style does exactly the
# former (strings quoted, numbers bare).
QUOTED_TABLES = frozenset({ASSESSMENTS, COURSE_TAGS})

# The real sample's observed calendar.
START_DAY = int(np.datetime64("2016-07-13", "D").astype(np.int64))  # first observed date
END_DAY = int(np.datetime64("2017-11-28", "D").astype(np.int64))  # last observed date (inclusive)
N_DAYS = END_DAY - START_DAY + 1
SECONDS_PER_DAY = 86_400

Chunk = tuple[dict[str, pa.Table], pa.Table]  # the three user tables of a chunk, and its truth rows


@functools.cache
def _calendar_strings() -> tuple[pa.Array, pa.Array]:
    """Lookup tables of every 'YYYY-MM-DD' in range and every 'HH:MM:SS' of a day.

    Formatting by ``take`` from these is ~10x faster than ``pc.strftime``.
    """
    days = np.arange(START_DAY, END_DAY + 1).astype("datetime64[D]")
    sod = np.arange(SECONDS_PER_DAY)
    times = [f"{h:02d}:{m:02d}:{x:02d}" for h, m, x in zip(sod // 3600, sod // 60 % 60, sod % 60, strict=False)]
    return pa.array(days.astype(str).tolist(), pa.string()), pa.array(times, pa.string())


def dates(days: IntArray) -> pa.Array:
    """'YYYY-MM-DD' strings from epoch days (all within START_DAY..END_DAY)."""
    return _calendar_strings()[0].take(pa.array(days - START_DAY))


def timestamps(seconds: IntArray) -> pa.Array:
    """'YYYY-MM-DD HH:MM:SS' strings from epoch seconds (the original text format)."""
    day, sod = np.divmod(seconds, SECONDS_PER_DAY)
    clock = _calendar_strings()[1].take(pa.array(sod))
    return pc.binary_join_element_wise(dates(day), clock, " ")


class _Sink:
    """Appends arrow tables to one CSV (original quoting) or Parquet file."""

    def __init__(self, path: Path, schema: pa.Schema, fmt: str, quoted: bool) -> None:
        self.rows = 0
        self._file = open(path, "wb")  # noqa: SIM115 - closed in close()
        self._writer: pacsv.CSVWriter | pq.ParquetWriter
        if fmt == "parquet":
            self._writer = pq.ParquetWriter(self._file, schema)
        elif quoted:
            opts = pacsv.WriteOptions(quoting_style="needed")
            self._writer = pacsv.CSVWriter(self._file, schema, write_options=opts)
        else:
            self._file.write((",".join(schema.names) + "\n").encode())
            opts = pacsv.WriteOptions(include_header=False, quoting_style="none")
            self._writer = pacsv.CSVWriter(self._file, schema, write_options=opts)

    def write(self, table: pa.Table) -> None:
        """Append one chunk."""
        self.rows += table.num_rows
        if table.num_rows:
            self._writer.write_table(table)

    def close(self) -> None:
        """Flush and close (also after an error, so the temp dir can be removed)."""
        try:
            self._writer.close()
        finally:
            self._file.close()


def table_paths(out_dir: Path, fmt: str) -> dict[str, Path]:
    """Where each table of format ``fmt`` lives under ``out_dir``."""
    return {name: out_dir / f"{name}.{fmt}" for name in TABLES}


def _existing_outputs(out_dir: Path) -> list[Path]:
    """Generated files already in ``out_dir`` (either format, plus the truth file)."""
    candidates = [p for fmt in FORMATS for p in table_paths(out_dir, fmt).values()]
    candidates.append(out_dir / TRUTH_FILE)
    return [p for p in candidates if p.exists()]


def _write_tables(tmp: Path, fmt: str, course_tags: pa.Table, chunks: Iterable[Chunk]) -> dict[str, int]:
    """Write every table and the truth file into ``tmp``; returns row counts."""
    (tmp / TRUTH_FILE.parent).mkdir()
    paths = table_paths(tmp, fmt)
    sinks: dict[str, _Sink] = {}
    try:
        for name in TABLES:
            sinks[name] = _Sink(paths[name], SCHEMAS[name], fmt, name in QUOTED_TABLES)
        sinks[COURSE_TAGS].write(course_tags.select(list(SCHEMAS[COURSE_TAGS].names)).cast(SCHEMAS[COURSE_TAGS]))
        truth_sink: _Sink | None = None
        for tables, truth in chunks:
            for name, table in tables.items():
                sinks[name].write(table.select(list(SCHEMAS[name].names)).cast(SCHEMAS[name]))
            if truth_sink is None:
                truth_sink = _Sink(tmp / TRUTH_FILE, truth.schema, "csv", quoted=False)
                sinks["truth"] = truth_sink
            truth_sink.write(truth)
    finally:
        for sink in sinks.values():
            sink.close()
    return {name: sinks[name].rows for name in TABLES}


def write_dataset(
    out_dir: Path, fmt: str, force: bool, build: Callable[[], tuple[pa.Table, Iterable[Chunk]]]
) -> dict[str, int]:
    """Write the four raw tables and the truth file into ``out_dir``; return row counts.

    Everything is written to a temporary sibling folder first, so an interrupted run
    never leaves half-written tables in ``out_dir``. If ``out_dir`` already holds
    generated files, raise ``FileExistsError`` unless ``force`` (which also removes
    tables of the other format, so stale data cannot be read by mistake).
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    out_dir = Path(out_dir).absolute()
    existing = _existing_outputs(out_dir) if out_dir.is_dir() else []
    if existing and not force:
        names = ", ".join(str(p.relative_to(out_dir)) for p in existing)
        raise FileExistsError(
            f"{out_dir} already contains generated data ({names}); use --force (force=True) to overwrite"
        )
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    try:
        course_tags, chunks = build()
        counts = _write_tables(tmp, fmt, course_tags, chunks)
        if out_dir.is_dir() and not any(out_dir.iterdir()):
            out_dir.rmdir()
        if not out_dir.exists():
            os.rename(tmp, out_dir)  # one atomic step
        else:
            # DIR holds other files: move ours in one by one (each replace is atomic,
            # so every table is always either the old or the new complete file), then
            # drop the other format's tables so stale data cannot be read by mistake.
            (out_dir / TRUTH_FILE.parent).mkdir(exist_ok=True)
            new = [*table_paths(tmp, fmt).values(), tmp / TRUTH_FILE]
            for path in new:
                os.replace(path, out_dir / path.relative_to(tmp))
            for stale in table_paths(out_dir, next(f for f in FORMATS if f != fmt)).values():
                stale.unlink(missing_ok=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return counts
