"""Reading a group of units: their ratings and their devices' events over the span, as the signals read them
(centre/integrity/data.py).

A city's quarter is millions of rows, so the reading is shaped by what each row costs:
- a few units per query (READ_UNITS): their ratings by the index on (placed unit, counted time) and their
  devices' events by the index on (device, kind, time), a bitmap scan over the pages they fill (a device's
  batch is stored together). A query for many units at once is planned as a scan of the whole table, and
  every group of units scanned it again;
- no ORDER BY (the database's sort of wide rows cost more than the rest of its work): the rows are gathered
  per device in the order they come, in runs (a device's batch), and sorted here, where a few sorted runs
  merge in one pass;
- only the columns the signals use, a device's own time only where it differs from the counted time;
- no Python loop per row: each row becomes a record (data.Press, data.Event) by map, slicing and
  tuple.__new__ in C, and its day comes from cutting the device's sorted rows at each midnight.
"""
from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Sequence
from functools import lru_cache
from itertools import chain, groupby, repeat
from operator import add, itemgetter, sub
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Select, Text, case, cast, select

from centre.cases.workdays import WorkingCalendar
from centre.db.tables import events, ratings
from centre.errors import BadInput
from centre.integrity.data import END, EVENT_KINDS, Device, Event, Press, Timeline, UnitData, UnitRow, placed_at
from centre.integrity.frame import Frame, Span, build_frame
from centre.integrity.settings import IntegritySettings
from centre.registry.model import check_timezone

DEFAULT_ZONE = "Asia/Shanghai"
READ_UNITS = 8      # units per query: ~35,000 ratings, which PostgreSQL reads by the index (40 it scanned)

_RATING_COLUMNS = (ratings.c.placed_unit_id, ratings.c.placed_counter_id, ratings.c.delivered_by,
                   ratings.c.counted_at, ratings.c.uuid, ratings.c.level, ratings.c.mode, ratings.c.staff_id,
                   ratings.c.boot_id, ratings.c.mono_ns,
                   case((ratings.c.recorded_at == ratings.c.counted_at, None), else_=ratings.c.recorded_at),
                   ratings.c.placement_differs)
_EVENT_COLUMNS = (events.c.device_id, events.c.counted_at, events.c.pk, events.c.kind, events.c.boot_id,
                  events.c.mono_ns, cast(events.c.detail, Text))
_RATING_PLACE, _PRESS = itemgetter(0, 1, 2), itemgetter(slice(3, None))     # unit, counter, device; a Press
_EVENT_GROUP, _EVENT = itemgetter(0, 3), itemgetter(slice(1, None))        # device, kind; an Event
_FIRST = itemgetter(0)
Bounds = tuple[str, str]
Places = dict[tuple[str, str, str], Device]     # (unit, counter, device): a device where it stood


def read_group(conn: Connection, group: Sequence[UnitRow], span: Span, lines: dict[str, Timeline],
               calendar: WorkingCalendar, settings: IntegritySettings) -> list[UnitData]:
    """The units of `group` with their devices' ratings and events over the span (and its margins)."""
    bounds = span.read_bounds()
    frames = _frames(group, span, calendar, settings)
    stood: dict[str, set[str]] = defaultdict(set)        # the devices that ever stood at each unit
    for device_id, line in lines.items():
        for _, _, unit_id, _ in line:
            stood[unit_id].add(device_id)
    places: Places = {}
    for start in range(0, len(group), READ_UNITS):
        chunk = {row.unit_id for row in group[start:start + READ_UNITS]}
        _read_ratings(conn, chunk, frames, bounds, places, lines)
        ids = sorted(set().union(*(stood.get(unit_id, set()) for unit_id in chunk)))
        if ids:
            _read_events(conn, chunk, ids, frames, bounds, places, lines)
    found: dict[str, list[Device]] = defaultdict(list)
    for key in sorted(places):
        found[key[0]].append(places[key])
    return [UnitData(row.unit_id, row.sector, frames[row.unit_id], found.get(row.unit_id, [])) for row in group]


def _frames(group: Sequence[UnitRow], span: Span, calendar: WorkingCalendar,
            settings: IntegritySettings) -> dict[str, Frame]:
    """Each unit's frame; a city's units share a zone and a few opening hours, and so their frames."""
    shared: dict[tuple[str, str], Frame] = {}
    found = {}
    for row in group:
        key = (row.zone, row.opening_hours)
        if key not in shared:
            shared[key] = build_frame(span, _zone(row.zone), row.opening_hours, calendar, settings.grace_minutes)
        found[row.unit_id] = shared[key]
    return found


