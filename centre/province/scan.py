"""The reads and writes of making records: ratings and unrated requests in chunks, what each needs (its reasons,
its exclusion, its device's placement), the records inserted once, and the progress marks.

Ratings that count are those the scores count: not recorded before their device's enrollment, not in conflict.
A reason joins a rating its own device delivered, as every report joins them (centre/provenance.py).
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Select, and_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from centre.db.lookup import among
from centre.db.loop_tables import rating_exclusions
from centre.db.province_tables import province_progress, province_records
from centre.db.tables import events, ratings, reasons
from centre.provenance import Placement, placement
from centre.province.build import RatingRow, UnratedRow
from centre.province.model import Record

CHUNK_ROWS = 2000   # rows per read and per transaction: a city year (20 million) never sits in memory
PAGE_ROWS = 100     # rows per INSERT: psycopg parses a statement's text in Python, slower per row the longer it is

RATINGS: Select[Any] = select(ratings.c.pk, ratings.c.uuid, ratings.c.delivered_by, ratings.c.placed_unit_id,
                              ratings.c.staff_id, ratings.c.case_no, ratings.c.item_code, ratings.c.level,
                              ratings.c.channel, ratings.c.mode, ratings.c.counted_at, ratings.c.received_at) \
    .where(ratings.c.before_enrollment.is_(False), ratings.c.conflict.is_(False))
UNRATED: Select[Any] = select(events.c.pk, events.c.device_id, events.c.id, events.c.detail, events.c.counted_at,
                              events.c.received_at).where(events.c.kind == "unrated")

_REASONS = (select(reasons.c.rating_uuid, reasons.c.device_id, reasons.c.code)
            .order_by(reasons.c.rating_uuid, reasons.c.id))
_EXCLUDED = select(rating_exclusions.c.rating_uuid)
_MADE_FOR = select(province_records.c.rating_uuid)
_MADE = select(province_records.c.record_id)


def rating_row(row: Any) -> RatingRow:
    return RatingRow(uuid=row.uuid, device_id=row.delivered_by, unit_id=row.placed_unit_id, staff_id=row.staff_id,
                     case_no=row.case_no or None, item_code=row.item_code, level=row.level, channel=row.channel,
                     mode=row.mode, counted_at=row.counted_at)


def reasons_of(conn: Connection, rows: Sequence[Any]) -> dict[str, list[str]]:
    """The reason codes of these ratings (bad reviews only: the others carry none to send), in the order the
    terminal stored them; only those the rating's own delivering device sent."""
    by = {row.uuid: row.delivered_by for row in rows if row.level <= 2}
    found: dict[str, list[str]] = {}
    for reason in among(conn, _REASONS, reasons.c.rating_uuid, sorted(by)):
        if by[reason.rating_uuid] == reason.device_id:
            found.setdefault(reason.rating_uuid, []).append(reason.code)
    return found


def excluded_of(conn: Connection, uuids: Sequence[str]) -> set[str]:
    return {row.rating_uuid for row in among(conn, _EXCLUDED, rating_exclusions.c.rating_uuid, sorted(uuids))}


def made_ratings(conn: Connection, uuids: Sequence[str]) -> set[str]:
    return {row.rating_uuid for row in among(conn, _MADE_FOR, province_records.c.rating_uuid, sorted(uuids))}


def made_records(conn: Connection, record_ids: Sequence[str]) -> set[str]:
    return {row.record_id for row in among(conn, _MADE, province_records.c.record_id, sorted(record_ids))}


class Placements:
    """Where each device stood when (centre/provenance.py), read once per device."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._found: dict[str, Placement] = {}

    def unit_at(self, device_id: str, at: str) -> str:
        where = self._found.get(device_id)
        if where is None:
            where = self._found[device_id] = placement(self._conn, device_id)
        return where.at(datetime.fromisoformat(at)).unit_id


def unrated_row(row: Any, places: Placements) -> UnratedRow:
    detail = row.detail if isinstance(row.detail, dict) else {}

    def text(name: str) -> str | None:
        value = detail.get(name)
        return value if isinstance(value, str) and value else None

    return UnratedRow(device_id=row.device_id, event_id=row.id, unit_id=places.unit_at(row.device_id, row.counted_at),
                      staff_id=text("staff_id"), case_no=text("case_no"), item_code=text("item_code"),
                      counted_at=row.counted_at)


def insert(conn: Connection, records: Iterable[Record], made_at: str) -> Counter[str]:
    """Insert the records not held yet (by record id and by rating); the states of those inserted. Two
    processes at once: the second's insert of a record waits for the first's and then does nothing."""
    rows = [record.row(made_at) for record in records]
    if not rows:
        return Counter()
    states = {row["record_id"]: row["state"] for row in rows}
    if conn.dialect.name in ("postgresql", "sqlite"):
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(province_records).on_conflict_do_nothing().returning(province_records.c.record_id)
        inserted = conn.execute(statement.execution_options(insertmanyvalues_page_size=PAGE_ROWS), rows).scalars().all()
        return Counter(states[record_id] for record_id in inserted)
    made: Counter[str] = Counter()
    for row in rows:   # another backend: one savepoint per row, the duplicate's IntegrityError caught
        try:
            with conn.begin_nested():
                conn.execute(province_records.insert().values(**row))
            made[row["state"]] += 1
        except IntegrityError:
            pass
    return made


def read_mark(conn: Connection, name: str) -> int:
    value = conn.execute(select(province_progress.c.value).where(province_progress.c.name == name)).scalar()
    return int(value) if value is not None else 0


def write_mark(conn: Connection, name: str, value: int) -> None:
    """Move the mark forward (never back: a slower process that finishes later must not undo a faster one's)."""
    held = conn.execute(select(province_progress.c.value).where(province_progress.c.name == name)).scalar()
    if held is None:
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        conn.execute(dialect.insert(province_progress).values(name=name, value=str(value)).on_conflict_do_nothing())
    elif int(held) < value:
        conn.execute(update(province_progress).where(and_(province_progress.c.name == name,
                                                          province_progress.c.value == held))
                     .values(value=str(value)))


def after(query: Select[Any], pk: Any, cursor: int, limit: int = CHUNK_ROWS) -> Select[Any]:
    return query.where(pk > cursor).order_by(pk).limit(limit)


def chunk(engine: Engine, query: Select[Any]) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(query))
