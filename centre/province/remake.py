"""`province remake`: invalid records made again, once their cause is mended (docs/province-report.md, Rules).

An invalid record was never sent, so nothing binds it: after the office gives a unit its codes, or the city
corrects its mapping, the records the rules refused are made afresh from their rating (or unrated request)
with today's registry and mapping, and take the state they now have: pending (then the push sends them),
skipped, or invalid again with the rule that still fails. A record in any other state is never touched:
only rows still invalid when written are updated, so a push running beside it is never overtaken.
"""
from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, select, update

from centre.db.lookup import among
from centre.db.province_tables import province_records
from centre.db.tables import events, ratings
from centre.province import scan
from centre.province.build import Builder, Units
from centre.province.cases import CaseBook
from centre.province.mapping import Mapping
from centre.province.model import Record, RecordState

_INVALID = RecordState.INVALID.value


def remake_invalid(engine: Engine, mapping: Mapping, now: datetime, *, rule: str | None = None,
                   unit_id: str | None = None) -> Counter[str]:
    """Every invalid record (of `rule`, of `unit_id`) made again; how many now stand in each state."""
    with engine.connect() as conn:
        builder = Builder(mapping, Units(conn), now)
    query = select(province_records.c.record_id, province_records.c.source, province_records.c.rating_uuid,
                   province_records.c.device_id, province_records.c.event_id) \
        .where(province_records.c.state == _INVALID)
    if rule is not None:
        query = query.where(province_records.c.rule == rule)
    if unit_id is not None:
        query = query.where(province_records.c.unit_id == unit_id)
    now_in: Counter[str] = Counter()
    after = ""
    while rows := scan.chunk(engine, query.where(province_records.c.record_id > after)
                             .order_by(province_records.c.record_id).limit(scan.CHUNK_ROWS)):
        after = rows[-1].record_id
        with engine.begin() as conn:
            now_in += write_again(conn, _records(conn, builder, rows), only_rule=None)
    return now_in


def _records(conn: Connection, builder: Builder, held: list[Any]) -> list[Record]:
    book = CaseBook(conn, ignore=frozenset(row.record_id for row in held))   # each holds its own place
    uuids = sorted(row.rating_uuid for row in held if row.rating_uuid)
    rows = list(among(conn, scan.RATINGS, ratings.c.uuid, uuids))
    found, excluded = scan.reasons_of(conn, rows), scan.excluded_of(conn, uuids)
    book.seed(row.case_no for row in rows if row.case_no)
    made = [builder.rating(scan.rating_row(row), found.get(row.uuid, []), row.uuid in excluded, book) for row in rows]
    places = scan.Placements(conn)
    for row in held:
        if row.event_id is not None:
            event = conn.execute(scan.UNRATED.where(and_(events.c.device_id == row.device_id,
                                                         events.c.id == row.event_id))).first()
            if event is not None:
                made.append(builder.unrated(scan.unrated_row(event, places), book))
    return made


def write_again(conn: Connection, records: list[Record], only_rule: str | None) -> Counter[str]:
    """Each record's new state, fields and words, where its row is still invalid (and of `only_rule`)."""
    now_in: Counter[str] = Counter()
    for record in records:
        where = [province_records.c.record_id == record.record_id, province_records.c.state == _INVALID]
        if only_rule is not None:
            where.append(province_records.c.rule == only_rule)
        if conn.execute(update(province_records).where(*where).values(
                state=record.state.value, rule=record.rule, problem=record.problem, fields=record.fields)).rowcount:
            now_in[record.state.value] += 1
    return now_in
