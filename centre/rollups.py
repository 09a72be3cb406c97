"""Rollups: what the indicators count, kept per unit-local day so a year's figures never scan raw rows.

One table, `rollups` (centre/db/tables.py), one row per (unit, day, counter, staff, channel, measure,
code) with its count `n`:

- measure `level`, code "1"–"5": the ratings that count, where the centre placed the delivering device
  (`placed_unit_id`, `placed_counter_id`), on the unit's local day of `counted_at`;
- measure `before_enrollment`, code the level: ratings recorded before the device was enrolled, kept in
  their own bucket because they count in no unit's score;
- measure `reason`, code the reason code: the reasons of counted ratings (a reason joins a rating its own
  device delivered, as the summary does), on the rating's day, counter, staff and channel; a reason that
  arrives before its rating is counted when the rating arrives;
- measure `excluded`, code the level: ratings an upheld appeal excluded (centre/cases/appeals.py,
  `rating_exclusions`), counted here instead of under `level`: out of every score, still counted and shown;
- measure `web_level`, code the level, channel `web`: a web questionnaire's rating (`web_ratings`, centre/public),
  on the unit's local day it was submitted, its counter ("" for none), no staff; apart from `level`, so a
  score counts it only where the city's config says (`public.count_web_ratings`);
- measures `solicited`, `unrated`, `suppressed`, code "": those events of the device, where the device stood
  at the event's `counted_at` (its placements, as for a rating), on the local day of that time; the staff
  (and channel) their detail names.

Two coarser tables hold the same counts without counter, staff and channel: `rollup_days` per (unit, day,
measure, code) and `rollup_months` per (unit, month, measure, code), month the YYYY-MM of the unit's local
day. They are sums of `rollups`, kept with it, so that a city's figures over a month or a quarter read a few
rows per unit (centre/rollup_reads.py chooses the table that answers a period).

`maintain` runs inside the ingest's transaction with the rows it has just inserted: a batch and its counts
commit together or not at all. Increments are upserts (`n = n + excluded.n`), atomic on SQLite and on
PostgreSQL, in one order, rollups then days then months, each in sorted key order, so that two workers
never deadlock (each takes its row locks in the same total order). Raw rows stay the truth: `rebuild`
recomputes all three tables from them (`evaluator centre rollup rebuild`, and migration 0004 the first).
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from enum import Enum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, Insert, Select, Table, TextClause, bindparam, select, text
from sqlalchemy.dialects import sqlite

from centre.db.arrays import array_literal
from centre.db.lookup import among
from centre.db.loop_tables import rating_exclusions
from centre.db.public_tables import web_ratings
from centre.db.tables import devices, events, ratings, reasons, rollup_days, rollup_months, rollups
from centre.provenance import Placement, placement
from centre.reports import unit_zone
from contract import iso_utc

KEY_COLUMNS = ("unit_id", "day", "counter_id", "staff_id", "channel", "measure", "code")
DAY_COLUMNS = ("unit_id", "day", "measure", "code")
MONTH_COLUMNS = ("unit_id", "month", "measure", "code")
STREAM_ROWS = 5000

Key = tuple[str, str, str, str, str, str, str]   # in the order of KEY_COLUMNS
CoarseKey = tuple[str, str, str, str]            # in the order of DAY_COLUMNS (MONTH_COLUMNS)


class Measure(str, Enum):
    LEVEL = "level"
    BEFORE_ENROLLMENT = "before_enrollment"
    REASON = "reason"
    SOLICITED = "solicited"     # a rating request opened (staff key, counter PC)
    UNRATED = "unrated"         # a request that closed with no press
    SUPPRESSED = "suppressed"   # a press that did not count
    EXCLUDED = "excluded"       # code the level: a rating an upheld appeal took out of the scores
    WEB_LEVEL = "web_level"     # code the level: a web questionnaire's rating (web_ratings), channel `web`


WEB_CHANNEL = "web"   # a web questionnaire's (centre/public): never a press, so never the `level` measure


EVENT_MEASURES = (Measure.SOLICITED.value, Measure.UNRATED.value, Measure.SUPPRESSED.value)


@dataclass(frozen=True)
class Place:
    """Where an event counts: the unit and counter where its device stood, and the unit's zone."""

    unit_id: str
    counter_id: str
    zone: ZoneInfo


