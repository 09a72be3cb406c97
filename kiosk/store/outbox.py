"""The outbox: rows not yet acknowledged by the centre, oldest first.

The sync status is a column on each row (ODK Collect's model): sending never
moves or copies a rating, and marking it synced is the one update the
append-only triggers allow. Runs in the sync worker's process, on its own
RatingStore; WAL lets it read while the terminal writes.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import func, select, update

from contract import OPTIONAL_HASHED
from kiosk.store import RatingStore
from kiosk.store.database import driver
from kiosk.store.queries import event_dict
from kiosk.store.tables import WIRE_COLUMNS, SyncState, events, rating_reasons, ratings

_PENDING = SyncState.PENDING.value
_SYNCED = SyncState.SYNCED.value

T = TypeVar("T")


def _json_member(name: str) -> str:
    # The store keeps clock_suspect as 0/1; the wire carries a JSON boolean.
    return f"'{name}', " + ("CASE WHEN clock_suspect THEN json('true') ELSE json('false') END"
                            if name == "clock_suspect" else name)


def _json_object(names: list[str]) -> str:
    return "json_object(" + ", ".join(_json_member(name) for name in names) + ")"


# SQLite writes each rating's wire object itself (json_object, built in since 3.38): building 500 dicts
# in Python and encoding them took two thirds of the device's time per batch. Members in sorted order,
# as canonical_json writes them.
#
# An optional field (contract.chain.OPTIONAL_HASHED: item_code) is a member only when the rating holds a
# value, never `null`: a centre of the previous release, whose wire model forbids unknown keys, then still
# accepts every rating without one, and the hash it recomputes leaves the absent field out as ours did.
# One optional field so far, so two spellings of the object (a second field would need its own CASE).
(_OPTIONAL,) = OPTIONAL_HASHED
_WITH_ALL = sorted(WIRE_COLUMNS)
_RATING_JSON = (f"CASE WHEN {_OPTIONAL} IS NULL THEN {_json_object([n for n in _WITH_ALL if n != _OPTIONAL])} "
                f"ELSE {_json_object(_WITH_ALL)} END")
_PENDING_RATINGS_JSON = (f"SELECT seq, uuid, {_RATING_JSON}"
                         " FROM ratings WHERE sync_state = ? AND seq > ? ORDER BY seq LIMIT ?")


@dataclass(frozen=True)
class Pending:
    """One batch's worth of unsent rows, as wire dicts."""

    ratings: list[dict[str, Any]]
    reasons: list[dict[str, Any]]
    events: list[dict[str, Any]]

    def __bool__(self) -> bool:
        return bool(self.ratings or self.reasons or self.events)


@dataclass(frozen=True)
class Cursor:
    """Where the next batch starts: after these rows. Reading by cursor, not by sync state, lets the next
    batch be read while the previous one is still in flight."""

    seq: int = 0
    reason_id: int = 0
    event_id: int = 0


