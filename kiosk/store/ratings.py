"""RatingStore: the only owner of the device database.

Durability is the point of this module. Every write is its own
``BEGIN IMMEDIATE … COMMIT`` on a WAL database with ``synchronous=FULL``, so
when `append_rating` returns, the row and its place in the hash chain are on
disk: the caller may light the panel key or show thanks. Any SQLite failure
(disk full, I/O error, a locked or corrupt file) surfaces as `StorageError`,
and the service decides what the citizen sees.
"""
from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, create_engine, event, func, select
from sqlalchemy.exc import DBAPIError

from contract import GENESIS_HASH, HASHED_FIELDS, iso_utc, rating_hash
from kiosk import BUILD_DATE, __version__
from kiosk.store.ids import rating_uuid
from kiosk.store.tables import Channel, EventKind, events, rating_reasons, ratings

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"


_LAST_RATING = "SELECT seq, hash FROM ratings ORDER BY seq DESC LIMIT 1"
_INSERT_RATING = "INSERT INTO ratings ({}) VALUES ({})".format(
    ", ".join(HASHED_FIELDS + ("hash",)), ", ".join(f":{name}" for name in HASHED_FIELDS + ("hash",)))


class StorageError(Exception):
    """The database refused a read or write; nothing was acknowledged."""


@dataclass(frozen=True)
class Identity:
    """Who and where a rating belongs to; fixed for the life of a store."""

    device_id: str
    unit_id: str
    counter_id: str


@dataclass(frozen=True)
class StoredRating:
    uuid: str
    seq: int
    level: int
    channel: Channel
    mode: str
    staff_id: str | None
    case_no: str | None
    recorded_at: str
    clock_suspect: bool
    hash: str


@dataclass(frozen=True)
class VerifyResult:
    checked: int
    first_broken_seq: int | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.first_broken_seq is None


@dataclass(frozen=True)
class DayCounts:
    """Raw counts for one time range, for `kiosk.rating.scoring` to turn into figures."""

    by_level: dict[int, int]
    reasons: dict[str, int]
    unrated: int
    suppressed: int


