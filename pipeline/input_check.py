"""Check the structure of the four raw files before dbt reads them.

Row-level dirt (a bad date, a negative view time, a duplicate) is the
staging models' job: they clean or drop such rows and count them in the
audit models. What this module catches is a file the models cannot read
faithfully: empty, not comma-separated, a required column missing, a line
with too few or too many fields (a truncated file), bytes that are not UTF-8.
Any of these stops the run before anything is built or published, with one
message per problem naming the file, the line and the column. A file with a
header and no rows is allowed: it says the table is not available (its signal
is left out), which is different from an empty file.

Columns are matched by name, so their order does not matter; extra columns
are ignored (and reported). The expected columns and the CSV reader's options
come from the `raw` source in models/staging/_sources.yml (contracts.raw),
the one place they are written, so this check parses a file as dbt will.
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from contracts.raw import RAW_TABLES, csv_options, expected_columns

__all__ = ["RAW_TABLES", "FileCheck", "InputError", "check_inputs"]

MAX_PROBLEMS_PER_FILE = 3  # a broken export repeats one problem on every line: show the first few
_OTHER_DELIMITERS = (";", "\t", "|")


class InputError(ValueError):
    """The raw files cannot be read faithfully; ``problems`` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("raw input rejected, nothing was built or published:\n  " + "\n  ".join(problems))


@dataclass
class FileCheck:
    """What the check learned about one raw file."""

    table: str
    path: Path
    columns: list[str] = field(default_factory=list)  # the header's columns, in file order
    ignored: list[str] = field(default_factory=list)  # extra columns, as the header names them
    rows: int = 0
    problems: list[str] = field(default_factory=list)


def check_inputs(data_dir: Path, fmt: str) -> dict[str, FileCheck]:
    """Check every raw file of ``data_dir``; raises :class:`InputError` listing all problems."""
    checks = {
        table: (_check_csv if fmt == "csv" else _check_parquet)(table, data_dir / f"{table}.{fmt}", columns)
        for table, columns in expected_columns().items()
    }
    problems = [p for c in checks.values() for p in c.problems]
    if problems:
        raise InputError(problems)
    return checks


def _check_csv(table: str, path: Path, expected: tuple[str, ...]) -> FileCheck:
    check = FileCheck(table, path)
    name = path.name
    with path.open("rb") as handle:
        first = handle.readline()
    if not first.strip():
        check.problems.append(
            f"{name}: the file is empty; expected a header line with the columns {', '.join(expected)}")
        return check
    try:
        header_text = first.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        check.problems.append(f"{name} line 1 (header): byte 0x{first[exc.start]:02x} is not UTF-8;"
                              " the file must be UTF-8 encoded")
        return check
    header = [c.strip() for c in next(csv.reader([header_text.rstrip("\r\n")]))]
    if len(header) == 1 and len(expected) > 1:
        found = next((d for d in _OTHER_DELIMITERS if d in header[0]), None)
        why = f"it looks {found!r}-separated" if found else "it has a single column"
        check.problems.append(f"{name} line 1 (header): not comma-separated ({why}); expected the columns "
                              f"{', '.join(expected)} separated by ','")
        return check
    repeated = sorted({c for c in header if header.count(c) > 1})
    if repeated:
        check.problems.append(f"{name} line 1 (header): column(s) {', '.join(repeated)} appear more than once")
    missing = [c for c in expected if c not in header]
    if missing:
        check.problems.append(f"{name} line 1 (header): missing column(s) {', '.join(missing)}"
                              f" (the header has {', '.join(header)})")
    if check.problems:
        return check
    check.ignored = [c for c in header if c not in expected]
    check.columns = header
    _check_csv_body(check)
    return check


def _check_csv_body(check: FileCheck) -> None:
    """Parse every line as dbt will (same reader, same options) and name the lines it rejects."""
    name = check.path.name
    columns = ", ".join(f"'{c}': 'VARCHAR'" for c in check.columns)
    con = duckdb.connect()
    try:
        con.execute("set threads = 1")
        # dbt's options with the header's columns given and no sniffing; count(columns(*)) decodes every value
        rows = con.sql(
            f"select count(*), count(columns(*)) from read_csv(?, {csv_options()}, auto_detect = false,"
            f" columns = {{{columns}}}, store_rejects = true)",
            params=[str(check.path)],
        ).fetchall()[0][0]
        rejects = con.sql(
            "select line, column_name, error_type, error_message from reject_errors order by line"
        ).fetchall()
    finally:
        con.close()
    check.rows = int(rows)
    ends_mid_line = bool(rejects) and _ends_mid_line(check.path)
    last_line = _line_count(check.path) if ends_mid_line else -1
    for line, column, error_type, message in rejects[:MAX_PROBLEMS_PER_FILE]:
        where = f"{name} line {line}" + (f", column {column}" if column else "")
        check.problems.append(f"{where}: {_describe(error_type, message, line == last_line and ends_mid_line)}")
    if len(rejects) > MAX_PROBLEMS_PER_FILE:
        check.problems.append(f"{name}: {len(rejects) - MAX_PROBLEMS_PER_FILE} more line(s) with problems")


def _describe(error_type: str, message: str, truncated: bool) -> str:
    if error_type == "INVALID ENCODING":
        return "not valid UTF-8; the file must be UTF-8 encoded"
    counts = re.findall(r"\d+", message)
    found = f"{counts[1]} of {counts[0]}" if len(counts) == 2 else message
    if error_type == "MISSING COLUMNS":
        cause = "the file ends in the middle of this line (truncated?)" if truncated else "a field is missing"
        return f"too few fields ({found}); {cause}"
    if error_type == "TOO MANY COLUMNS":
        return f"too many fields ({found}); an unquoted ',' inside a value?"
    if error_type == "UNQUOTED VALUE":
        return "a quote is opened but never closed" + (" (the file is truncated?)" if truncated else "")
    return f"{error_type.lower()}: {message}"


def _ends_mid_line(path: Path) -> bool:
    with path.open("rb") as handle:
        handle.seek(0, 2)
        if handle.tell() == 0:
            return False
        handle.seek(-1, 2)
        return handle.read(1) not in (b"\n", b"\r")


def _line_count(path: Path) -> int:
    """Lines in the file, a last line without its newline included."""
    count, last = 0, b"\n"
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            count += chunk.count(b"\n")
            last = chunk[-1:]
    return count + (last != b"\n")


def _check_parquet(table: str, path: Path, expected: tuple[str, ...]) -> FileCheck:
    check = FileCheck(table, path)
    con = duckdb.connect()
    try:
        described = con.sql("select column_name from (describe select * from read_parquet(?))",
                            params=[str(path)]).fetchall()
        check.rows = int(con.sql("select count(*) from read_parquet(?)", params=[str(path)]).fetchall()[0][0])
    except duckdb.Error as exc:
        check.problems.append(f"{path.name}: not a readable Parquet file ({str(exc).splitlines()[0]})")
        return check
    finally:
        con.close()
    header = [r[0] for r in described]
    missing = [c for c in expected if c not in header]
    if missing:
        check.problems.append(f"{path.name}: missing column(s) {', '.join(missing)} (it has {', '.join(header)})")
    check.ignored = [c for c in header if c not in expected]
    return check
