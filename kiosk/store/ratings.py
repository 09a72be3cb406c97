"""RatingStore: the only owner of the device database, and its append-only writes.

Durability is the point of this module. Every write is its own
``BEGIN IMMEDIATE … COMMIT`` on a WAL database with ``synchronous=FULL``, so
when `append_rating` returns, the row and its place in the hash chain are on
disk: the caller may light the panel key or show thanks. Any SQLite failure
(disk full, I/O error, a locked or corrupt file) surfaces as `StorageError`,
and the service decides what the citizen sees.

The store's other jobs live beside it and are mixed in: the open file and its
transactions (kiosk.store.database), the schema policy (kiosk.store.schema),
the reads (kiosk.store.queries) and the chain check (kiosk.store.verify).
"""
from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from contract import GENESIS_HASH, ITEM_CODE_PATTERN, iso_utc, rating_hash
from kiosk import BUILD_DATE, __version__
from kiosk.store.database import driver
from kiosk.store.ids import rating_uuid
from kiosk.store.queries import RatingQueries
from kiosk.store.tables import WIRE_COLUMNS, Channel, EventKind, events, rating_reasons
from kiosk.store.verify import ChainVerifier

_LAST_RATING = "SELECT seq, hash FROM ratings ORDER BY seq DESC LIMIT 1"
_INSERT_RATING = "INSERT INTO ratings ({}) VALUES ({})".format(
    ", ".join(WIRE_COLUMNS), ", ".join(f":{name}" for name in WIRE_COLUMNS))
_ITEM_CODE = re.compile(ITEM_CODE_PATTERN)


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
    item_code: str | None = None      # the service item (事项编码) the counter PC named with the case


def read_boot_id() -> str:
    """The kernel's id for this boot: with mono_ns it orders presses when the wall clock lies."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return _PROCESS_BOOT_ID


_PROCESS_BOOT_ID = str(uuid.uuid4())


class RatingStore(RatingQueries, ChainVerifier):
    def __init__(self, path: Path, identity: Identity, *, busy_timeout_ms: int = 5000,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC), migrate: bool = True) -> None:
        """`migrate`: create or upgrade the schema (the terminal); False for tools that only read
        an existing store and must neither write a schema into a stranger's file nor upgrade one."""
        self.identity = identity
        self._clock = clock
        self._boot_id = read_boot_id()
        super().__init__(path, busy_timeout_ms=busy_timeout_ms, migrate=migrate)

    def append_rating(self, level: int, channel: Channel, mode: str, *,
                      staff_id: str | None = None, case_no: str | None = None,
                      item_code: str | None = None) -> StoredRating:
        """Commit one rating (fsync'd) and return it; raises StorageError when it could not.

        `item_code` is hashed only when given (contract.chain.OPTIONAL_HASHED): without one, the rating
        hashes exactly as a release before the column stored it."""
        if not 1 <= level <= 5:
            raise ValueError(f"level must be 1…5, got {level}")
        if item_code is not None and not _ITEM_CODE.fullmatch(item_code):
            # The centre would refuse it forever: better never stored than stuck in the outbox.
            raise ValueError(f"item_code must match {ITEM_CODE_PATTERN}, got {item_code!r}")
        now = self._clock()
        with self.transaction(write=True) as conn:
            raw = driver(conn)   # the hot path: plain driver calls
            last = raw.execute(_LAST_RATING).fetchone()
            row: dict[str, Any] = {
                "uuid": rating_uuid(now),
                "seq": (last[0] + 1) if last else 1,
                **vars(self.identity),
                "staff_id": staff_id,
                "case_no": case_no,
                "item_code": item_code,
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
                            clock_suspect=row["clock_suspect"], hash=row["hash"], item_code=item_code)

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