def read_boot_id() -> str:
    """The kernel's id for this boot: with mono_ns it orders presses when the wall clock lies."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return _PROCESS_BOOT_ID


_PROCESS_BOOT_ID = str(uuid.uuid4())


# The newest migration in kiosk/store/migrations/versions (a test holds the two together). A store already
# at it opens without importing Alembic, which is a third of the terminal's own start-up time.
# Revisions are numbered "0001", "0002", … so that a release can tell a newer store from a foreign one.
SCHEMA_HEAD = "0004"
# The oldest schema whose software can still read and write a store at SCHEMA_HEAD, kept in the file's
# header (PRAGMA user_version) by the migration. It is what lets `evaluator upgrade` roll back: a new
# release migrates the store at its first start, and if it then fails its health check the previous
# release must open that store again. A migration that only adds (a table, an index, a nullable
# column) leaves this alone; one that an older release would write wrongly (a NOT NULL column it
# does not fill, a changed hash) moves it to its own revision, and a rollback past it stops with a
# StorageError that says so instead of writing ratings an older release cannot get right.
SCHEMA_COMPATIBLE_FROM = "0004"


def _alembic_config():
    from alembic.config import Config as AlembicConfig

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


CHECKPOINT_WAIT_MS = 200      # the longest a checkpoint waits for readers (see RatingStore.checkpoint)


class RatingStore:
    def __init__(self, path: Path, identity: Identity, *, busy_timeout_ms: int = 5000,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC), migrate: bool = True):
        """`migrate`: create or upgrade the schema (the terminal); False for tools that only read
        an existing store and must neither write a schema into a stranger's file nor upgrade one."""
        self.path = Path(path)
        self.identity = identity
        self._clock = clock
        self._boot_id = read_boot_id()
        self._lock = threading.Lock()
        self._busy_timeout_ms = busy_timeout_ms
        self._conn: Connection | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create {self.path.parent}: {exc}") from exc
        self._engine = create_engine(f"sqlite:///{self.path}", connect_args={"check_same_thread": False})
        event.listen(self._engine, "connect", self._on_connect)
        self._guard(self._migrate if migrate else self._check_schema)

    # -- set-up -----------------------------------------------------------

    def _on_connect(self, dbapi_conn: Any, _record: Any) -> None:
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

    def _migrate(self) -> None:
        version = self._schema_version()
        if version == SCHEMA_HEAD or self._usable_newer(version):
            return
        from alembic import command
        from alembic.util import CommandError

        config = _alembic_config()
        with self._engine.connect() as conn:
            # One transaction for the whole upgrade: a power cut mid-migration
            # leaves the old schema, never half of the new one.
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            config.attributes["connection"] = conn
            try:
                command.upgrade(config, "head")
            except CommandError as exc:
                conn.exec_driver_sql("ROLLBACK")
                raise StorageError(f"{self.path}: cannot upgrade the schema: {exc}") from None
            conn.exec_driver_sql(f"PRAGMA user_version = {int(SCHEMA_COMPATIBLE_FROM)}")
            conn.exec_driver_sql("COMMIT")

    def _check_schema(self) -> None:
        """Refuse a file that is not this release's store, before anything (even WAL mode) is written."""
        version = self._schema_version()
        if version is None:
            raise StorageError(f"{self.path}: not a rating store (no schema version)")
        if version != SCHEMA_HEAD and not self._usable_newer(version):
            raise StorageError(f"{self.path}: schema version {version} is not this software's ({SCHEMA_HEAD}); "
                               "start the terminal of the matching release once")

    def _usable_newer(self, version: str | None) -> bool:
        """True for a store that a newer release migrated and declared usable by this one (opened as it
        is, never downgraded); a StorageError naming both releases' schemas for one it declared not."""
        if version is None or not version.isdigit() or int(version) <= int(SCHEMA_HEAD):
            return False
        compatible_from = self._read_only(lambda raw: raw.execute("PRAGMA user_version").fetchone()[0])
        if 0 < compatible_from <= int(SCHEMA_HEAD):
            log.warning("%s: schema %s is from a newer release, which keeps it usable from schema %04d on; "
                        "this release (schema %s) uses it as it is", self.path, version, compatible_from,
                        SCHEMA_HEAD)
            return True
        needs = (f"it needs schema {compatible_from:04d} or later" if compatible_from
                 else "it does not say that an older release can use it")
        raise StorageError(f"{self.path}: schema {version} was written by a newer release and {needs}; "
                           f"this release has schema {SCHEMA_HEAD}: install the newer release again "
                           "(evaluator upgrade WHEEL)")

    def _read_only(self, query: Callable[[sqlite3.Connection], Any]) -> Any:
        raw = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
        try:
            return query(raw)
        finally:
            raw.close()

    def _schema_version(self) -> str | None:
        """The store's Alembic revision, read without writing (not even WAL mode); None for a new or foreign
        file. A missing file stays missing: the terminal's own migration creates it."""
        if not self.path.exists():
            return None

        def read(raw: sqlite3.Connection) -> tuple[str] | None:
            found = raw.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'")
            return raw.execute("SELECT version_num FROM alembic_version").fetchone() if found.fetchone() else None

        version = self._read_only(read)
        return version[0] if version else None

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            self._engine.dispose()

    # -- transactions -----------------------------------------------------

    def _guard(self, action: Callable[[], Any]) -> Any:
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
                raw = conn.connection.driver_connection
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

    # -- writes ------------------------------------------------------------

    def append_rating(self, level: int, channel: Channel, mode: str, *,
                      staff_id: str | None = None, case_no: str | None = None) -> StoredRating:
        """Commit one rating (fsync'd) and return it; raises StorageError when it could not."""
        if not 1 <= level <= 5:
            raise ValueError(f"level must be 1…5, got {level}")
        now = self._clock()
        with self.transaction(write=True) as conn:
            raw = conn.connection.driver_connection   # the hot path: plain driver calls
            last = raw.execute(_LAST_RATING).fetchone()
            row = {
                "uuid": rating_uuid(now),
                "seq": (last[0] + 1) if last else 1,
                **vars(self.identity),
                "staff_id": staff_id,
                "case_no": case_no,
                "level": level,
                "channel": Channel(channel).value,
                "mode": mode,
                "recorded_at": iso_utc(now),
                "mono_ns": time.monotonic_ns(),
                "boot_id": self._boot_id,
                "clock_suspect": now < BUILD_DATE,
                "app_version": __version__,
                "prev_hash": last[1] if last else GENESIS_HASH,
            }
            row["hash"] = rating_hash(row)
            raw.execute(_INSERT_RATING, row)
        return StoredRating(uuid=row["uuid"], seq=row["seq"], level=level, channel=Channel(channel),
                            mode=mode, staff_id=staff_id, case_no=case_no, recorded_at=row["recorded_at"],
                            clock_suspect=row["clock_suspect"], hash=row["hash"])

    def add_reasons(self, rating_uuid: str, codes: list[str]) -> None:
        """Append the bad-review reasons the citizen picked for an already stored rating."""
        if not codes:
            return
        recorded_at = iso_utc(self._clock())
        with self.transaction(write=True) as conn:
            conn.execute(rating_reasons.insert(), [
                {"rating_uuid": rating_uuid, "code": code, "recorded_at": recorded_at} for code in codes])

    def record_event(self, kind: EventKind, **detail: Any) -> None:
        with self.transaction(write=True) as conn:
            conn.execute(events.insert(), self.event_row(kind, **detail))

    def event_row(self, kind: EventKind, **detail: Any) -> dict[str, Any]:
        """An events row, for a query module (kiosk.store.callbacks) that writes one inside its own transaction."""
        return {
            "kind": EventKind(kind).value,
            "recorded_at": iso_utc(self._clock()),
            "mono_ns": time.monotonic_ns(),
            "boot_id": self._boot_id,
            "detail": json.dumps(detail, sort_keys=True, ensure_ascii=False, default=str),
        }

    def now(self) -> datetime:
        """The store's clock (injected in tests): what recorded times and retention are measured by."""
        return self._clock()

    def checkpoint(self) -> None:
        """Copy the WAL into the database file and empty it, so erased rows leave no old copy in the WAL.

        A reader in another process (the uploader) may hold the WAL back; then the next checkpoint finishes
        the job. It is not waited for beyond CHECKPOINT_WAIT_MS: the store's lock is held meanwhile, and
        a citizen's press must not wait the whole busy timeout behind an erasure that can wait.
        """
        def run() -> None:
            with self._lock:
                raw = self._connection().connection.driver_connection
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

    # -- reads -------------------------------------------------------------

    def pragma(self, name: str) -> Any:
        with self.transaction(write=False) as conn:
            return conn.exec_driver_sql(f"PRAGMA {name}").scalar()

    def integrity_check(self) -> str:
        """PRAGMA integrity_check: "ok", or its first finding. On a connection of its own, not under the
        store's lock: on years of ratings the check reads for seconds, and every press takes that lock."""
        def check(raw: sqlite3.Connection) -> str:
            raw.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
            return raw.execute("PRAGMA integrity_check").fetchone()[0]

        return self._guard(lambda: self._read_only(check))

    def count_ratings(self) -> int:
        with self.transaction(write=False) as conn:
            return conn.execute(select(func.count()).select_from(ratings)).scalar_one()

    def recent_ratings(self, limit: int = 10) -> list[dict[str, Any]]:
        with self.transaction(write=False) as conn:
            rows = conn.execute(select(ratings).order_by(ratings.c.seq.desc()).limit(limit))
            return [dict(row._mapping) for row in rows]

    def reasons_for(self, rating_uuid: str) -> list[str]:
        with self.transaction(write=False) as conn:
            rows = conn.execute(select(rating_reasons.c.code).where(rating_reasons.c.rating_uuid == rating_uuid)
                                .order_by(rating_reasons.c.id))
            return [row.code for row in rows]

    def events_of(self, kind: EventKind) -> list[dict[str, Any]]:
        with self.transaction(write=False) as conn:
            rows = conn.execute(select(events).where(events.c.kind == EventKind(kind).value).order_by(events.c.id))
            return [{**row._mapping, "detail": json.loads(row.detail)} for row in rows]

    def last_event(self, kind: EventKind) -> dict[str, Any] | None:
        latest = self.latest_events((kind,), 1)
        return latest[0] if latest else None

    def latest_events(self, kinds: tuple[EventKind, ...], limit: int) -> list[dict[str, Any]]:
        """The newest `limit` events of these kinds, newest first."""
        with self.transaction(write=False) as conn:
            rows = conn.execute(select(events).where(events.c.kind.in_([EventKind(k).value for k in kinds]))
                                .order_by(events.c.id.desc()).limit(limit))
            return [{**row._mapping, "detail": json.loads(row.detail)} for row in rows]

    def day_counts(self, start: datetime, end: datetime) -> DayCounts:
        """Counts for ratings and events recorded in [start, end)."""
        since, until = iso_utc(start), iso_utc(end)
        in_range = (ratings.c.recorded_at >= since) & (ratings.c.recorded_at < until)
        with self.transaction(write=False) as conn:
            by_level = dict(conn.execute(select(ratings.c.level, func.count())
                                         .where(in_range).group_by(ratings.c.level)).all())
            reasons = dict(conn.execute(
                select(rating_reasons.c.code, func.count())
                .join(ratings, ratings.c.uuid == rating_reasons.c.rating_uuid)
                .where(in_range).group_by(rating_reasons.c.code)).all())
            kinds = dict(conn.execute(
                select(events.c.kind, func.count())
                .where((events.c.recorded_at >= since) & (events.c.recorded_at < until)
                       & events.c.kind.in_([EventKind.UNRATED.value, EventKind.SUPPRESSED.value]))
                .group_by(events.c.kind)).all())
        return DayCounts(by_level=by_level, reasons=reasons,
                         unrated=kinds.get(EventKind.UNRATED.value, 0),
                         suppressed=kinds.get(EventKind.SUPPRESSED.value, 0))

    def verify(self, batch: int = 5000) -> VerifyResult:
        """Walk the chain in seq order: continuity, links and each row's own hash."""
        expected_seq, prev_hash, checked = 1, GENESIS_HASH, 0
        columns = [ratings.c[name] for name in ("uuid", "seq", "device_id", "unit_id", "counter_id",
                                                 "staff_id", "case_no", "level", "channel", "mode",
                                                 "recorded_at", "mono_ns", "boot_id", "clock_suspect",
                                                 "app_version", "prev_hash", "hash")]
        while True:
            with self.transaction(write=False) as conn:
                rows = conn.execute(select(*columns).where(ratings.c.seq >= expected_seq)
                                    .order_by(ratings.c.seq).limit(batch)).all()
            if not rows:
                return VerifyResult(checked=checked)
            for row in rows:
                fields = dict(row._mapping)
                fields["clock_suspect"] = bool(fields["clock_suspect"])
                problem = _chain_problem(fields, expected_seq, prev_hash)
                if problem:
                    return VerifyResult(checked=checked, first_broken_seq=expected_seq, problem=problem)
                expected_seq, prev_hash, checked = expected_seq + 1, fields["hash"], checked + 1

    # -- reads for the staff scores screen (kiosk.rating.scoring turns them into figures) --

    def staff_level_counts(self, start: datetime, end: datetime) -> dict[tuple[str | None, int], int]:
        """Ratings per (staff_id, level) recorded in [start, end); staff_id None: nobody was signed in."""
        since, until = iso_utc(start), iso_utc(end)
        with self.transaction(write=False) as conn:
            rows = conn.execute(select(ratings.c.staff_id, ratings.c.level, func.count())
                                .where((ratings.c.recorded_at >= since) & (ratings.c.recorded_at < until))
                                .group_by(ratings.c.staff_id, ratings.c.level)).all()
        return {(staff_id, level): count for staff_id, level, count in rows}

    def unrated_by_staff(self, start: datetime, end: datetime) -> dict[str | None, int]:
        """Unrated requests in [start, end) per the staff_id their event names (None: it named nobody)."""
        since, until = iso_utc(start), iso_utc(end)
        staff = func.json_extract(events.c.detail, "$.staff_id")
        with self.transaction(write=False) as conn:
            rows = conn.execute(select(staff, func.count())
                                .where((events.c.kind == EventKind.UNRATED.value)
                                       & (events.c.recorded_at >= since) & (events.c.recorded_at < until))
                                .group_by(staff)).all()
        return {staff_id: count for staff_id, count in rows}

    def level_counts_by_bucket(self, edges: list[datetime]) -> list[dict[int, int]]:
        """Ratings per level in each [edges[i], edges[i + 1]), in one statement over the whole range.

        Local days are not a fixed width of UTC text (DST), so the buckets are
        given as edges. A VALUES table of [lo, hi) bounds CROSS JOINed to
        ratings makes SQLite seek the recorded_at index once per bucket and
        count each row as a plain range count would. Measured on 2,000,000
        ratings, 30 days (33,000 rows): this 19 ms; one range scan bucketed
        with a CASE chain 36 ms (up to 30 text comparisons per row); one scan
        of (recorded_at, level) bucketed in Python 36 ms; the plain range
        count it cannot beat 14 ms. CROSS JOIN pins the bounds as the outer
        loop, whatever the planner guesses without statistics.
        """
        buckets: list[dict[int, int]] = [{} for _ in edges[1:]]
        if not buckets:
            return buckets
        values = ", ".join(f"({i}, :e{i}, :e{i + 1})" for i in range(len(buckets)))
        sql = (f"WITH bounds(i, lo, hi) AS (VALUES {values}) "
               "SELECT bounds.i, ratings.level, count(*) FROM bounds CROSS JOIN ratings "
               "ON ratings.recorded_at >= bounds.lo AND ratings.recorded_at < bounds.hi "
               "GROUP BY bounds.i, ratings.level")
        with self.transaction(write=False) as conn:
            rows = conn.exec_driver_sql(sql, {f"e{i}": iso_utc(edge) for i, edge in enumerate(edges)}).all()
        for index, level, count in rows:
            buckets[index][level] = count
        return buckets

    def ratings_with_reasons(self, start: datetime, end: datetime, levels: list[int],
                             limit: int) -> list[dict[str, Any]]:
        """The newest `limit` ratings at `levels` in [start, end), newest first, each with its reason codes."""
        since, until = iso_utc(start), iso_utc(end)
        with self.transaction(write=False) as conn:
            # ORDER BY recorded_at walks the time index backwards: no sort, and the LIMIT stops it early.
            rows = conn.execute(select(ratings.c.uuid, ratings.c.seq, ratings.c.recorded_at, ratings.c.level,
                                       ratings.c.staff_id)
                                .where((ratings.c.recorded_at >= since) & (ratings.c.recorded_at < until)
                                       & ratings.c.level.in_(levels))
                                .order_by(ratings.c.recorded_at.desc()).limit(limit)).all()
            found = {row.uuid: {**row._mapping, "reasons": []} for row in rows}
            if found:
                reasons = conn.execute(select(rating_reasons.c.rating_uuid, rating_reasons.c.code)
                                       .where(rating_reasons.c.rating_uuid.in_(list(found)))
                                       .order_by(rating_reasons.c.id)).all()
                for rating_uuid, code in reasons:
                    found[rating_uuid]["reasons"].append(code)
        return list(found.values())


def _chain_problem(fields: dict[str, Any], expected_seq: int, prev_hash: str) -> str | None:
    if fields["seq"] != expected_seq:
        return f"seq {expected_seq} is missing (next stored is {fields['seq']})"
    if fields["prev_hash"] != prev_hash:
        return f"seq {expected_seq} does not link to seq {expected_seq - 1} (a row was removed or replaced)"
    if rating_hash(fields) != fields["hash"]:
        return f"seq {expected_seq} was altered after it was stored (hash mismatch)"
    return None
