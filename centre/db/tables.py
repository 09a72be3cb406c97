"""The centre's tables (SQLAlchemy Core) and the engine that holds them.

Portable on purpose: any SQLAlchemy URL works (SQLite by default, PostgreSQL
in a city's data centre), so no dialect-specific SQL appears anywhere. Times
are stored as fixed-width UTC ISO 8601 text (`contract.iso_utc`), which
sorts and compares as text on every backend; nonces keep Unix seconds because
they are only ever compared with the signing window.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from operator import itemgetter
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Connection,
    Engine,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    UniqueConstraint,
    create_engine,
    event,
    inspect,
)
from sqlalchemy.engine import make_url

from centre.db import schema
from centre.errors import CentreError
from contract import iso_utc

# Named before the collector became the centre; kept, so an installed centre finds its data where it left it.
DEFAULT_DB_URL = "sqlite:///var/collector.db"

metadata = MetaData()

enroll_codes = Table(
    "enroll_codes", metadata,
    Column("code", String(64), primary_key=True),
    Column("unit_id", String, nullable=False),
    Column("unit_name", String, nullable=False),
    Column("unit_timezone", String, nullable=False),
    Column("counter_id", String, nullable=False),
    Column("counter_name", String, nullable=False),
    Column("unit_name_en", String),         # None: the centre has no English name (the terminal shows `unit_name`)
    Column("counter_name_en", String),
    Column("created_at", String(32), nullable=False),
    Column("expires_at", String(32), nullable=False),
    Column("used_at", String(32)),
    Column("device_id", String),
)

devices = Table(
    "devices", metadata,
    Column("id", String, primary_key=True),
    Column("secret", String, nullable=False),
    Column("unit_id", String, nullable=False, index=True),
    Column("unit_name", String, nullable=False),
    Column("unit_timezone", String, nullable=False),
    Column("counter_id", String, nullable=False),
    Column("counter_name", String, nullable=False),
    Column("unit_name_en", String),
    Column("counter_name_en", String),
    Column("staff", JSON, nullable=False, default=list),
    Column("app_version", String),
    Column("enrolled_at", String(32), nullable=False),
    Column("revoked_at", String(32)),
    Column("last_heartbeat", JSON),
    Column("last_seen", String(32)),
)

ratings = Table(
    "ratings", metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    # every field of contract.RatingRecord (contract.RATING_FIELDS), exactly as sent; tests/contract checks it
    Column("uuid", String(36), nullable=False, unique=True),
    Column("seq", BigInteger, nullable=False),
    Column("device_id", String, nullable=False),
    Column("unit_id", String, nullable=False),
    Column("counter_id", String, nullable=False),
    Column("staff_id", String),
    Column("case_no", String(40)),
    Column("level", Integer, nullable=False),
    Column("channel", String, nullable=False),
    Column("mode", String, nullable=False),
    Column("recorded_at", String, nullable=False),
    Column("mono_ns", BigInteger, nullable=False),
    Column("boot_id", String, nullable=False),
    Column("clock_suspect", Boolean, nullable=False),
    Column("app_version", String, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    # the centre's own view. Where a rating counts is the centre's knowledge, never the row's claim:
    # `delivered_by` is the enrolled device that signed the batch (the chain check runs per delivering
    # device), `placed_*` its placement from enrollment at ingest (what reports group by).
    Column("delivered_by", String, nullable=False),
    Column("placed_unit_id", String, nullable=False),
    Column("placed_counter_id", String, nullable=False),
    Column("before_enrollment", Boolean, nullable=False, default=False),   # in the chain before the device's id
    Column("placement_differs", Boolean, nullable=False, default=False),   # claimed unit/counter ≠ placement
    Column("received_at", String(32), nullable=False),
    Column("sent_at", String, nullable=False),
    Column("corrected_at", String(32)),
    Column("counted_at", String(32), nullable=False),   # corrected_at or recorded_at, in UTC: what reports use
    Column("clock_corrected", Boolean, nullable=False, default=False),
    Column("conflict", Boolean, nullable=False, default=False),
    Index("ix_ratings_delivered_seq", "delivered_by", "seq"),
    Index("ix_ratings_placed_unit_counted", "placed_unit_id", "counted_at"),
)

reasons = Table(
    "reasons", metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("device_id", String, ForeignKey("devices.id"), nullable=False),
    Column("id", BigInteger, nullable=False),          # the device's row id
    Column("rating_uuid", String, nullable=False, index=True),
    Column("code", String, nullable=False),
    Column("recorded_at", String, nullable=False),
    Column("received_at", String(32), nullable=False),
    UniqueConstraint("device_id", "id", name="uq_reasons_device_row"),
)

events = Table(
    "events", metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("device_id", String, ForeignKey("devices.id"), nullable=False),
    Column("id", BigInteger, nullable=False),          # the device's row id
    Column("kind", String, nullable=False),
    Column("recorded_at", String, nullable=False),
    Column("mono_ns", BigInteger, nullable=False),
    Column("boot_id", String, nullable=False),
    Column("detail", JSON, nullable=False),
    Column("received_at", String(32), nullable=False),
    Column("counted_at", String(32), nullable=False),   # recorded_at corrected by the batch's clock skew
    UniqueConstraint("device_id", "id", name="uq_events_device_row"),
    Index("ix_events_device_kind_counted", "device_id", "kind", "counted_at"),
)

# Call-back requests: a citizen's phone number, left with consent after a bad review. Kept apart
# from the ratings (the city may restrict and expire this table on its own) and joined by rating_uuid.
callbacks = Table(
    "callbacks", metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("device_id", String, ForeignKey("devices.id"), nullable=False),
    Column("id", BigInteger, nullable=False),          # the device's row id
    Column("rating_uuid", String(36), nullable=False, index=True),
    Column("phone", String(16), nullable=False),
    Column("consent_version", String(16), nullable=False),
    Column("requested_at", String, nullable=False),
    Column("received_at", String(32), nullable=False),
    UniqueConstraint("device_id", "id", name="uq_callbacks_device_row"),
)

nonces = Table(
    "nonces", metadata,
    Column("device_id", String, nullable=False),
    Column("nonce", String(64), nullable=False),
    Column("seen_at", BigInteger, nullable=False, index=True),   # Unix seconds, server clock
    UniqueConstraint("device_id", "nonce", name="uq_nonces_device_nonce"),
)

conflicts = Table(
    "conflicts", metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("device_id", String, nullable=False, index=True),   # the device that sent the conflicting copy
    Column("rating_uuid", String(36), nullable=False, index=True),
    Column("received_at", String(32), nullable=False),
    Column("sent", JSON, nullable=False),
    Column("held", JSON, nullable=False),
)

# Rollups (centre/rollups.py): counts per unit-local day, unit, counter, staff, channel, measure and code,
# kept by the ingest in its own transaction so that indicators over a month or a year never scan raw rows.
# The raw tables stay the truth: `evaluator centre rollup rebuild` recomputes this one from them.
rollups = Table(
    "rollups", metadata,
    Column("unit_id", String, nullable=False),        # the centre's placement (ratings.placed_unit_id)
    Column("day", String(10), nullable=False),         # YYYY-MM-DD, the unit's local calendar day
    Column("counter_id", String, nullable=False),
    Column("staff_id", String, nullable=False),        # "" when no staff member was signed in
    Column("channel", String, nullable=False),         # touch, panel, keyboard; "" when an event names none
    Column("measure", String(24), nullable=False),     # level, before_enrollment, reason, solicited, unrated, …
    Column("code", String, nullable=False),            # the level ("1"–"5"), the reason code, or ""
    Column("n", BigInteger, nullable=False),
    PrimaryKeyConstraint("unit_id", "day", "counter_id", "staff_id", "channel", "measure", "code",
                         name="pk_rollups"),
    Index("ix_rollups_day", "day"),
)

# API tokens of the city's own systems (centre/tokens.py): only a token's SHA-256 is kept. The scope is a
# kind ("city", "unit"; with the registry "district", "sector") and the ids it names; nothing is deleted.
api_tokens = Table(
    "api_tokens", metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("scope_kind", String(16), nullable=False),
    Column("scope_ids", JSON, nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("last_used_at", String(32)),
    Column("revoked_at", String(32)),
)


# The registry (centre/registry): district → sector → unit → counter → device; nothing is deleted. A unit
# carried over from before the registry has no district or sector (NULL) until the office gives it one.
districts = Table("districts", metadata, Column("id", Integer, primary_key=True, autoincrement=True),
                  Column("name", String, nullable=False), Column("name_en", String),
                  UniqueConstraint("name", name="uq_districts_name"))
sectors = Table("sectors", metadata, Column("code", String, primary_key=True),
                Column("name", String, nullable=False), Column("name_en", String))
units = Table("units", metadata, Column("id", String, primary_key=True),
              Column("name", String, nullable=False), Column("name_en", String),
              Column("district_id", Integer, ForeignKey("districts.id")),
              Column("sector_code", String, ForeignKey("sectors.code")),
              Column("timezone", String, nullable=False),
              Column("opening_hours", String, nullable=False),   # centre/registry/hours.py's text; "": not shown
              Column("address", String))
counters = Table("counters", metadata, Column("unit_id", String, ForeignKey("units.id"), primary_key=True),
                 Column("id", String, primary_key=True), Column("name", String, nullable=False),
                 Column("name_en", String))
# Where a device stood when: [from_at, until_at), until_at NULL for where it stands now (devices.unit_id/…).
device_placements = Table(
    "device_placements", metadata, Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("device_id", String, ForeignKey("devices.id"), nullable=False),
    Column("unit_id", String, nullable=False), Column("counter_id", String, nullable=False),
    Column("from_at", String(32), nullable=False), Column("until_at", String(32)),
    ForeignKeyConstraint(["unit_id", "counter_id"], ["counters.unit_id", "counters.id"],
                         name="fk_device_placements_counter"),
    Index("ix_device_placements_device_from", "device_id", "from_at"))

def utcnow() -> datetime:
    return datetime.now(UTC)


def now_text() -> str:
    return iso_utc(utcnow())


def nul_field(values: Mapping[str, Any]) -> str | None:
    """The first field whose text holds U+0000. PostgreSQL cannot store it in a text column (SQLite
    can), so every backend refuses it as bad input rather than PostgreSQL failing with a 500."""
    for name, value in values.items():
        if isinstance(value, str) and "\x00" in value:
            return name
    return None


def held_rating(row: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """A stored rating's `names` as the wire record has them, to compare with a sent copy or hash again."""
    fields = {name: row[name] for name in names}
    fields["clock_suspect"] = bool(fields["clock_suspect"])   # whatever integer a backend gave for the flag
    return fields


