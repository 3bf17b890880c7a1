"""The failures a user causes are one line naming what to do (pipeline side; the server's port is in tests/server)."""
from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from pipeline.user_errors import UsageError, ensure_writable_folder, explain
from tests.conftest import FIXTURES, PROJECT_DIR, pipeline_env


def test_a_locked_sqlite_file_names_the_file_and_the_fix(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("begin exclusive")
    with pytest.raises(sqlite3.OperationalError) as caught:
        sqlite3.connect(db, timeout=0).execute("select 1 from sqlite_master").fetchall()
    holder.close()
    message = explain(caught.value, db)
    assert message.startswith(f"{db} is locked by another writer") and "then rerun" in message


def test_a_duckdb_file_held_by_another_process_names_the_holder(tmp_path: Path) -> None:
    path = tmp_path / "dev.duckdb"
    holder = subprocess.Popen([sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]);"
                               " print('open', flush=True); time.sleep(60)", str(path)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(duckdb.IOException) as caught:
            duckdb.connect(str(path), read_only=True)
    finally:
        holder.kill()
    message = explain(caught.value, tmp_path / "r.db")
    assert message.startswith(f"{path} is held by ") and f"(PID {holder.pid})" in message
    assert "open the warehouse read-only" in message and "\n" not in message


def test_other_errors_keep_their_own_text(tmp_path: Path) -> None:
    assert explain(ValueError("--top-k must be between 1 and 1000"), tmp_path) == "--top-k must be between 1 and 1000"


def test_a_folder_that_cannot_be_created_is_named_with_the_fix(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(UsageError, match=f"cannot create the SQLite folder {blocker / 'db'}: .*; pass --sqlite-path"):
        ensure_writable_folder(blocker / "db", "the SQLite", "pass --sqlite-path FILE in a writable folder")
    ensure_writable_folder(tmp_path / "a" / "b", "the SQLite", "unused")
    assert (tmp_path / "a" / "b").is_dir()


@pytest.mark.parametrize(("setting", "message"), [
    ("--sqlite-path", "cannot create the SQLite folder"),
    ("USER_SIM_WAREHOUSE_DIR", "cannot create the warehouse folder"),
])
def test_the_pipeline_reports_an_unwritable_location_in_one_line(tmp_path: Path, setting: str, message: str) -> None:
    blocker = tmp_path / "file"  # a file where a folder should be: no folder can be made below it
    blocker.write_text("not a folder")
    env = pipeline_env(tmp_path)
    args = ["--data-dir", str(FIXTURES / "hand_checked"), "--sqlite-path", str(tmp_path / "r.db")]
    if setting == "--sqlite-path":
        args[-1] = str(blocker / "sub" / "r.db")
    else:
        env[setting] = str(blocker / "warehouse")
    result = subprocess.run([sys.executable, "-m", "pipeline", *args], cwd=PROJECT_DIR, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(f"error: {message}"), result.stderr
    assert "Traceback" not in result.stdout + result.stderr
