"""What the signals read: each unit's ratings and device events over the span, read once per group of units.

One query for the ratings of a group of units (the index on placed_unit_id, counted_at), one for the events
of their devices (the index on device_id, kind, counted_at), only the columns the signals use. Rows are kept
as small tuples; times stay the stored UTC text (centre/integrity/frame.py compares them as text). An event
counts where its device stood at the event's time (its placements), as the rollups count it.
"""
from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from operator import attrgetter
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Select, Text, cast, select

from centre.cases.workdays import WorkingCalendar
from centre.db.tables import device_placements, devices, events, ratings, units
from centre.errors import BadInput
from centre.integrity.frame import Frame, Span, build_frame
from centre.integrity.settings import IntegritySettings
from centre.registry.model import check_timezone

# The events any signal reads; the rest (config digests, call-back bookkeeping) are never fetched.
EVENT_KINDS = ("solicited", "unrated", "suppressed", "staff_sign_in", "staff_sign_out", "access_granted",
               "technician_action", "panel_connected", "panel_disconnected", "storage_failed",
               "storage_recovered", "started", "stopped")
DEFAULT_ZONE = "Asia/Shanghai"
END = "9999"                 # sorts after any stored time: a placement still open
MONO = attrgetter("mono_ns")
ACTIVITY = frozenset({"solicited", "unrated", "suppressed"})   # events a working counter leaves


class Press(NamedTuple):
    """A rating as the signals read it."""

    at: str                  # counted_at, UTC text
    uuid: str
    level: int
    mode: str
    staff_id: str | None
    boot_id: str
    mono_ns: int
    recorded_at: str         # by the device's own clock
    differs: bool            # the device claimed another unit or counter than its placement
    day: int                 # the index of its unit's local day in the span (-1 before it, len(days) after)


class Event(NamedTuple):
    at: str
    id: int                  # the centre's row (events.pk): the evidence names it
    kind: str
    boot_id: str
    mono_ns: int
    raw: str                 # the detail's JSON text: parsed only where a signal reads it (detail_of)
    day: int


_CASE = re.compile(r'"case_no":\s*"((?:[^"\\]|\\.)*)"')


def case_of(event: Event) -> str | None:
    """A request's case number, read off its detail's text (a city's quarter has millions of requests)."""
    found = _CASE.search(event.raw) if "case_no" in event.raw else None
    return found.group(1) if found else None


def detail_of(event: Event) -> dict[str, Any]:
    try:
        found = json.loads(event.raw) if event.raw else {}
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


@dataclass
class Device:
    """One device at one counter of the unit during the span (a device moved in the span appears at each)."""

    device_id: str
    counter_id: str
    presses: list[Press] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    memo: dict[Any, Any] = field(default_factory=dict)    # what several signals derive once (request pairs)
    def sort(self, days: int) -> None:
        self.presses.sort()
        self.events.sort(key=lambda event: (event.at, event.id))
        self.rated = [press for press in self.presses if 0 <= press.day < days]
        for event in self.events:
            self.by_kind.setdefault(event.kind, []).append(event)

    rated: list[Press] = field(default_factory=list)     # the presses counted on the span's days
    placed: list[tuple[str, str]] = field(default_factory=list)   # [from, until) it stood here, UTC text
    by_kind: dict[str, list[Event]] = field(default_factory=dict)  # its events by kind, in order of time

    @cached_property
    def boots(self) -> dict[str, tuple[list[Press], list[Event]]]:
        """Ratings and requests (solicited, unrated) per boot, each in monotonic order: the only clock two
        records can be compared on exactly (the wall clock may be set; the monotonic clock restarts at each
        boot)."""
        found: dict[str, tuple[list[Press], list[Event]]] = {}
        for press in self.presses:
            found.setdefault(press.boot_id, ([], []))[0].append(press)
        for event in self.kind("solicited", "unrated"):
            found.setdefault(event.boot_id, ([], []))[1].append(event)
        for boot_presses, boot_events in found.values():
            boot_presses.sort(key=MONO)
            boot_events.sort(key=MONO)
        return found

    def kind(self, *kinds: str) -> list[Event]:
        """The device's events of these kinds, in order of time."""
        if len(kinds) == 1:
            return self.by_kind.get(kinds[0], [])
        found: list[Event] | None = self.memo.get(kinds)
        if found is None:
            found = self.memo[kinds] = sorted((event for kind in kinds for event in self.by_kind.get(kind, [])),
                                              key=lambda event: (event.at, event.id))
        return found


@dataclass
class UnitData:
    unit_id: str
    sector: str | None
    frame: Frame
    devices: list[Device]
    memo: dict[str, Any] = field(default_factory=dict)    # what several signals derive once (daily counts)

    @property
    def presses(self) -> Iterator[tuple[Device, Press]]:
        for device in self.devices:
            for press in device.presses:
                yield device, press

    def counters(self) -> dict[str, list[Device]]:
        found: dict[str, list[Device]] = defaultdict(list)
        for device in self.devices:
            found[device.counter_id].append(device)
        return dict(found)


@dataclass(frozen=True)
class UnitRow:
    unit_id: str
    zone: str
    opening_hours: str
    sector: str | None


Timeline = list[tuple[str, str | None, str, str]]     # (from_at, until_at, unit_id, counter_id), oldest first


def unit_rows(conn: Connection) -> list[UnitRow]:
    """The registered units, and the units devices stand at that the registry does not hold (older data)."""
    found = {row.id: UnitRow(row.id, row.timezone, row.opening_hours or "", row.sector_code)
             for row in conn.execute(select(units.c.id, units.c.timezone, units.c.opening_hours, units.c.sector_code))}
    for row in conn.execute(select(devices.c.unit_id, devices.c.unit_timezone).distinct()):
        found.setdefault(row.unit_id, UnitRow(row.unit_id, row.unit_timezone, "", None))
    return [found[key] for key in sorted(found)]


