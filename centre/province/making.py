"""`make_records`: every counted rating (and unrated request, where the mapping reports them) that has no
record yet becomes one, once (docs/province-report.md, Fields).

Each call reads only what is new: a progress mark (province_progress) holds the last row id up to which
every row is done, and a call reads from a margin behind it (`MARGIN_ROWS`), because row ids are handed out
when a batch inserts but become visible when it commits, and a batch that commits late can leave a lower id
behind a higher one already read. A row received at or after `settled_before` is left for a later call (its
reasons may still be on the way) and holds the mark before it. Work goes in chunks of `scan.CHUNK_ROWS`, each
in its own transaction: a city year's backlog never sits in memory, and what is done stays done.

Two things can change after a record is made and before it is sent, and each call looks at them:
- a bad review's reasons can reach the centre after the record was made (the terminal syncs a rating before
  the citizen has chosen, then loses its connection): a record refused for want of a reason is made again
  when its reasons arrive (read by a mark on the reasons, like the ratings), pending if it now passes;
- a rating excluded from the scores (an upheld appeal, a confirmed integrity flag) whose record was never
  sent (pending, no attempt yet) is withdrawn: skipped, rule "excluded". One already sent stays as the
  province holds it (the province's own appeal process corrects its figures).

Idempotent: a record's id is fixed by what it maps; inserting one that exists does nothing (ON CONFLICT DO
NOTHING on the record id and on the rating), so a second call, or two processes at once, make each record
once. Both processes take the same decisions: a case's earlier records are read from the table as committed,
and each chunk is committed before the next is read.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Select, select, update

from centre.db.lookup import among
from centre.db.loop_tables import rating_exclusions
from centre.db.province_tables import province_records
from centre.db.tables import events, ratings, reasons
from centre.province import scan
from centre.province.build import Builder, Units
from centre.province.cases import CaseBook
from centre.province.mapping import Mapping, UnratedMode
from centre.province.model import MadeCount, Record, RecordState
from centre.province.remake import write_again
from centre.province.rules import Rule
from contract import iso_utc

MARGIN_ROWS = 5000       # rows read again behind the mark: far more than a few seconds' late commits hold
RATINGS_MARK = "ratings_pk"
UNRATED_MARK = "unrated_pk"
REASONS_MARK = "reasons_pk"
WAITING = Rule.BAD_REVIEW_WITHOUT_REASON.value
_WAITING = select(province_records.c.record_id, province_records.c.rating_uuid) \
    .where(province_records.c.state == RecordState.INVALID.value, province_records.c.rule == WAITING)
_EXCLUDED_PENDING = (select(province_records.c.record_id)
                     .join(rating_exclusions, rating_exclusions.c.rating_uuid == province_records.c.rating_uuid)
                     .where(province_records.c.state == RecordState.PENDING.value, province_records.c.attempts == 0))


@dataclass
class _Pass:
    """One table's pass: the cursor, and the first row left for later (which holds the mark)."""

    cursor: int
    held_at: int | None = None

    def mark(self) -> int:
        return self.held_at - 1 if self.held_at is not None else self.cursor


def make_records(engine: Engine, mapping: Mapping, now: datetime, settled_before: datetime) -> MadeCount:
    """Make the records of what has settled and has none yet; how many were made, by state."""
    with engine.connect() as conn:
        builder = Builder(mapping, Units(conn), now)
    settled, made_at = iso_utc(settled_before), iso_utc(now)
    made = _ratings(engine, builder, settled, made_at)
    if mapping.unrated.mode is UnratedMode.REPORT:
        made += _unrated(engine, builder, settled, made_at)
    remade = _late_reasons(engine, builder, settled)
    return MadeCount(pending=made["pending"], invalid=made["invalid"], skipped=made["skipped"], remade=remade,
                     withdrawn=_withdraw_excluded(engine))


def _ratings(engine: Engine, builder: Builder, settled: str, made_at: str) -> Counter[str]:
    return _in_passes(engine, RATINGS_MARK, scan.RATINGS, ratings.c.pk, _rating_records, builder, settled, made_at)


def _in_passes(engine: Engine, mark: str, query: Select[Any], pk: Any,
               records_of: Callable[[Connection, Builder, list[Any]], list[Record]], builder: Builder, settled: str,
               made_at: str) -> Counter[str]:
    """The records of the rows of `query` after the progress `mark` (less the margin), a chunk a transaction;
    the mark moved to where every earlier row was settled."""
    made: Counter[str] = Counter()
    with engine.connect() as conn:
        done = _Pass(max(0, scan.read_mark(conn, mark) - MARGIN_ROWS))
    while rows := scan.chunk(engine, scan.after(query, pk, done.cursor)):
        done.cursor = rows[-1].pk
        ready = _settled(rows, settled, done)
        with engine.begin() as conn:
            made += scan.insert(conn, records_of(conn, builder, ready), made_at)
    with engine.begin() as conn:
        scan.write_mark(conn, mark, done.mark())
    return made


