"""Which databases this release of the centre opens, and the Alembic migrations that bring an older (or an
empty) one to SCHEMA_HEAD: `evaluator centre migrate`.

Revisions are numbered "0001", "0002", … (tests/centre/test_migrations.py holds them in order and the
constant to the newest), so that a release tells a database behind it (migrate) from one a newer release
wrote (refused: nothing is ever downgraded) and from a stranger's. 0001 is the schema of the collector's
last release, whose databases carry no version: one with its tables and no alembic_version is at 0001.

Reading the version needs no Alembic, so a database already at SCHEMA_HEAD opens without importing it.
"""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.exc import DBAPIError

from centre.errors import CentreError

MIGRATIONS = Path(__file__).parent / "migrations"

# The newest revision in centre/db/migrations/versions: a new migration moves it too (a test says so).
SCHEMA_HEAD = "0013"
# The collector's last release: its tables, which such a database has without any alembic_version.
BASELINE = "0001"
BASELINE_TABLES = frozenset({"enroll_codes", "devices", "ratings", "reasons", "events", "callbacks", "nonces",
                             "conflicts"})
VERSION_TABLE = "alembic_version"
# Two processes upgrading one PostgreSQL database at once (two `serve`s starting on a new database, a
# `migrate` beside them) take turns on this advisory lock; on SQLite, BEGIN IMMEDIATE does the same.
_PG_LOCK_KEY = 0x63656E747265   # "centre"


class SchemaMismatch(CentreError):
    """The database's schema is not this release's: behind it, written by a newer release, or foreign."""


def version(conn: Connection) -> str | None:
    """The database's revision: None for one without the centre's tables (empty, new), BASELINE for a
    database of the collector's last release (its tables, no version)."""
    names = set(inspect(conn).get_table_names())
    if VERSION_TABLE in names:
        row = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).first()
        if row is not None:
            return str(row[0])
    return BASELINE if names & BASELINE_TABLES else None


def behind(found: str | None) -> bool:
    """True for a database the migrations can bring to SCHEMA_HEAD: none yet, or an older revision of ours."""
    return found is None or (len(found) == 4 and found.isdigit() and found < SCHEMA_HEAD)


def mismatch(found: str | None, shown_url: str) -> SchemaMismatch | None:
    """Why a database at revision `found` cannot be used as it is (None: it can, or it has no schema yet)."""
    if found is None or found == SCHEMA_HEAD:
        return None
    if behind(found):
        return SchemaMismatch(f"database schema is at {found}, the code needs {SCHEMA_HEAD}: "
                              f"run `evaluator centre migrate --db {shown_url}`")
    if len(found) == 4 and found.isdigit():
        return SchemaMismatch(f"database schema is at {found}, newer than this release's {SCHEMA_HEAD}: a newer "
                              "release of the centre wrote it, and a database is never downgraded; run that "
                              "release (or restore the backup taken before it migrated)")
    return SchemaMismatch(f"the database at {shown_url} has the schema revision {found!r}, which is not the "
                          f"centre's (0001 to {SCHEMA_HEAD}): is it another application's database?")


def check(engine: Engine, shown_url: str, *, create: bool) -> None:
    """Refuse a database this release cannot use as it is; with `create` (serve), give a database without
    the centre's schema (empty, new) every table by running the migrations."""
    with engine.connect() as conn:
        found = version(conn)
    if found is None and create:
        upgrade(engine, shown_url)
        return
    problem = mismatch(found, shown_url)
    if problem is not None:
        raise problem


def upgrade(engine: Engine, shown_url: str) -> tuple[str | None, str]:
    """Create the schema or upgrade it to SCHEMA_HEAD; (the revision it was at, SCHEMA_HEAD).

    One transaction for the whole upgrade, on SQLite and PostgreSQL alike (both have transactional DDL):
    a failure, or a power cut, leaves the database as it was, never half migrated.
    """
    from alembic import command
    from alembic.config import Config
    from alembic.util import CommandError

    with engine.connect() as conn:
        _lock(conn)
        found = version(conn)      # again, inside the lock: another process may have migrated meanwhile
        if found == SCHEMA_HEAD:
            return found, SCHEMA_HEAD
        problem = mismatch(found, shown_url)
        if problem is not None and not behind(found):
            raise problem
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = conn
        try:
            command.upgrade(config, "head")
        except (CommandError, DBAPIError) as exc:
            conn.rollback()
            detail = exc.orig if isinstance(exc, DBAPIError) else exc
            raise SchemaMismatch(f"cannot upgrade the database at {shown_url} from schema {found or 'none'} "
                                 f"to {SCHEMA_HEAD} (nothing was changed): {detail}") from None
        conn.commit()
    return found, SCHEMA_HEAD


def _lock(conn: Connection) -> None:
    """Begin the upgrade's transaction holding the database's write lock until it commits."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    elif conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