class Zones:
    """Each unit's zone, looked up once (the unit's, as the summary reads it: reports.unit_zone)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._found: dict[str, ZoneInfo] = {}

    def __call__(self, unit_id: str) -> ZoneInfo:
        zone = self._found.get(unit_id)
        if zone is None:
            zone = self._found[unit_id] = unit_zone(self._conn, unit_id)
        return zone


# Per zone, the last local day found and its span as UTC text [from, to): a batch's rows mostly fall on one
# day, and fixed-width UTC text compares as the times do, so most rows need no date arithmetic at all.
_DAY_SPANS: dict[ZoneInfo, tuple[str, str, str]] = {}


def local_day(counted_at: str, zone: ZoneInfo) -> str:
    """The unit's calendar day (YYYY-MM-DD) of a stored UTC time (fixed-width UTC text, as iso_utc writes)."""
    span = _DAY_SPANS.get(zone)
    if span is not None and span[0] <= counted_at < span[1] and len(counted_at) == 32 \
            and counted_at.endswith("+00:00"):    # iso_utc's form, whose text sorts as its times
        return span[2]
    local = datetime.fromisoformat(counted_at).astimezone(zone)
    day = local.date()
    start = datetime.combine(day, time(), zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(), zone).astimezone(UTC)
    # Kept only where both ends really are that day's local midnights (not so where a clock change skips one).
    if start.astimezone(zone).date() == day and (end - timedelta(microseconds=1)).astimezone(zone).date() == day:
        _DAY_SPANS[zone] = (iso_utc(start), iso_utc(end), day.isoformat())
    return day.isoformat()


def _rating_key(row: Mapping[Any, Any], zone: ZoneInfo, measure: str, code: str) -> Key:
    return (row["placed_unit_id"], local_day(row["counted_at"], zone), row["placed_counter_id"],
            row["staff_id"] or "", row["channel"], measure, code)


def _rating_measure(row: Mapping[Any, Any]) -> str:
    return Measure.BEFORE_ENROLLMENT.value if row["before_enrollment"] else Measure.LEVEL.value


def web_rating_key(row: Mapping[Any, Any], zone: ZoneInfo) -> Key:
    """A web questionnaire's rating: its unit, the unit's local day it was submitted on, its counter ("" when
    the questionnaire named none), no staff, channel `web`, measure `web_level`: apart from the presses, so
    no score mixes them in unless the city's config says so (centre/indicators.py)."""
    return (row["unit_id"], local_day(row["submitted_at"], zone), row["counter_id"] or "", "", WEB_CHANNEL,
            Measure.WEB_LEVEL.value, str(row["level"]))


def _event_key(kind: str, detail: Any, counted_at: str, place: Place) -> Key:
    detail = detail if isinstance(detail, dict) else {}
    staff, channel = detail.get("staff_id"), detail.get("channel")
    return (place.unit_id, local_day(counted_at, place.zone), place.counter_id,
            staff if isinstance(staff, str) else "", channel if isinstance(channel, str) else "", kind, "")


# -- kept by the ingest --------------------------------------------------------------


def maintain(conn: Connection, signer_id: str, where: Placement, new_ratings: Sequence[Mapping[Any, Any]],
             new_reasons: Sequence[Mapping[Any, Any]], new_events: Sequence[Mapping[Any, Any]]) -> None:
    """Count the rows one batch of `signer_id` (placed as `where` says) has just inserted, in its
    transaction, after all of them are inserted."""
    if not (new_ratings or new_reasons or new_events):
        return
    zone = Zones(conn)
    deltas: Counter[Key] = Counter()
    for row in new_ratings:
        deltas[_rating_key(row, zone(row["placed_unit_id"]), _rating_measure(row), str(row["level"]))] += 1
    for row in new_events:
        if row["kind"] in EVENT_MEASURES:
            deltas[_event_key(row["kind"], row["detail"], row["counted_at"], _event_place(where, row, zone))] += 1
    deltas.update(_reason_deltas(conn, signer_id, zone, new_ratings, new_reasons))
    add(conn, deltas)