def _rating_records(conn: Connection, builder: Builder, rows: list[Any]) -> list[Record]:
    held = scan.made_ratings(conn, [row.uuid for row in rows])
    rows = [row for row in rows if row.uuid not in held]
    if not rows:
        return []
    reasons, excluded = scan.reasons_of(conn, rows), scan.excluded_of(conn, [row.uuid for row in rows])
    book = CaseBook(conn)
    book.seed(row.case_no for row in rows if row.case_no)
    return [builder.rating(scan.rating_row(row), reasons.get(row.uuid, []), row.uuid in excluded, book)
            for row in rows]


def _unrated(engine: Engine, builder: Builder, settled: str, made_at: str) -> Counter[str]:
    return _in_passes(engine, UNRATED_MARK, scan.UNRATED, events.c.pk, _unrated_records, builder, settled, made_at)


def _unrated_records(conn: Connection, builder: Builder, rows: list[Any]) -> list[Record]:
    held = scan.made_records(conn, [f"unrated:{row.device_id}:{row.id}" for row in rows])
    places = scan.Placements(conn)
    found = [scan.unrated_row(row, places) for row in rows if f"unrated:{row.device_id}:{row.id}" not in held]
    book = CaseBook(conn)
    book.seed(row.case_no for row in found if row.case_no)
    return [builder.unrated(row, book) for row in found]


def _settled(rows: list[Any], settled: str, done: _Pass) -> list[Any]:
    """The rows received before `settled`; the first one that is not holds the mark."""
    ready = []
    for row in rows:
        if row.received_at < settled:
            ready.append(row)
        elif done.held_at is None:
            done.held_at = row.pk
    return ready


def _late_reasons(engine: Engine, builder: Builder, settled: str) -> int:
    """Records refused for want of a reason whose reasons have arrived since: made again; how many."""
    remade = 0
    with engine.connect() as conn:
        done = _Pass(max(0, scan.read_mark(conn, REASONS_MARK) - MARGIN_ROWS))
    query = select(reasons.c.pk, reasons.c.rating_uuid, reasons.c.received_at)
    while rows := scan.chunk(engine, scan.after(query, reasons.c.pk, done.cursor)):
        done.cursor = rows[-1].pk
        uuids = sorted({row.rating_uuid for row in _settled(rows, settled, done)})
        with engine.begin() as conn:
            remade += _remake(conn, builder, uuids)
    with engine.begin() as conn:
        scan.write_mark(conn, REASONS_MARK, done.mark())
    return remade


def _remake(conn: Connection, builder: Builder, uuids: list[str]) -> int:
    waiting = {row.rating_uuid: row.record_id for row in among(conn, _WAITING, province_records.c.rating_uuid, uuids)}
    if not waiting:
        return 0
    rows = list(among(conn, scan.RATINGS, ratings.c.uuid, sorted(waiting)))
    found, excluded = scan.reasons_of(conn, rows), scan.excluded_of(conn, [row.uuid for row in rows])
    book = CaseBook(conn, ignore=frozenset(waiting.values()))   # its own record holds its place in the case
    # A rating whose reasons came from another device has still none of its own: left as it is.
    remade = [record for record in (builder.rating(scan.rating_row(row), found.get(row.uuid, []),
                                                   row.uuid in excluded, book) for row in rows)
              if record.rule != WAITING]
    return sum(write_again(conn, remade, only_rule=WAITING).values())


def _withdraw_excluded(engine: Engine) -> int:
    """Records of ratings excluded after they were made and before any attempt to send them: skipped."""
    with engine.begin() as conn:
        ids = list(conn.execute(_EXCLUDED_PENDING).scalars())
        if not ids:
            return 0
        return conn.execute(update(province_records)
                            .where(province_records.c.record_id.in_(ids),
                                   province_records.c.state == RecordState.PENDING.value,
                                   province_records.c.attempts == 0)
                            .values(state=RecordState.SKIPPED.value, rule=Rule.EXCLUDED.value,
                                    problem="excluded from the scores (an upheld appeal or a confirmed integrity "
                                            "flag) after its record was made, before it was sent")).rowcount
