"""Shared by the province tests: a centre database per test, on SQLite (a copy of one migrated file, so a test
pays no migration) and on PostgreSQL (one scratch database per session, emptied before each test) when
EVALUATOR_TEST_PG_URL is set; without it the PostgreSQL runs skip."""
from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from centre.db.engine import open_engine
from centre.db.tables import metadata
from tests.centre.conftest import pg_url_or_skip, scratch_pg_database


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("province-template") / "centre.db"
    open_engine(f"sqlite:///{path}").dispose()
    return path


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    url = pg_url_or_skip()
    with scratch_pg_database(url) as scratch:
        open_engine(scratch).dispose()
        yield scratch


@pytest.fixture
def sqlite_db(sqlite_template: Path, tmp_path: Path) -> str:
    """A fresh centre database on SQLite: its URL."""
    path = tmp_path / "centre.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(params=("sqlite", "postgresql"))
def db_url(request: pytest.FixtureRequest) -> str:
    """A fresh centre database on each backend: its URL."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_db"))
    url = str(request.getfixturevalue("pg_url"))
    engine = open_engine(url, create=False)
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):   # children before the parents they refer to
            conn.execute(table.delete())
    engine.dispose()
    return url
