"""The outbox: rows not yet acknowledged by the centre, oldest first.

The sync status is a column on each row (ODK Collect's model): sending never
moves or copies a rating, and marking it synced is the one update the
append-only triggers allow. Runs in the sync worker's process, on its own
RatingStore; WAL lets it read while the terminal writes.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterable

from sqlalchemy import func, select, update

from kiosk.models import SyncState, events, rating_reasons, ratings
from kiosk.store import RatingStore
from sync.protocol import HASHED_FIELDS

_PENDING = SyncState.PENDING.value
_PENDING_RATINGS = (f"SELECT {', '.join(HASHED_FIELDS + ('hash',))} FROM ratings "
                    "WHERE sync_state = ? ORDER BY seq LIMIT ?")


@dataclass(frozen=True)
class Pending:
    """One batch's worth of unsent rows, as wire dicts."""

    ratings: list[dict[str, Any]]
    reasons: list[dict[str, Any]]
    events: list[dict[str, Any]]

    def __bool__(self) -> bool:
        return bool(self.ratings or self.reasons or self.events)


@dataclass(frozen=True)
class Depth:
    ratings: int
    reasons: int
    events: int
    oldest_rating_at: str | None


class Outbox:
    def __init__(self, store: RatingStore):
        self._store = store

    @property
    def store(self) -> RatingStore:
        return self._store

    def next_batch(self, limit: int) -> Pending:
        """The oldest pending ratings (by seq), reasons and events, at most `limit` of each."""
        with self._store.transaction(write=False) as conn:
            # The driver directly: turning 500 SQLAlchemy rows into dicts took half of this read.
            cursor = conn.connection.driver_connection.execute(_PENDING_RATINGS, (_PENDING, limit))
            names = [column[0] for column in cursor.description]
            rows = [dict(zip(names, row)) for row in cursor]
            reasons = conn.execute(select(rating_reasons.c.id, rating_reasons.c.rating_uuid, rating_reasons.c.code,
                                          rating_reasons.c.recorded_at)
                                   .where(rating_reasons.c.sync_state == _PENDING)
                                   .order_by(rating_reasons.c.id).limit(limit)).all()
            evts = conn.execute(select(events.c.id, events.c.kind, events.c.recorded_at, events.c.mono_ns,
                                       events.c.boot_id, events.c.detail)
                                .where(events.c.sync_state == _PENDING).order_by(events.c.id).limit(limit)).all()
        return Pending(
            ratings=[{**row, "clock_suspect": bool(row["clock_suspect"])} for row in rows],
            reasons=[dict(row._mapping) for row in reasons],
            events=[{**row._mapping, "detail": json.loads(row.detail)} for row in evts])

    def mark_synced(self, rating_uuids: Iterable[str], reason_ids: Iterable[int], event_ids: Iterable[int]) -> None:
        """Exactly the acknowledged rows, in one transaction."""
        uuids, reason_ids, event_ids = list(rating_uuids), list(reason_ids), list(event_ids)
        synced = {"sync_state": SyncState.SYNCED.value}
        with self._store.transaction(write=True) as conn:
            for chunk in _chunks(uuids):
                conn.execute(update(ratings).where(ratings.c.uuid.in_(chunk)).values(**synced))
            for chunk in _chunks(reason_ids):
                conn.execute(update(rating_reasons).where(rating_reasons.c.id.in_(chunk)).values(**synced))
            for chunk in _chunks(event_ids):
                conn.execute(update(events).where(events.c.id.in_(chunk)).values(**synced))

    def mark_rejected(self, rejected: dict[str, str]) -> None:
        """Ratings the centre refused: kept, with the reason, out of the queue."""
        with self._store.transaction(write=True) as conn:
            for rating_uuid, reason in rejected.items():
                conn.execute(update(ratings).where(ratings.c.uuid == rating_uuid)
                             .values(sync_state=SyncState.REJECTED.value, sync_note=reason[:500]))

    def depth(self) -> Depth:
        with self._store.transaction(write=False) as conn:
            pending_ratings, oldest = conn.execute(
                select(func.count(), func.min(ratings.c.recorded_at)).where(ratings.c.sync_state == _PENDING)).one()
            pending_reasons = conn.execute(select(func.count()).select_from(rating_reasons)
                                           .where(rating_reasons.c.sync_state == _PENDING)).scalar_one()
            pending_events = conn.execute(select(func.count()).select_from(events)
                                          .where(events.c.sync_state == _PENDING)).scalar_one()
        return Depth(pending_ratings, pending_reasons, pending_events, oldest)

    def has_pending_level(self, levels: Iterable[int]) -> bool:
        """A pending rating at one of these levels (a bad review to send at once)?"""
        with self._store.transaction(write=False) as conn:
            return conn.execute(select(ratings.c.seq).where((ratings.c.sync_state == _PENDING)
                                                            & ratings.c.level.in_(list(levels))).limit(1)).first() \
                is not None


def _chunks(values: list, size: int = 500) -> Iterable[list]:
    # SQLite limits the number of bound parameters in one statement.
    for start in range(0, len(values), size):
        yield values[start:start + size]