def _event_place(where: Placement, row: Mapping[Any, Any], zone: Zones) -> Place:
    """An event counts where its device stood at the event's (corrected) time, as a rating does at its own."""
    placed = where.at(datetime.fromisoformat(row["counted_at"]))
    return Place(placed.unit_id, placed.counter_id, zone(placed.unit_id))


def _reason_deltas(conn: Connection, signer_id: str, zone: Zones, new_ratings: Sequence[Mapping[Any, Any]],
                   new_reasons: Sequence[Mapping[Any, Any]]) -> Counter[Key]:
    """Reasons newly joined to a counted rating: every reason of the signer's on a rating new in this batch
    (sent now or before it), and each new reason on a rating the centre already held from the signer."""
    deltas: Counter[Key] = Counter()
    fresh = {row["uuid"]: row for row in new_ratings if not row["before_enrollment"]}
    for reason in among(conn, _REASONS, reasons.c.rating_uuid, list(fresh)):
        if reason.device_id == signer_id:
            rating = fresh[reason.rating_uuid]
            deltas[_rating_key(rating, zone(rating["placed_unit_id"]), Measure.REASON.value, reason.code)] += 1
    earlier = [row for row in new_reasons if row["rating_uuid"] not in fresh]
    if earlier:
        held = _held_ratings(conn, signer_id, {row["rating_uuid"] for row in earlier})
        for row in earlier:
            found = held.get(row["rating_uuid"])
            if found is not None:
                deltas[_rating_key(found, zone(found["placed_unit_id"]), Measure.REASON.value, row["code"])] += 1
    return deltas


# The reasons on given ratings, of any device: the caller keeps its own device's. A condition on the device
# here let PostgreSQL's plan walk every reason the device ever sent (its unique index leads with device_id),
# a cost that grew with the device's history; on the uuids alone only the rating_uuid index serves.
_REASONS = select(reasons.c.rating_uuid, reasons.c.code, reasons.c.device_id)


_RATING_COLUMNS = (ratings.c.uuid, ratings.c.placed_unit_id, ratings.c.placed_counter_id, ratings.c.staff_id,
                   ratings.c.channel, ratings.c.level, ratings.c.counted_at, ratings.c.before_enrollment)


_HELD_RATINGS = select(*_RATING_COLUMNS).where(ratings.c.delivered_by == bindparam("signer"),
                                               ratings.c.before_enrollment.is_(False))


def _held_ratings(conn: Connection, signer_id: str, uuids: Iterable[str]) -> dict[str, Any]:
    """The counted ratings (not before enrollment) among `uuids` that the signer delivered."""
    return {row.uuid: row._mapping for row in among(conn, _HELD_RATINGS, ratings.c.uuid, sorted(uuids),
                                                    {"signer": signer_id})}


_UPSERTS: dict[tuple[str, str], Insert | TextClause] = {}


def _upsert(conn: Connection, table: Table, key_columns: tuple[str, ...]) -> Insert | TextClause:
    """INSERT … ON CONFLICT (key) DO UPDATE SET n = n + excluded.n, in the connection's dialect; built once
    (building the construct cost more than SQLAlchemy's compiled cache then saved)."""
    found = _UPSERTS.get((table.name, conn.dialect.name))
    if found is None:
        found = _UPSERTS[(table.name, conn.dialect.name)] = _built_upsert(conn, table, key_columns)
    return found


def _built_upsert(conn: Connection, table: Table, key_columns: tuple[str, ...]) -> Insert | TextClause:
    if conn.dialect.name == "postgresql":
        return _unnest_upsert(conn, table, key_columns)
    on_sqlite = sqlite.insert(table)
    return on_sqlite.on_conflict_do_update(index_elements=list(key_columns),
                                           set_={"n": table.c.n + on_sqlite.excluded.n})


def _unnest_upsert(conn: Connection, table: Table, key_columns: tuple[str, ...]) -> TextClause:
    """PostgreSQL: every row of a table's deltas in one statement, each column an array (unnest keeps their
    order, so rows are locked in sorted order, as everywhere) sent in its text form (centre/db/arrays.py). One
    statement a table instead of one a row: the unit's day and month rows, which every counter of the unit
    updates, are held locked for less time."""
    names = (*key_columns, "n")
    arrays = ", ".join(f"CAST(:{name} AS {table.c[name].type.compile(conn.dialect)}[])" for name in names)
    return text(f"INSERT INTO {table.name} ({', '.join(names)}) SELECT * FROM unnest({arrays}) "
                f"ON CONFLICT ({', '.join(key_columns)}) DO UPDATE SET n = {table.name}.n + excluded.n")


