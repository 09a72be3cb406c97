"""Which stores this release opens, and the Alembic migration that brings an older one up to date.

The version is read without writing (not even WAL mode), so a tool that only reads never stamps a
stranger's file, and a store already at SCHEMA_HEAD opens without importing Alembic.
"""
from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy import Engine

from kiosk.store.errors import StorageError

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"

# The newest migration in kiosk/store/migrations/versions (a test holds the two together). A store already
# at it opens without importing Alembic, which is a third of the terminal's own start-up time.
# Revisions are numbered "0001", "0002", … so that a release can tell a newer store from a foreign one.
SCHEMA_HEAD = "0005"
# The oldest schema whose software can still read and write a store at SCHEMA_HEAD, kept in the file's
# header (PRAGMA user_version) by the migration. It is what lets `evaluator upgrade` roll back: a new
# release migrates the store at its first start, and if it then fails its health check the previous
# release must open that store again. A migration that only adds (a table, an index, a nullable
# column) leaves this alone; one that an older release would write wrongly (a NOT NULL column it
# does not fill, a changed hash) moves it to its own revision, and a rollback past it stops with a
# StorageError that says so instead of writing ratings an older release cannot get right.
SCHEMA_COMPATIBLE_FROM = "0004"

T = TypeVar("T")


def _alembic_config() -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def read_only(path: Path, query: Callable[[sqlite3.Connection], T]) -> T:
    """Run `query` on a read-only connection of its own, outside the store's lock and transactions."""
    raw = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return query(raw)
    finally:
        raw.close()


def migrate(engine: Engine, path: Path) -> None:
    """Create the schema, or upgrade it to SCHEMA_HEAD (the terminal, at its start)."""
    version = schema_version(path)
    if version == SCHEMA_HEAD or _usable_newer(path, version):
        return
    from alembic import command
    from alembic.util import CommandError

    config = _alembic_config()
    with engine.connect() as conn:
        # One transaction for the whole upgrade: a power cut mid-migration
        # leaves the old schema, never half of the new one.
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        config.attributes["connection"] = conn
        try:
            command.upgrade(config, "head")
        except CommandError as exc:
            conn.exec_driver_sql("ROLLBACK")
            raise StorageError(f"{path}: cannot upgrade the schema: {exc}") from None
        conn.exec_driver_sql(f"PRAGMA user_version = {int(SCHEMA_COMPATIBLE_FROM)}")
        conn.exec_driver_sql("COMMIT")


def check(path: Path) -> None:
    """Refuse a file that is not this release's store, before anything (even WAL mode) is written."""
    version = schema_version(path)
    if version is None:
        raise StorageError(f"{path}: not a rating store (no schema version)")
    if version != SCHEMA_HEAD and not _usable_newer(path, version):
        raise StorageError(f"{path}: schema version {version} is not this software's ({SCHEMA_HEAD}); "
                           "start the terminal of the matching release once")


def schema_version(path: Path) -> str | None:
    """The store's Alembic revision; None for a new or foreign file. A missing file stays missing: the
    terminal's own migration creates it."""
    if not path.exists():
        return None

    def read(raw: sqlite3.Connection) -> str | None:
        found = raw.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'")
        if not found.fetchone():
            return None
        version: tuple[str] | None = raw.execute("SELECT version_num FROM alembic_version").fetchone()
        return version[0] if version else None

    return read_only(path, read)


def _usable_newer(path: Path, version: str | None) -> bool:
    """True for a store that a newer release migrated and declared usable by this one (opened as it
    is, never downgraded); a StorageError naming both releases' schemas for one it declared not."""
    if version is None or not version.isdigit() or int(version) <= int(SCHEMA_HEAD):
        return False
    compatible_from: int = read_only(path, lambda raw: raw.execute("PRAGMA user_version").fetchone()[0])
    if 0 < compatible_from <= int(SCHEMA_HEAD):
        log.warning("%s: schema %s is from a newer release, which keeps it usable from schema %04d on; "
                    "this release (schema %s) uses it as it is", path, version, compatible_from, SCHEMA_HEAD)
        return True
    needs = (f"it needs schema {compatible_from:04d} or later" if compatible_from
             else "it does not say that an older release can use it")
    raise StorageError(f"{path}: schema {version} was written by a newer release and {needs}; "
                       f"this release has schema {SCHEMA_HEAD}: install the newer release again "
                       "(evaluator upgrade WHEEL)")
