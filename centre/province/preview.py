"""The dry run: the records the ratings (and unrated requests) counted in [start, end) would make, as if none
had been made yet, without writing anything (docs/province-report.md, Check).

Read unit by unit through the index the reports use (placed_unit_id, counted_at), the units that share a
credit code one after another, so that a case's book (cases.py) holds only that code's cases; within a unit,
in the order the ratings were given. `make_records` numbers a case's ratings in the order they reached the
centre instead: the two differ only where a case's ratings arrived out of order.
"""
from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import groupby
from typing import Any

from sqlalchemy import Connection, select, tuple_, union

from centre.db.tables import device_placements, devices, events, ratings, units
from centre.province import scan
from centre.province.build import Builder, Units
from centre.province.cases import CaseBook
from centre.province.mapping import Mapping, UnratedMode
from centre.province.model import Record
from contract import iso_utc


def iter_preview(conn: Connection, mapping: Mapping, since: datetime, until: datetime,
                 now: datetime | None = None) -> Iterator[Record]:
    """The records of everything counted in [since, until), unit group by unit group."""
    span = (iso_utc(since), iso_utc(until))
    builder = Builder(mapping, Units(conn), now or datetime.now(UTC))
    for _, group in groupby(_units_by_code(conn), key=lambda row: row.credit_code or f"unit:{row.id}"):
        unit_ids = [row.id for row in group]
        book = CaseBook(conn, outside=span)
        for unit_id in unit_ids:
            yield from _unit_ratings(conn, builder, book, unit_id, span)
        if mapping.unrated.mode is UnratedMode.REPORT:
            yield from _group_unrated(conn, builder, book, set(unit_ids), span)


def preview(conn: Connection, mapping: Mapping, since: datetime, until: datetime) -> list[Record]:
    return list(iter_preview(conn, mapping, since, until))


def _units_by_code(conn: Connection) -> list[Any]:
    return list(conn.execute(select(units.c.id, units.c.credit_code)
                             .order_by(units.c.credit_code.is_(None), units.c.credit_code, units.c.id)))


def _unit_ratings(conn: Connection, builder: Builder, book: CaseBook, unit_id: str,
                  span: tuple[str, str]) -> Iterator[Record]:
    query = scan.RATINGS.where(ratings.c.placed_unit_id == unit_id, ratings.c.counted_at >= span[0],
                               ratings.c.counted_at < span[1])
    position = (span[0], 0)
    while rows := list(conn.execute(query.where(tuple_(ratings.c.counted_at, ratings.c.pk) > position)
                                    .order_by(ratings.c.counted_at, ratings.c.pk).limit(scan.CHUNK_ROWS))):
        position = (rows[-1].counted_at, rows[-1].pk)
        reasons, excluded = scan.reasons_of(conn, rows), scan.excluded_of(conn, [row.uuid for row in rows])
        book.seed(row.case_no for row in rows if row.case_no)
        for row in rows:
            yield builder.rating(scan.rating_row(row), reasons.get(row.uuid, []), row.uuid in excluded, book)


def _group_unrated(conn: Connection, builder: Builder, book: CaseBook, unit_ids: set[str],
                   span: tuple[str, str]) -> Iterator[Record]:
    """The unrated requests made where any of these units' devices stood while it stood there."""
    ids = sorted(unit_ids)
    placed = union(select(devices.c.id.label("device_id")).where(devices.c.unit_id.in_(ids)),
                   select(device_placements.c.device_id).where(device_placements.c.unit_id.in_(ids)))
    places = scan.Placements(conn)
    for device_id in sorted(conn.execute(placed).scalars()):
        query = scan.UNRATED.where(events.c.device_id == device_id, events.c.counted_at >= span[0],
                                   events.c.counted_at < span[1])
        position = (span[0], 0)
        while rows := list(conn.execute(query.where(tuple_(events.c.counted_at, events.c.pk) > position)
                                        .order_by(events.c.counted_at, events.c.pk).limit(scan.CHUNK_ROWS))):
            position = (rows[-1].counted_at, rows[-1].pk)
            found = [row for row in (scan.unrated_row(row, places) for row in rows) if row.unit_id in unit_ids]
            book.seed(row.case_no for row in found if row.case_no)
            for row in found:
                yield builder.unrated(row, book)