def coarse(deltas: Mapping[Key, int]) -> tuple[Counter[CoarseKey], Counter[CoarseKey]]:
    """The counts of `deltas` per (unit, day, measure, code) and per (unit, month, measure, code)."""
    days: Counter[CoarseKey] = Counter()
    months: Counter[CoarseKey] = Counter()
    for (unit_id, day, _counter, _staff, _channel, measure, code), n in deltas.items():
        days[(unit_id, day, measure, code)] += n
        months[(unit_id, day[:7], measure, code)] += n
    return days, months


def _add_to(conn: Connection, table: Table, key_columns: tuple[str, ...], deltas: Mapping[Any, int]) -> None:
    kept = [(key, n) for key, n in sorted(deltas.items()) if n]
    if not kept:
        return
    upsert = _upsert(conn, table, key_columns)
    if isinstance(upsert, TextClause):
        columns = zip(*(key for key, _ in kept), strict=True)
        conn.execute(upsert, {**dict(zip(key_columns, map(array_literal, columns), strict=True)),
                              "n": array_literal([n for _, n in kept])})
    else:
        conn.execute(upsert, [{**dict(zip(key_columns, key, strict=True)), "n": n} for key, n in kept])


def add(conn: Connection, deltas: Mapping[Key, int]) -> None:
    """Add `deltas` to the rollups and to their day and month sums: table by table in one order, key by key in
    sorted order (the order every writer locks rows in). The months last: every batch of a unit's month
    updates the same few rows there, held locked only from here to the commit."""
    _add_to(conn, rollups, KEY_COLUMNS, deltas)
    days, months = coarse(deltas)
    _add_to(conn, rollup_days, DAY_COLUMNS, days)
    _add_to(conn, rollup_months, MONTH_COLUMNS, months)


def exclude(conn: Connection, rating_uuid: str) -> bool:
    """Move a rating the caller has just recorded in `rating_exclusions` from its level to `excluded`, in the
    caller's transaction (the exclusion and the counts commit together). False for a rating that counts in
    no score anyway (recorded before its device was enrolled), which changes nothing."""
    row = conn.execute(select(*_RATING_COLUMNS).where(ratings.c.uuid == rating_uuid)).mappings().one()
    if row["before_enrollment"]:
        return False
    zone = unit_zone(conn, row["placed_unit_id"])
    level = str(row["level"])
    add(conn, {_rating_key(row, zone, Measure.LEVEL.value, level): -1,
               _rating_key(row, zone, Measure.EXCLUDED.value, level): 1})
    return True


# -- the truth: a recount from the raw rows -------------------------------------------


def recount(conn: Connection, *, exclusions: bool = True) -> Counter[Key]:
    """What the rollups should hold, counted from the raw ratings, reasons and events. `exclusions=False` for
    migration 0004, which runs before `rating_exclusions` exists (and so before any rating was excluded)."""
    zone = Zones(conn)
    # Every zone looked up before the rows stream: no other query on the connection while a cursor is open.
    for unit_id in conn.execute(select(ratings.c.placed_unit_id).union(select(devices.c.unit_id))).scalars():
        zone(unit_id)
    counts: Counter[Key] = Counter()
    excluded = set(conn.execute(select(rating_exclusions.c.rating_uuid)).scalars()) if exclusions else set()
    for row in _stream(conn, select(*_RATING_COLUMNS)).mappings():
        measure = _rating_measure(row)
        if measure == Measure.LEVEL.value and row["uuid"] in excluded:
            measure = Measure.EXCLUDED.value
        counts[_rating_key(row, zone(row["placed_unit_id"]), measure, str(row["level"]))] += 1
    joined = select(reasons.c.code, *_RATING_COLUMNS).join(
        ratings, (ratings.c.uuid == reasons.c.rating_uuid) & (ratings.c.delivered_by == reasons.c.device_id))
    for row in _stream(conn, joined.where(ratings.c.before_enrollment.is_(False))).mappings():
        counts[_rating_key(row, zone(row["placed_unit_id"]), Measure.REASON.value, row["code"])] += 1
    wheres = {device_id: placement(conn, device_id) for device_id in conn.execute(select(devices.c.id)).scalars()}
    for where in wheres.values():
        for unit_id in {where.unit_id, *(unit for _, unit, _ in where.earlier)}:
            zone(unit_id)
    kept = select(events.c.device_id, events.c.kind, events.c.detail, events.c.counted_at).where(
        events.c.kind.in_(EVENT_MEASURES))
    for row in _stream(conn, kept).mappings():
        place = _event_place(wheres[row["device_id"]], row, zone)
        counts[_event_key(row["kind"], row["detail"], row["counted_at"], place)] += 1
    if exclusions:   # web_ratings (0011) exists wherever rating_exclusions (0009) does; 0004 precedes both
        counts.update(_web_counts(conn, zone))
    return counts


