"""Call-back requests in the device store: kept apart from ratings, sent, then erased.

A phone number is the only personal data the terminal ever holds, so this
module owns its whole life on the device: `add` commits it (fsync, with an
event that names the rating but never the number), `pending` hands it to the
uploader, `delivered` erases what the centre acknowledged, and `purge`
erases what never got there within the retention period. Erasing is a DELETE
with SQLite's secure_delete on (set by the store) followed by a WAL
checkpoint, so the digits do not linger in free pages or old WAL frames.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, select

from contract import PHONE_PATTERN, iso_utc
from kiosk.scheduling import Cancellable, Scheduler
from kiosk.store import RatingStore, StorageError
from kiosk.store.tables import EventKind, callback_requests, events

log = logging.getLogger(__name__)

_PHONE = re.compile(PHONE_PATTERN)


@dataclass(frozen=True)
class PendingCallback:
    id: int
    rating_uuid: str
    phone: str
    consent_version: str
    requested_at: str

    def __repr__(self) -> str:   # a stray log line or traceback must not print the number
        return f"PendingCallback(id={self.id}, rating_uuid={self.rating_uuid!r}, phone=<hidden>)"

    def wire(self) -> dict[str, object]:
        return {"id": self.id, "rating_uuid": self.rating_uuid, "phone": self.phone,
                "consent_version": self.consent_version, "requested_at": self.requested_at}


class CallbackQueue:
    def __init__(self, store: RatingStore):
        self._store = store

    def add(self, rating_uuid: str, phone: str, consent_version: str) -> int:
        """Commit one request (the row and its event in one transaction); returns its id.

        ValueError for a number that is not a valid phone number: the form checks first, this
        is the last line before personal data reaches the disk.
        """
        if not _PHONE.fullmatch(phone):
            raise ValueError("not a mainland mobile or landline number with area code")
        requested_at = iso_utc(self._store.now())
        with self._store.transaction(write=True) as conn:
            key = conn.execute(callback_requests.insert().values(
                rating_uuid=rating_uuid, phone=phone, consent_version=consent_version,
                created_at=requested_at)).inserted_primary_key
            assert key is not None   # SQLAlchemy has one for every single-row INSERT
            row_id: int = key[0]
            conn.execute(events.insert(), self._store.event_row(
                EventKind.CALLBACK_REQUESTED, callback_id=row_id, rating_uuid=rating_uuid,
                consent_version=consent_version))
        return row_id

    def pending(self, limit: int, after_id: int = 0) -> list[PendingCallback]:
        """The oldest requests with an id above `after_id`, at most `limit`."""
        table = callback_requests
        with self._store.transaction(write=False) as conn:
            rows = conn.execute(select(table.c.id, table.c.rating_uuid, table.c.phone, table.c.consent_version,
                                       table.c.created_at).where(table.c.id > after_id)
                                .order_by(table.c.id).limit(limit)).all()
        return [PendingCallback(row.id, row.rating_uuid, row.phone, row.consent_version, row.created_at)
                for row in rows]

    def newest(self) -> str | None:
        """When the newest request still held was made (None when none is held)."""
        with self._store.transaction(write=False) as conn:
            newest: str | None = conn.execute(select(func.max(callback_requests.c.created_at))).scalar_one()
        return newest

    def any_newer_than(self, moment: str | None) -> bool:
        """Is a request held that was made after `moment` (any at all, for None)? Indexed: cheap to poll."""
        query = select(callback_requests.c.id).limit(1)
        if moment is not None:
            query = query.where(callback_requests.c.created_at > moment)
        with self._store.transaction(write=False) as conn:
            return conn.execute(query).first() is not None

    def count(self) -> int:
        with self._store.transaction(write=False) as conn:
            return conn.execute(select(func.count()).select_from(callback_requests)).scalar_one()

    def delivered(self, ids: Iterable[int]) -> int:
        """The centre holds these: erase them now. Returns how many were erased."""
        return self._erase(list(ids), EventKind.CALLBACK_DELIVERED, {})

    def purge(self, retention_days: float) -> int:
        """Erase requests older than the retention period, unsent; each leaves an event without the number."""
        cutoff = iso_utc(self._store.now() - timedelta(days=retention_days))
        with self._store.transaction(write=False) as conn:
            expired = conn.execute(select(callback_requests.c.id)
                                   .where(callback_requests.c.created_at < cutoff)).scalars().all()
        return self._erase(list(expired), EventKind.CALLBACK_DROPPED, {"retention_days": retention_days,
                                                                        "why": "not acknowledged by the centre"})

    def _erase(self, ids: list[int], kind: EventKind, detail: dict[str, object]) -> int:
        if not ids:
            return 0
        table = callback_requests
        with self._store.transaction(write=True) as conn:
            rows = conn.execute(select(table.c.id, table.c.rating_uuid, table.c.created_at)
                                .where(table.c.id.in_(ids))).all()
            conn.execute(delete(table).where(table.c.id.in_([row.id for row in rows])))
            for row in rows:
                conn.execute(events.insert(), self._store.event_row(
                    kind, callback_id=row.id, rating_uuid=row.rating_uuid, requested_at=row.created_at, **detail))
        self._store.checkpoint()
        return len(rows)


class CallbackSweeper:
    """Runs `purge` every `interval_s` on the service's scheduler (Kivy's Clock, or a thread timer headless)."""

    def __init__(self, queue: CallbackQueue, scheduler: Scheduler, interval_s: float, retention_days: float):
        self._queue = queue
        self._scheduler = scheduler
        self._interval_s = interval_s
        self._retention_days = retention_days
        self._timer: Cancellable | None = None
        self._running = False

    def start(self) -> None:
        self._running = True
        self.sweep()

    def stop(self) -> None:
        self._running = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def sweep(self) -> None:
        if not self._running:
            return
        try:
            dropped = self._queue.purge(self._retention_days)
            if dropped:
                log.warning("%d call-back request(s) never reached the centre in %g days; erased unsent",
                            dropped, self._retention_days)
        except StorageError as exc:   # the next press finds a broken store; the sweep just tries again later
            log.warning("call-back purge failed, retrying in %.0f s: %s", self._interval_s, exc)
        self._timer = self._scheduler.call_later(self._interval_s, self.sweep)
