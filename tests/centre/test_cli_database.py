"""Only `evaluator centre serve` creates a database: every other command refuses one that is not there.

Run as an office would: `python -m evaluator.cli centre …` from a folder of its own, on real SQLite files
and, with EVALUATOR_TEST_PG_URL, on a real PostgreSQL database of the test's own, created empty.
"""
from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import make_url

from centre.db.engine import DEFAULT_DB_URL, open_engine
from centre.db.tables import metadata
from tests.centre.conftest import pg_url_or_skip, scratch_pg_database

COMMANDS = {
    "enroll-code": ["enroll-code", "--unit", "u-1", "--counter", "c-1"],
    "summary": ["summary", "--unit", "u-1", "--date", "2026-11-25"],
    "callbacks": ["callbacks", "--unit", "u-1", "--date", "2026-11-25"],
    "integrity": ["integrity"],
    "roster": ["roster", "--unit", "u-1", "--file", "ROSTER"],
    "staff": ["staff", "list", "--unit", "u-1"],
    "revoke": ["revoke", "dev-1"],
    "token": ["token", "list"],
    "unit": ["unit", "list"],
    "counter": ["counter", "add", "--unit", "u-1", "--id", "c-1", "--name", "1号窗口"],
    "device": ["device", "move", "dev-1", "--to", "u-1/c-1"],
    "indicators": ["indicators", "--unit", "u-1", "--period", "month", "--date", "2026-11-25"],
    "rollup": ["rollup", "rebuild"],
    "user": ["user", "list"],
    "duty": ["duty", "list"],
    "calendar": ["calendar", "show", "--year", "2026"],
    "digest": ["digest", "verify", "--day", "2026-11-25"],
    "province": ["province", "check", "--since", "2026-11-25"],
}


def centre(folder: Path, roster: Path, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [str(roster) if arg == "ROSTER" else arg for arg in args]
    return subprocess.run([sys.executable, "-m", "evaluator.cli", "centre", *argv], cwd=folder,
                          capture_output=True, text=True, timeout=60)


@pytest.fixture
def roster(tmp_path: Path) -> Path:
    path = tmp_path / "roster" / "staff.yaml"
    path.parent.mkdir()
    path.write_text("- {id: s-1, name: 张三}\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("command", COMMANDS)
def test_a_command_run_from_another_folder_refuses_the_missing_default_database(
        tmp_path: Path, roster: Path, command: str) -> None:
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    done = centre(folder, roster, *COMMANDS[command])
    assert done.returncode == 2, done.stdout + done.stderr
    expected = folder / DEFAULT_DB_URL.removeprefix("sqlite:///")
    assert (f"error: no centre database at {expected} (run `evaluator centre migrate --db {DEFAULT_DB_URL}` "
            "first, or give --db)") in done.stderr
    assert done.stdout == ""
    assert list(folder.iterdir()) == []   # no file, no folder


def test_a_database_in_a_missing_folder_is_not_created(tmp_path: Path, roster: Path) -> None:
    target = tmp_path / "no" / "such" / "centre.db"
    done = centre(tmp_path, roster, "summary", "--unit", "u-1", "--db", f"sqlite:///{target}")
    assert done.returncode == 2
    assert f"no centre database at {target} " in done.stderr
    assert not (tmp_path / "no").exists()


def test_a_sqlite_file_without_the_centres_tables_is_refused_and_left_alone(tmp_path: Path, roster: Path) -> None:
    target = tmp_path / "other.db"
    with sqlite3.connect(target) as conn:
        conn.execute("CREATE TABLE notes (text TEXT)")
    done = centre(tmp_path, roster, "integrity", "--db", f"sqlite:///{target}")
    assert done.returncode == 2
    assert "none of the centre's tables" in done.stderr and "no devices" not in done.stdout
    with sqlite3.connect(target) as conn:
        assert [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")] == ["notes"]


def test_a_database_that_serve_created_is_used(tmp_path: Path, roster: Path) -> None:
    url = f"sqlite:///{tmp_path / 'centre.db'}"
    open_engine(url).dispose()   # what `serve` does first
    done = centre(tmp_path, roster, "integrity", "--db", url)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "no devices enrolled"


def test_every_command_but_serve_is_checked_here() -> None:
    """A new command belongs in COMMANDS (it must refuse too) unless it is allowed to create: `serve`,
    `migrate`, and `demo`, which builds a city in a database of its own (tests/centre/test_demo.py)."""
    from centre.cli import build_parser

    _, handlers = build_parser()   # every command's
    assert set(handlers) - {"serve", "migrate", "demo"} == set(COMMANDS)


@pytest.fixture
def empty_pg_database() -> Iterator[str]:
    url = pg_url_or_skip()
    with scratch_pg_database(url) as database:   # CREATE DATABASE: empty, the test's own
        yield database


@pytest.mark.parametrize("command", ["summary", "enroll-code", "integrity"])
def test_an_empty_postgresql_database_is_refused_and_gets_no_tables(
        tmp_path: Path, roster: Path, empty_pg_database: str, command: str) -> None:
    done = centre(tmp_path, roster, *COMMANDS[command], "--db", empty_pg_database)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "error: no centre database at postgresql" in done.stderr
    assert "none of the centre's tables" in done.stderr
    password = make_url(empty_pg_database).password
    assert not password or f":{password}@" not in done.stderr   # the URL is shown without its password
    engine = create_engine(empty_pg_database)
    try:
        assert inspect(engine).get_table_names() == []
    finally:
        engine.dispose()
    assert metadata.tables   # the centre has tables; the database got none of them