def _web_counts(conn: Connection, zone: Zones) -> Counter[Key]:
    """The web questionnaires' ratings, as centre/public/webratings.py counts each when it stores it."""
    for unit_id in conn.execute(select(web_ratings.c.unit_id).distinct()).scalars():
        zone(unit_id)
    counts: Counter[Key] = Counter()
    query = select(web_ratings.c.unit_id, web_ratings.c.counter_id, web_ratings.c.level, web_ratings.c.submitted_at)
    for row in _stream(conn, query).mappings():
        counts[web_rating_key(row, zone(row["unit_id"]))] += 1
    return counts


def _stream(conn: Connection, query: Select[Any]) -> Any:
    """The rows of `query` fetched in slices (a server-side cursor on PostgreSQL), not all at once."""
    return conn.execute(query.execution_options(yield_per=STREAM_ROWS))


def stored(conn: Connection, table: Table = rollups) -> Counter[Any]:
    """What a rollup table holds (rows of n = 0 left out: they count nothing): `rollups` by Key, rollup_days
    and rollup_months by CoarseKey."""
    columns = [column for column in table.c if column.name != "n"]
    return Counter({tuple(row[:-1]): row[-1] for row in conn.execute(select(*columns, table.c.n)) if row[-1]})


@dataclass(frozen=True)
class Rebuilt:
    rows: int                  # rollup rows now held
    differed: int              # keys whose count the rebuild changed (0: the rollups were right)
    coarse_differed: int = 0   # rollup_days and rollup_months keys it changed


def rebuild_in(conn: Connection, *, fine_only: bool = False) -> Rebuilt:
    """Replace the rollups and their day and month sums with a recount, in the caller's transaction (which
    holds the write lock). `fine_only`: the rollups alone, for migration 0004, before the sums' tables exist."""
    before = stored(conn)
    truth = recount(conn, exclusions=not fine_only)
    differed = sum(1 for key in before.keys() | truth.keys() if before.get(key, 0) != truth.get(key, 0))
    if fine_only:
        conn.execute(rollups.delete())
        _add_to(conn, rollups, KEY_COLUMNS, truth)
        return Rebuilt(rows=len(truth), differed=differed)
    was = [stored(conn, rollup_days), stored(conn, rollup_months)]
    for table in (rollups, rollup_days, rollup_months):
        conn.execute(table.delete())
    add(conn, truth)
    coarse_differed = sum(1 for held, now in zip(was, coarse(truth), strict=True)
                          for key in held.keys() | now.keys() if held.get(key, 0) != now.get(key, 0))
    return Rebuilt(rows=len(truth), differed=differed, coarse_differed=coarse_differed)


def rebuild(engine: Engine) -> Rebuilt:
    """`evaluator centre rollup rebuild`: one transaction that holds off the ingest's increments meanwhile,
    so none is lost or counted twice."""
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        elif conn.dialect.name == "postgresql":
            # Taken before reading: an ingest that already added holds ROW EXCLUSIVE and is waited for
            # (its rows are then read); a later one waits at its upsert until the rebuild commits. The day
            # and month sums need no lock of their own: every ingest writes them after `rollups`.
            conn.exec_driver_sql("LOCK TABLE rollups IN EXCLUSIVE MODE")
        done = rebuild_in(conn)
        conn.commit()
    return done
