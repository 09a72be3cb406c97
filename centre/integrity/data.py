"""What the signals read: each unit's devices, each with its ratings and events over the span, and the units
and the devices' placements they are read by (centre/integrity/reading.py reads them).

Records are small tuples (Press, Event), in order of time; times stay the stored UTC text
(centre/integrity/frame.py compares them as text). An event counts where its device stood at the event's time
(its placements), as the rollups count it.
"""
from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from itertools import accumulate, chain, groupby, repeat
from operator import add, and_, attrgetter, contains, ge, getitem, itemgetter, not_
from typing import Any, NamedTuple

from sqlalchemy import Connection, select

from centre.db.tables import device_placements, devices, units
from centre.integrity.frame import Frame

# The events any signal reads; the rest (config digests, call-back bookkeeping) are never fetched.
EVENT_KINDS = ("solicited", "unrated", "suppressed", "staff_sign_in", "staff_sign_out", "access_granted",
               "technician_action", "panel_connected", "panel_disconnected", "storage_failed",
               "storage_recovered", "started", "stopped")
END = "9999"                 # sorts after any stored time: a placement still open
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
    recorded_at: str | None  # by the device's own clock; None where it is `at` (most: the clock was right)
    differs: bool            # the device claimed another unit or counter than its placement (SQLite: 0 or 1)
    day: int                 # the index of its unit's local day in the span (-1 before it, len(days) after)

    @property
    def device_time(self) -> str:
        return self.recorded_at or self.at


class Event(NamedTuple):
    at: str
    id: int                  # the centre's row (events.pk): the evidence names it; (at, id) orders events
    kind: str
    boot_id: str
    mono_ns: int
    raw: str                 # the detail's JSON text: parsed only where a signal reads it (detail_of)
    day: int


_CASE = re.compile(r'"case_no":\s*"((?:[^"\\]|\\.)*)"')
_CASE_KEY = '"case_no": "'        # as the ingest stores a detail (json.dumps): most are found by this alone
_RAW = attrgetter("raw")


def case_of(event: Event) -> str | None:
    """A request's case number, read off its detail's text (a city's quarter has millions of requests)."""
    raw = event.raw
    start = raw.find(_CASE_KEY)
    if start >= 0:
        start += len(_CASE_KEY)
        end = raw.find('"', start)
        if end >= 0 and raw[end - 1] != "\\":
            return raw[start:end]
    if "case_no" not in raw or '"case_no": null' in raw:
        return None
    found = _CASE.search(raw)          # written otherwise, or with an escaped quote
    return found.group(1) if found else None


def case_numbers(requests: list[Event]) -> list[str | None]:
    """The case number of each request, as case_of reads it: in C where the detail reads as the ingest writes
    it (a case number with no backslash in it, or null), by case_of for the rest."""
    raws = list(map(_RAW, requests))
    heads = list(map(add, map(str.find, raws, repeat(_CASE_KEY)), repeat(len(_CASE_KEY))))
    tails = list(map(str.find, raws, repeat('"'), heads))
    values: list[str] = list(map(getitem, raws, map(slice, heads, tails)))
    plain = map(and_, map(and_, map(ge, heads, repeat(len(_CASE_KEY))), map(ge, tails, repeat(0))),
                map(not_, map(contains, values, repeat("\\"))))
    nulls = map(contains, raws, repeat('"case_no": null'))
    return [value if simple else None if null else case_of(event)
            for value, simple, null, event in zip(values, plain, nulls, requests, strict=True)]


def detail_of(event: Event) -> dict[str, Any]:
    try:
        found = json.loads(event.raw) if event.raw else {}
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


_MONO, _BOOT, _EVENT_BOOT = attrgetter("mono_ns"), itemgetter(5), itemgetter(3)     # a Press's boot, an Event's
BOOT_BITS = 64                 # a monotonic time in ns is below 2**63 (a bigint)


class Clocked(NamedTuple):
    """A device's ratings and requests, boot after boot, with their clocks (Device.clocked)."""

    presses: list[Press]
    clock: list[int]              # each rating's monotonic time + its boot's index × 2**BOOT_BITS
    requests: list[Event]         # requests and unrated requests
    request_clock: list[int]
    earlier: list[int]            # per boot's index: the requests of the boots before it


@dataclass
class Device:
    """One device at one counter of the unit during the span (a device moved in the span appears at each)."""

    device_id: str
    counter_id: str
    placed: list[tuple[str, str]] = field(default_factory=list)   # [from, until) it stood here, UTC text
    presses: list[Press] = field(default_factory=list)            # in order of time
    rated: list[Press] = field(default_factory=list)              # those counted on the span's days
    by_kind: dict[str, list[Event]] = field(default_factory=dict)  # its events by kind, each in order of time
    memo: dict[Any, Any] = field(default_factory=dict)    # what several signals derive once (request pairs)

    @cached_property
    def boots(self) -> dict[str, tuple[list[Press], list[Event]]]:
        """Ratings and requests (solicited, unrated) per boot, each in monotonic order: the only clock two
        records can be compared on exactly (the wall clock may be set; the monotonic clock restarts at each
        boot). Boots in the order of their first rating, then of their first request."""
        requests = self.kind("solicited", "unrated")
        found: dict[str, tuple[list[Press], list[Event]]] = {}
        # in order of time a boot's records come together (a device boots once at a time): gathered by runs
        for boot, presses in groupby(self.presses, _BOOT):
            found.setdefault(boot, ([], []))[0].extend(presses)
        for boot, asked in groupby(requests, _EVENT_BOOT):
            found.setdefault(boot, ([], []))[1].extend(asked)
        for presses_of_boot, asked_of_boot in found.values():
            presses_of_boot.sort(key=_MONO)       # stable: ties stay in order of time
            asked_of_boot.sort(key=_MONO)
        return found

    @cached_property
    def clocked(self) -> Clocked:
        """The boots one after another (as `boots` has them), on one clock: each record's monotonic time plus
        its boot's index × 2**BOOT_BITS. Ordered by it, a boot's records are in monotonic order and the boots
        follow each other; a window or a gap measured on it never spans two boots (a monotonic time in ns is
        below 2**63), so the signals work on whole lists (in C) instead of boot by boot."""
        boots = list(self.boots.values())
        shifts = [index << BOOT_BITS for index in range(len(boots))]
        presses = list(chain.from_iterable(presses for presses, _ in boots))
        requests = list(chain.from_iterable(asked for _, asked in boots))
        return Clocked(
            presses, list(map(add, map(_MONO, presses), chain.from_iterable(
                map(repeat, shifts, (len(presses) for presses, _ in boots))))),
            requests, list(map(add, map(_MONO, requests), chain.from_iterable(
                map(repeat, shifts, (len(asked) for _, asked in boots))))),
            [0, *accumulate(len(asked) for _, asked in boots)])

    def kind(self, *kinds: str) -> list[Event]:
        """The device's events of these kinds, in order of time."""
        if len(kinds) == 1:
            return self.by_kind.get(kinds[0], [])
        found: list[Event] | None = self.memo.get(kinds)
        if found is None:       # (at, id) is unique: the tuples sort by it
            found = self.memo[kinds] = sorted(chain.from_iterable(self.by_kind.get(kind, ()) for kind in kinds))
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