@dataclass(frozen=True)
class EncodedBatch:
    """One batch's worth of unsent rows; the ratings already encoded as the wire's JSON array."""

    ratings_json: bytes                     # `[{…},{…}]`: each rating's wire object, members sorted
    uuids: list[str]                        # the ratings', in seq order
    seqs: tuple[int, int] | None            # the first and last seq, None without ratings
    reasons: list[dict[str, Any]]
    events: list[dict[str, Any]]
    after: Cursor                           # where the batch after this one starts

    def __bool__(self) -> bool:
        return bool(self.uuids or self.reasons or self.events)


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
        """The oldest pending ratings (by seq), reasons and events, at most `limit` of each, as wire dicts."""
        encoded = self.next_encoded(limit)
        return Pending(ratings=json.loads(encoded.ratings_json), reasons=encoded.reasons, events=encoded.events)

    def next_encoded(self, limit: int, after: Cursor = Cursor()) -> EncodedBatch:
        """The oldest pending ratings, reasons and events after `after`, at most `limit` of each."""
        with self._store.transaction(write=False) as conn:
            raw = driver(conn)
            rows = raw.execute(_PENDING_RATINGS_JSON, (_PENDING, after.seq, limit)).fetchall()
            reasons = conn.execute(select(rating_reasons.c.id, rating_reasons.c.rating_uuid, rating_reasons.c.code,
                                          rating_reasons.c.recorded_at)
                                   .where((rating_reasons.c.sync_state == _PENDING)
                                          & (rating_reasons.c.id > after.reason_id))
                                   .order_by(rating_reasons.c.id).limit(limit)).all()
            evts = conn.execute(select(events.c.id, events.c.kind, events.c.recorded_at, events.c.mono_ns,
                                       events.c.boot_id, events.c.detail)
                                .where((events.c.sync_state == _PENDING) & (events.c.id > after.event_id))
                                .order_by(events.c.id).limit(limit)).all()
        return EncodedBatch(
            ratings_json=("[" + ",".join(row[2] for row in rows) + "]").encode("utf-8"),
            uuids=[row[1] for row in rows],
            seqs=(rows[0][0], rows[-1][0]) if rows else None,
            reasons=[dict(row._mapping) for row in reasons],
            events=[event_dict(row._mapping) for row in evts],
            after=Cursor(rows[-1][0] if rows else after.seq, reasons[-1].id if reasons else after.reason_id,
                         evts[-1].id if evts else after.event_id))

    def mark_synced(self, rating_uuids: Iterable[str], reason_ids: Iterable[int], event_ids: Iterable[int],
                    seq_range: tuple[int, int] | None = None) -> None:
        """Exactly the acknowledged rows, in one transaction.

        `seq_range`: (first, last) seq of a batch whose every rating is acknowledged. Every rating
        still pending in that range was in the batch (it held the oldest pending ones, and seqs only
        grow), so one update by range marks exactly them, without looking up each uuid.
        """
        uuids, reason_ids, event_ids = list(rating_uuids), list(reason_ids), list(event_ids)
        synced = {"sync_state": SyncState.SYNCED.value}
        with self._store.transaction(write=True) as conn:
            if seq_range is not None:
                conn.execute(update(ratings).where((ratings.c.sync_state == _PENDING)
                                                   & ratings.c.seq.between(*seq_range)).values(**synced))
                uuids = []
            for some_uuids in _chunks(uuids):
                conn.execute(update(ratings).where(ratings.c.uuid.in_(some_uuids)).values(**synced))
            for some_ids in _chunks(reason_ids):
                conn.execute(update(rating_reasons).where(rating_reasons.c.id.in_(some_ids)).values(**synced))
            for some_ids in _chunks(event_ids):
                conn.execute(update(events).where(events.c.id.in_(some_ids)).values(**synced))

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

    def acknowledged_tip(self) -> tuple[int, str] | None:
        """(seq, hash) of the highest rating the centre acknowledged (marked synced); None before any."""
        with self._store.transaction(write=False) as conn:
            row = conn.execute(select(ratings.c.seq, ratings.c.hash).where(ratings.c.sync_state == _SYNCED)
                               .order_by(ratings.c.seq.desc()).limit(1)).first()
        return (row.seq, row.hash) if row is not None else None

    def rejected(self) -> dict[str, int]:
        """The ratings the centre refused, kept here: how many for each reason, the most frequent first."""
        with self._store.transaction(write=False) as conn:
            rows = conn.execute(select(func.coalesce(ratings.c.sync_note, ""), func.count())
                                .where(ratings.c.sync_state == SyncState.REJECTED.value)
                                .group_by(ratings.c.sync_note).order_by(func.count().desc())).all()
        return {reason or "no reason given": count for reason, count in rows}

    def has_pending_level(self, levels: Iterable[int]) -> bool:
        """A pending rating at one of these levels (a bad review to send at once)?"""
        with self._store.transaction(write=False) as conn:
            return conn.execute(select(ratings.c.seq).where((ratings.c.sync_state == _PENDING)
                                                            & ratings.c.level.in_(list(levels))).limit(1)).first() \
                is not None


def _chunks(values: list[T], size: int = 500) -> Iterator[list[T]]:
    # SQLite limits the number of bound parameters in one statement.
    for start in range(0, len(values), size):
        yield values[start:start + size]