def _read_ratings(conn: Connection, chunk: set[str], frames: dict[str, Frame], bounds: Bounds, places: Places,
                  lines: dict[str, Timeline]) -> None:
    query = select(*_RATING_COLUMNS).where(
        ratings.c.placed_unit_id.in_(sorted(chunk)), ratings.c.counted_at >= bounds[0],
        ratings.c.counted_at < bounds[1], ratings.c.before_enrollment.is_(False))
    gathered: dict[tuple[str, str, str], list[Any]] = {}
    for key, rows in groupby(_rows(conn, query), _RATING_PLACE):
        gathered.setdefault(key, []).extend(map(_PRESS, rows))
    for (unit_id, counter_id, device_id), pressed in gathered.items():
        device = _place(places, unit_id, counter_id, device_id, lines)
        pressed.sort()                # by time (then uuid): a few runs, merged
        device.presses, first, last = _dated(Press, pressed, frames[unit_id])
        device.rated = device.presses[first:last]


def _read_events(conn: Connection, chunk: set[str], ids: list[str], frames: dict[str, Frame], bounds: Bounds,
                 places: Places, lines: dict[str, Timeline]) -> None:
    """The events of the devices that stood at the chunk's units, each counted where its device stood at its
    time (a device that stood at a unit of another chunk is read there again, for that unit's part)."""
    query = select(*_EVENT_COLUMNS).where(
        events.c.device_id.in_(ids), events.c.kind.in_(EVENT_KINDS), events.c.counted_at >= bounds[0],
        events.c.counted_at < bounds[1])
    gathered: dict[tuple[str, str], list[Any]] = {}
    for key, rows in groupby(_rows(conn, query), _EVENT_GROUP):
        gathered.setdefault(key, []).extend(map(_EVENT, rows))
    for (device_id, kind), items in gathered.items():
        items.sort()                  # by time, then the row's id
        line = lines[device_id]
        parts: dict[tuple[str, str], list[Any]] = defaultdict(list)
        if len(line) == 1:
            parts[(line[0][2], line[0][3])] = items
        else:
            for item in items:
                parts[placed_at(line, item[0])].append(item)
        for (unit_id, counter_id), chosen in parts.items():
            if unit_id in chunk:
                device = _place(places, unit_id, counter_id, device_id, lines)
                device.by_kind[kind] = _dated(Event, chosen, frames[unit_id])[0]


def _dated(record: type[Any], rows: list[tuple[Any, ...]], frame: Frame) -> tuple[list[Any], int, int]:
    """`rows` (in order of time, the time first) as `record`s with their day's index appended, and the slice
    of them on the span's days. Done by cutting the rows at each midnight, not by looking up each row's day;
    the records are made in C (tuple.__new__, as namedtuple's _make does)."""
    cuts = [0, *map(bisect_left, repeat(list(map(_FIRST, rows))), frame.starts), len(rows)]
    days = chain.from_iterable(map(repeat, _days(len(frame.starts)), map(sub, cuts[1:], cuts)))
    made = list(map(tuple.__new__, repeat(record), map(add, rows, days)))
    return made, cuts[1], cuts[-2]


@lru_cache(maxsize=8)
def _days(count: int) -> tuple[tuple[int], ...]:
    """(-1,), (0,), … (count − 1,): each day's index as the tuple appended to its records."""
    return tuple((day,) for day in range(-1, count))


def _rows(conn: Connection, query: Select[Any]) -> list[Any]:
    """The rows of `query` straight from the driver's cursor: SQLAlchemy's result processing was a quarter of
    their reading (the columns read need none of it). psycopg is asked for PostgreSQL's binary format: its
    numbers cost less to send and to read than their text (the same values)."""
    compiled = query.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    params: Any = tuple(compiled.params[name] for name in compiled.positiontup or ()) if compiled.positional \
        else compiled.params
    dbapi: Any = conn.connection.dbapi_connection
    cursor = dbapi.cursor(binary=True) if conn.dialect.driver == "psycopg" else dbapi.cursor()
    try:
        cursor.execute(str(compiled), params)
        return list(cursor.fetchall())
    finally:
        cursor.close()


def _place(places: Places, unit_id: str, counter_id: str, device_id: str, lines: dict[str, Timeline]) -> Device:
    found = places.get((unit_id, counter_id, device_id))
    if found is None:
        # the first placement reaches back: a record before it counts there (as placed_at has it)
        placed = [("" if index == 0 else from_at, until_at or END)
                  for index, (from_at, until_at, unit, counter) in enumerate(lines.get(device_id, []))
                  if (unit, counter) == (unit_id, counter_id)]
        found = places[(unit_id, counter_id, device_id)] = Device(device_id, counter_id,
                                                                  placed=placed or [("", END)])
    return found


def _zone(name: str) -> ZoneInfo:
    try:
        return check_timezone(name)
    except BadInput:    # a unit registered before zones were checked: read in the city's default
        return ZoneInfo(DEFAULT_ZONE)
