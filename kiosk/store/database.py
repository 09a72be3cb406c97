"""The open database file: its connection settings, the one lock every transaction takes, and WAL upkeep.

Every transaction is serialised on one connection: a rating's place in the hash chain is read and
written under the same lock, and any SQLite failure (disk full, I/O error, a locked or corrupt file)
surfaces as StorageError, so the service decides what the citizen sees.
"""
from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar, cast

from sqlalchemy import Connection, create_engine, event
from sqlalchemy.exc import DBAPIError

from kiosk.store import schema
from kiosk.store.errors import StorageError

log = logging.getLogger(__name__)

CHECKPOINT_WAIT_MS = 200      # the longest a checkpoint waits for readers (see Database.checkpoint)

T = TypeVar("T")


def driver(conn: Connection) -> sqlite3.Connection:
    """The pysqlite connection under `conn`, for the hot paths that skip SQLAlchemy's statement machinery."""
    return cast(sqlite3.Connection, conn.connection.driver_connection)


class Database:
    def __init__(self, path: Path, *, busy_timeout_ms: int, migrate: bool) -> None:
        """`migrate`: create or upgrade the schema (the terminal); False for tools that only read
        an existing store and must neither write a schema into a stranger's file nor upgrade one."""
        self.path = Path(path)
        self._lock = threading.Lock()
        self._busy_timeout_ms = busy_timeout_ms
        self._conn: Connection | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create {self.path.parent}: {exc}") from exc
        self._engine = create_engine(f"sqlite:///{self.path}", connect_args={"check_same_thread": False})
        event.listen(self._engine, "connect", self._on_connect)
        if migrate:
            self._guard(lambda: schema.migrate(self._engine, self.path))
        else:
            self._guard(lambda: schema.check(self.path))

    def _on_connect(self, dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        # Manual transactions: pysqlite's implicit BEGIN is deferred, and a
        # deferred read that later writes can fail with SQLITE_BUSY at once.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.execute("PRAGMA foreign_keys = ON")
        # A deleted call-back number is overwritten with zeros, not left in a free page of the file.
        cursor.execute("PRAGMA secure_delete = ON")
        cursor.close()

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            self._engine.dispose()

    # -- transactions -----------------------------------------------------

    def _guard(self, action: Callable[[], T]) -> T:
        try:
            return action()
        except DBAPIError as exc:
            raise StorageError(f"{self.path}: {exc.orig}") from exc
        except (sqlite3.Error, OSError) as exc:
            raise StorageError(f"{self.path}: {exc}") from exc

    @contextmanager
    def transaction(self, write: bool) -> Iterator[Connection]:
        """One serialised transaction on the store's connection; StorageError on any failure.

        The store's query modules (kiosk.store.outbox) borrow it; nothing else
        opens the database.

        BEGIN/COMMIT go straight to the driver: they are on every press's
        path, and SQLAlchemy's statement machinery would double their cost.
        """
        with self._lock:
            try:
                conn = self._connection()
                raw = driver(conn)
                raw.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                try:
                    yield conn
                    raw.execute("COMMIT")
                except BaseException:
                    self._rollback(raw)
                    raise
            except (DBAPIError, sqlite3.Error) as exc:
                # A full disk leaves the connection usable (and rolled back);
                # only a broken one is replaced, on the next transaction.
                if isinstance(exc, DBAPIError) and exc.connection_invalidated:
                    self._drop_connection()
                raise StorageError(f"{self.path}: {getattr(exc, 'orig', None) or exc}") from exc

    def _connection(self) -> Connection:
        if self._conn is None:
            self._conn = self._engine.connect()
        return self._conn

    def _rollback(self, raw: sqlite3.Connection) -> None:
        try:
            # SQLite has already rolled back after some errors (SQLITE_FULL):
            # a second ROLLBACK would fail and cost us a good connection.
            if raw.in_transaction:
                raw.execute("ROLLBACK")
        except sqlite3.Error:
            self._drop_connection()  # a fresh connection next time is the safe state

    def _drop_connection(self) -> None:
        if self._conn is not None:
            try:
                self._conn.invalidate()
                self._conn.close()
            except (DBAPIError, sqlite3.Error):
                pass
            self._conn = None

    # -- the file ---------------------------------------------------------

    def checkpoint(self) -> None:
        """Copy the WAL into the database file and empty it, so erased rows leave no old copy in the WAL.

        A reader in another process (the uploader) may hold the WAL back; then the next checkpoint finishes
        the job. It is not waited for beyond CHECKPOINT_WAIT_MS: the store's lock is held meanwhile, and
        a citizen's press must not wait the whole busy timeout behind an erasure that can wait.
        """
        def run() -> None:
            with self._lock:
                raw = driver(self._connection())
                raw.execute(f"PRAGMA busy_timeout = {CHECKPOINT_WAIT_MS}")
                try:
                    busy, _frames, _done = raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                finally:
                    raw.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
                if busy:
                    log.info("%s: WAL checkpoint held back by a reader; the next one finishes it", self.path)
        self._guard(run)

    def probe_writable(self, size_bytes: int = 16384) -> None:
        """Prove there is room for a few pages (write, commit, free); StorageError if not.

        A tiny event can still fit in a half-empty page when a rating no
        longer can: this writes whole pages so recovery is not declared early.
        """
        with self.transaction(write=True) as conn:
            conn.exec_driver_sql("INSERT INTO storage_probe (payload) VALUES (zeroblob(?))", (size_bytes,))
        with self.transaction(write=True) as conn:
            conn.exec_driver_sql("DELETE FROM storage_probe")

    def pragma(self, name: str) -> Any:
        with self.transaction(write=False) as conn:
            return conn.exec_driver_sql(f"PRAGMA {name}").scalar()

    def integrity_check(self) -> str:
        """PRAGMA integrity_check: "ok", or its first finding. On a connection of its own, not under the
        store's lock: on years of ratings the check reads for seconds, and every press takes that lock."""
        def check(raw: sqlite3.Connection) -> str:
            raw.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
            finding: str = raw.execute("PRAGMA integrity_check").fetchone()[0]
            return finding

        return self._guard(lambda: schema.read_only(self.path, check))
