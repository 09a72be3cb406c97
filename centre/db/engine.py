"""The engine on the centre's database: open it at this release's schema, migrate it, insert many rows fast."""
from __future__ import annotations

import json
from collections.abc import Callable
from operator import itemgetter
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Connection,
    Engine,
    Integer,
    String,
    Table,
    create_engine,
    event,
    inspect,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from centre.db import schema
from centre.db.tables import metadata
from centre.errors import CentreError

# Named before the collector became the centre; kept, so an installed centre finds its data where it left it.
DEFAULT_DB_URL = "sqlite:///var/collector.db"
DB_ENV = "EVALUATOR_CENTRE_DB"     # the database URL of every `evaluator centre` command when --db is not given

_PLAIN_TYPES = (String, Integer, BigInteger, Boolean)   # what sqlite3 and psycopg take as Python gives them
_COPY_TYPES = (*_PLAIN_TYPES, JSON)                      # what COPY takes (JSON as its text)
_PLAIN_INSERTS: dict[tuple[str, str, tuple[str, ...]], tuple[str, Callable[[dict[str, Any]], Any] | None]] = {}


def insert_rows(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert `rows` (all with the same keys) in one executemany.

    SQLAlchemy's per-row parameter processing cost more than the database's own
    insert (500 ratings × 24 columns: about 10 ms of a batch's 30), so for a table
    whose values every driver takes as they are (text, integers, booleans, NULL) the
    rows go straight to the driver. The statement is still SQLAlchemy's INSERT,
    compiled for the connection's dialect and paramstyle; on PostgreSQL such rows go by COPY.
    """
    if not rows:
        return
    keys = tuple(rows[0])
    if conn.dialect.name == "postgresql" and all(isinstance(table.c[key].type, _COPY_TYPES) for key in keys):
        _copy_rows(conn, table, keys, rows)
        return
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


def _plain(table: Table, keys: tuple[str, ...]) -> bool:
    return all(isinstance(table.c[key].type, _PLAIN_TYPES) for key in keys)


def _copy_rows(conn: Connection, table: Table, keys: tuple[str, ...], rows: list[dict[str, Any]]) -> None:
    """PostgreSQL: the rows by COPY … FROM STDIN, in the connection's transaction.

    An executemany sends one INSERT per row, each parsed, bound and executed on its own, and psycopg's
    pipeline spends Python on every one; COPY streams the rows into one command (its row formatting is in
    psycopg's C module): about a third of a 500-rating batch's time on both sides. The one
    driver-specific statement of the centre, confined here. A unique violation comes out as
    SQLAlchemy's IntegrityError, as from an INSERT, so the ingest's race retry works the same.
    """
    import psycopg  # only on PostgreSQL, whose driver is then installed

    quote = conn.dialect.identifier_preparer.quote
    sql = f"COPY {quote(table.name)} ({', '.join(map(quote, keys))}) FROM STDIN"
    values = itemgetter(*keys)
    # A JSON column takes the text SQLAlchemy would have bound (its serializer: json.dumps unless configured).
    as_json = [index for index, key in enumerate(keys) if isinstance(table.c[key].type, JSON)]
    dumps = getattr(conn.dialect, "_json_serializer", None) or json.dumps
    cursor = conn.connection.cursor()
    try:
        with cursor.copy(sql) as copy:
            for row in rows:
                found = values(row) if len(keys) > 1 else (values(row),)
                if as_json:
                    listed = list(found)
                    for index in as_json:
                        if listed[index] is not None:
                            listed[index] = dumps(listed[index])
                    found = tuple(listed)
                copy.write_row(found)
    except psycopg.Error as exc:
        raise DBAPIError.instance(sql, None, exc, psycopg.Error) from exc
    finally:
        cursor.close()


def _compile_plain_insert(conn: Connection, table: Table,
                          keys: tuple[str, ...]) -> tuple[str, Callable[[dict[str, Any]], Any] | None]:
    """("", None) when a column needs the dialect's bind processing (JSON, say); else the SQL and, for a
    positional paramstyle, a getter of a row's values in the statement's order."""
    if not _plain(table, keys):
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


# A worker's connections to PostgreSQL: at most POOL_CONNECTIONS (so `serve --workers N` needs N × 15 of the
# server's max_connections, as the README says), each kept once opened. SQLAlchemy's default pool keeps 5 and
# closes the others as they come back: under load the workers opened one or two a second (bench/centre_load.py's
# steady, two workers: 31–125 new backends in a minute), each a new PostgreSQL process that reads its catalog caches and
# plans every statement again, CPU taken from the ingest just when it is short of it.
POOL_CONNECTIONS = 15


def _engine(url: str) -> Engine:
    kept = {"pool_size": POOL_CONNECTIONS, "max_overflow": 0} if make_url(url).get_backend_name() == "postgresql" \
        else {}
    engine = create_engine(url, future=True, **kept)
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