def timelines(conn: Connection) -> dict[str, Timeline]:
    """Every device's placements, oldest first; a device with none stands where its row says, since enrollment."""
    found: dict[str, Timeline] = defaultdict(list)
    query = select(device_placements.c.device_id, device_placements.c.from_at, device_placements.c.until_at,
                   device_placements.c.unit_id, device_placements.c.counter_id).order_by(
        device_placements.c.device_id, device_placements.c.from_at)
    for placed in conn.execute(query):
        found[placed.device_id].append((placed.from_at, placed.until_at, placed.unit_id, placed.counter_id))
    for row in conn.execute(select(devices.c.id, devices.c.enrolled_at, devices.c.unit_id, devices.c.counter_id)):
        if row.id not in found:
            found[row.id].append((row.enrolled_at, None, row.unit_id, row.counter_id))
    return dict(found)


def placed_at(timeline: Timeline, at: str) -> tuple[str, str]:
    """Where the device stood at `at`: the placement it was in, else the nearest (an event before enrollment
    counts at the first placement, one after a revocation at the last)."""
    for from_at, until_at, unit_id, counter_id in timeline:
        if at < from_at or until_at is None or at < until_at:
            return unit_id, counter_id
    return timeline[-1][2], timeline[-1][3]


_RATING_COLUMNS = (ratings.c.placed_unit_id, ratings.c.placed_counter_id, ratings.c.delivered_by,
                   ratings.c.counted_at, ratings.c.uuid, ratings.c.level, ratings.c.mode, ratings.c.staff_id,
                   ratings.c.boot_id, ratings.c.mono_ns, ratings.c.recorded_at, ratings.c.placement_differs)
_EVENT_COLUMNS = (events.c.device_id, events.c.counted_at, events.c.pk, events.c.kind, events.c.boot_id,
                  events.c.mono_ns, cast(events.c.detail, Text))


def read_group(conn: Connection, group: Sequence[UnitRow], span: Span, lines: dict[str, Timeline],
               calendar: WorkingCalendar, settings: IntegritySettings) -> list[UnitData]:
    """The units of `group` with their devices' ratings and events over the span (and its margins)."""
    low, high = span.read_bounds()
    frames = {row.unit_id: build_frame(span, _zone(row.zone), row.opening_hours, calendar, settings.grace_minutes)
              for row in group}
    places: dict[tuple[str, str, str], Device] = {}
    query = select(*_RATING_COLUMNS).where(ratings.c.placed_unit_id.in_(sorted(frames)),
                                           ratings.c.counted_at >= low, ratings.c.counted_at < high,
                                           ratings.c.before_enrollment.is_(False))
    for row in _rows(conn, query):
        key = (row[0], row[1], row[2])
        found = places.get(key) or places.setdefault(key, _device(key, lines))
        found.presses.append(Press(row[3], row[4], row[5], row[6], row[7], row[8], row[9], row[10], bool(row[11]),
                                   frames[row[0]].day_of(row[3])))
    ids = sorted(device_id for device_id, line in lines.items() if any(unit_id in frames for _, _, unit_id, _ in line))
    if ids:
        query_events = select(*_EVENT_COLUMNS).where(events.c.device_id.in_(ids), events.c.kind.in_(EVENT_KINDS),
                                                     events.c.counted_at >= low, events.c.counted_at < high)
        for row in _rows(conn, query_events):
            line = lines[row[0]]
            unit_id, counter_id = (line[0][2], line[0][3]) if len(line) == 1 else placed_at(line, row[1])
            frame = frames.get(unit_id)
            if frame is not None:
                key = (unit_id, counter_id, row[0])
                found = places.get(key) or places.setdefault(key, _device(key, lines))
                found.events.append(Event(row[1], row[2], row[3], row[4], row[5], row[6], frame.day_of(row[1])))
    return [_unit(row, frames[row.unit_id], places) for row in group]


def _rows(conn: Connection, query: Select[Any]) -> list[Any]:
    """The rows of `query` straight from the driver's cursor: a city's quarter is millions of rows, and
    SQLAlchemy's result processing was a quarter of their reading (the columns read need none of it)."""
    compiled = query.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    params: Any = tuple(compiled.params[name] for name in compiled.positiontup or ()) if compiled.positional \
        else compiled.params
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(str(compiled), params)
        return list(cursor.fetchall())
    finally:
        cursor.close()


def _device(key: tuple[str, str, str], lines: dict[str, Timeline]) -> Device:
    unit_id, counter_id, device_id = key
    # the first placement reaches back: a record before it counts there (as placed_at has it)
    placed = [("" if index == 0 else from_at, until_at or END)
              for index, (from_at, until_at, unit, counter) in enumerate(lines.get(device_id, []))
              if (unit, counter) == (unit_id, counter_id)]
    return Device(device_id, counter_id, placed=placed or [("", END)])


def _unit(row: UnitRow, frame: Frame, places: dict[tuple[str, str, str], Device]) -> UnitData:
    found = [found for (unit_id, _, _), found in sorted(places.items()) if unit_id == row.unit_id]
    for device in found:
        device.sort(len(frame.starts) - 1)
    return UnitData(row.unit_id, row.sector, frame, found)


def _zone(name: str) -> ZoneInfo:
    try:
        return check_timezone(name)
    except BadInput:    # a unit registered before zones were checked: read in the city's default
        return ZoneInfo(DEFAULT_ZONE)
