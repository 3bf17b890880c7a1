"""One-line messages, each naming what to do, for the failures a user causes.

A locked file, a folder that cannot be written and similar environment
problems surface deep in sqlite3, DuckDB or the OS as errors that name neither
the flag nor the fix; the CLI prints these lines instead.
"""
from __future__ import annotations

import errno
import os
import re
import sqlite3
from pathlib import Path

import duckdb


class UsageError(Exception):
    """A problem the user can fix; its message is the whole report."""


def ensure_writable_folder(folder: Path, what: str, remedy: str) -> None:
    """Create ``folder`` if needed and check it is writable, before the run records anything in it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create {what} folder {folder}: {exc.strerror}; {remedy}") from exc
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f"{what} folder {folder} is not writable; {remedy}")


def explain(exc: BaseException, sqlite_file: Path) -> str:
    """The message to print for ``exc``: a translation for known environment failures, else its text."""
    text = str(exc)
    if isinstance(exc, sqlite3.OperationalError) and "locked" in text:
        return (f"{sqlite_file} is locked by another writer (a sqlite3 shell inside a transaction?):"
                " end that transaction or close it, then rerun")
    if isinstance(exc, duckdb.IOException) and "lock" in text.lower():
        holder = re.search(r'file "([^"]+)": Conflicting lock is held in (.+?\(PID \d+\))', text)
        where = f"{holder.group(1)} is held by {holder.group(2)}" if holder else "a DuckDB file is in use elsewhere"
        return f"{where}: close that connection (analysts: open the warehouse read-only), then rerun"
    if isinstance(exc, OSError) and exc.errno in (errno.EACCES, errno.EROFS, errno.ENOSPC) and exc.filename:
        return f"cannot write {exc.filename}: {exc.strerror}; free space or pick a writable location, then rerun"
    return text