_PLAIN_TYPES = (String, Integer, BigInteger, Boolean)   # what sqlite3 and psycopg take as Python gives them
_PLAIN_INSERTS: dict[tuple[str, str, tuple[str, ...]], tuple[str, Callable[[dict[str, Any]], Any] | None]] = {}


def insert_rows(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert `rows` (all with the same keys) in one executemany.

    SQLAlchemy's per-row parameter processing cost more than the database's own
    insert (500 ratings × 24 columns: about 10 ms of a batch's 30), so for a table
    whose values every driver takes as they are (text, integers, booleans, NULL) the
    rows go straight to the driver. The statement is still SQLAlchemy's INSERT,
    compiled for the connection's dialect and paramstyle: nothing dialect-specific here.
    """
    if not rows:
        return
    keys = tuple(rows[0])
    cache_key = (table.name, conn.dialect.name, keys)
    if cache_key not in _PLAIN_INSERTS:
        _PLAIN_INSERTS[cache_key] = _compile_plain_insert(conn, table, keys)
    sql, values = _PLAIN_INSERTS[cache_key]
    if not sql:
        conn.execute(table.insert(), rows)
    elif values is None:
        conn.exec_driver_sql(sql, rows)
    else:
        conn.exec_driver_sql(sql, list(map(values, rows)))


def _compile_plain_insert(conn: Connection, table: Table,
                          keys: tuple[str, ...]) -> tuple[str, Callable[[dict[str, Any]], Any] | None]:
    """("", None) when a column needs the dialect's bind processing (JSON, say); else the SQL and, for a
    positional paramstyle, a getter of a row's values in the statement's order."""
    if not all(isinstance(table.c[key].type, _PLAIN_TYPES) for key in keys):
        return "", None
    # inline(): no RETURNING of the new primary keys, which an executemany does not want.
    compiled = table.insert().inline().compile(dialect=conn.dialect, column_keys=list(keys))
    order = list(compiled.positiontup or ()) if compiled.positional else list(compiled.bind_names.values())
    if not set(order) <= set(keys):      # a column default of SQLAlchemy's own would need its processing
        return "", None
    if compiled.positional:
        return str(compiled), itemgetter(*order) if len(order) > 1 else lambda row: (row[order[0]],)
    return str(compiled), None


def _ensure_sqlite_dir(url: str) -> None:
    """`sqlite:///var/collector.db` should work on a fresh checkout, so create the folder."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


class NoDatabase(CentreError):
    """The centre's database is not where a command looked (only `serve` and `migrate` create one)."""


def _shown(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _missing_database(url: str, why: str) -> NoDatabase:
    return NoDatabase(f"no centre database at {why} (run `evaluator centre migrate --db {_shown(url)}` first, "
                      "or give --db)")


def _require_sqlite_file(url: str) -> None:
    """Refuse a SQLite file that does not exist before connecting, which would create it (and nothing else)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.query.get("uri") == "true":
        return
    if parsed.database in (None, "", ":memory:"):
        raise _missing_database(url, "an in-memory database")
    if not Path(parsed.database).is_file():
        raise _missing_database(url, str(Path(parsed.database).absolute()))


def _require_tables(engine: Engine, url: str) -> None:
    """Refuse a database without the centre's tables (an empty PostgreSQL database, someone else's file)."""
    if not set(inspect(engine).get_table_names()) & set(metadata.tables):
        raise _missing_database(url, f"{_shown(url)}: it has none of the centre's tables")


def _engine(url: str) -> Engine:
    engine = create_engine(url, future=True)
    if engine.dialect.name == "sqlite":
        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            # Server threads, the CLI and tests share one file: wait for a lock instead of failing.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA busy_timeout = 15000")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.close()
    return engine


def open_engine(url: str, *, create: bool = True) -> Engine:
    """An engine on the centre's database at this release's schema; raises sqlalchemy.exc.ArgumentError for a
    bad URL, and schema.SchemaMismatch for a database behind the code (`evaluator centre migrate`), ahead of
    it (a newer release's) or foreign, whatever `create` says.

    `create` (only `serve` may): make the folder, the database file and, in a database without the centre's
    tables, the schema (by its migrations). Without it the database must exist with the centre's tables, else
    NoDatabase, and nothing is created (no file, no folder, no table): a command run from another folder must
    not report an empty new database as "no devices".
    """
    if create:
        _ensure_sqlite_dir(url)
    else:
        _require_sqlite_file(url)
    engine = _engine(url)
    try:
        if not create:
            _require_tables(engine, url)
        schema.check(engine, _shown(url), create=create)
    except CentreError:
        engine.dispose()
        raise
    return engine


def migrate(url: str) -> tuple[str | None, str]:
    """`evaluator centre migrate`: create the database where there is none (a SQLite file, its folder) and
    upgrade its schema to schema.SCHEMA_HEAD; (the revision it was at, None for none, and the one it is at)."""
    _ensure_sqlite_dir(url)
    engine = _engine(url)
    try:
        return schema.upgrade(engine, _shown(url))
    finally:
        engine.dispose()
