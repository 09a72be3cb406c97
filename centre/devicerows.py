"""Reading the devices for the console's fleet, integrity and coverage: a city's thousands are read with what
their state comes from only (STATES: the device's row and its stored chain, centre/chains.py, in one
statement, one snapshot), counted and ordered, and the names and zones of where they stand (PLACES) are
read for those a page shows; `Built` is such a listing, built into what the page shows a slice at a time.
"""
from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, overload
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Select, Text, and_, cast, select

from centre import chains
from centre.db.tables import counters, device_chains, devices, units
from centre.errors import BadInput
from centre.registry.model import DEFAULT_TIMEZONE, check_timezone

S = TypeVar("S")          # what a listing holds of each row
T = TypeVar("T")          # what it shows
UNIT_CHUNK = 500          # ids per IN (…), as centre/rollup_reads.py: far below every backend's limit
ROWS_MADE = 500           # result rows made into Row objects at a time


@dataclass(frozen=True)
class Place:
    """Where a device stands, by the registry's names (its enrollment copies for a unit no longer held)."""

    unit_id: str
    unit_name: str
    unit_name_en: str | None
    counter_id: str
    counter_name: str
    counter_name_en: str | None
    zone: ZoneInfo

    def unit_label(self, lang: str) -> str:
        return self.unit_name_en if lang == "en" and self.unit_name_en else self.unit_name

    def counter_label(self, lang: str) -> str:
        return self.counter_name_en if lang == "en" and self.counter_name_en else self.counter_name


# The heartbeat as its JSON text, parsed by the reader (a driver would parse every row's, wanted or not).
STATES = (select(devices.c.id, devices.c.unit_id, devices.c.counter_id, devices.c.enrolled_at, devices.c.revoked_at,
                 devices.c.app_version, devices.c.last_seen,
                 cast(devices.c.last_heartbeat, Text).label("last_heartbeat"), *chains.READ_COLUMNS)
          .select_from(devices.outerjoin(device_chains, device_chains.c.device_id == devices.c.id)))
# A STATES row rebuilt from its values (kept as a plain tuple until shown: centre/fleet.py's Kept).
StateRow = namedtuple("StateRow", [column.name for column in STATES.selected_columns])  # type: ignore[misc]
PLACES = (select(devices.c.id, devices.c.unit_id, devices.c.counter_id, devices.c.unit_name, devices.c.unit_name_en,
                  devices.c.counter_name, devices.c.counter_name_en, devices.c.unit_timezone,
                  units.c.name.label("reg_unit_name"), units.c.name_en.label("reg_unit_name_en"),
                  units.c.timezone.label("reg_timezone"), counters.c.name.label("reg_counter_name"),
                  counters.c.name_en.label("reg_counter_name_en"))
           .select_from(devices.outerjoin(units, units.c.id == devices.c.unit_id).outerjoin(
               counters, and_(counters.c.unit_id == devices.c.unit_id, counters.c.id == devices.c.counter_id))))


def device_rows(conn: Connection, unit_ids: Sequence[str] | None, device_ids: Sequence[str] | None = None,
                query: Select[Any] = PLACES) -> Iterator[Any]:
    """The devices of these units (None: every one) or these devices, in no order: rows of `query` (PLACES:
    each device's names and zone, where it stands; STATES: what its state comes from), a few hundred made at a
    time (a reader keeps what it needs of each)."""
    column, ids = (devices.c.id, device_ids) if device_ids is not None else (devices.c.unit_id, unit_ids)
    for chunk in [None] if ids is None else unit_chunks(ids):
        found = conn.execute(query if chunk is None else query.where(column.in_(chunk)))
        for rows in found.partitions(ROWS_MADE):
            yield from rows


def unit_chunks(ids: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(ids), UNIT_CHUNK):
        yield ids[start:start + UNIT_CHUNK]


def place_of(row: Any) -> Place:
    """A PLACES row's place."""
    registered = row.reg_unit_name is not None
    counted = row.reg_counter_name is not None
    return Place(unit_id=row.unit_id, unit_name=row.reg_unit_name if registered else row.unit_name,
                 unit_name_en=row.reg_unit_name_en if registered else row.unit_name_en,
                 counter_id=row.counter_id, counter_name=row.reg_counter_name if counted else row.counter_name,
                 counter_name_en=row.reg_counter_name_en if counted else row.counter_name_en,
                 zone=zone_of(row.reg_timezone or row.unit_timezone))


def zone_of(name: str | None) -> ZoneInfo:
    try:
        return check_timezone(name or DEFAULT_TIMEZONE)
    except BadInput:      # a zone this machine's tzdata lacks: the city's, rather than no page
        return check_timezone(DEFAULT_TIMEZONE)


def places(conn: Connection, rows: Sequence[Sequence[Any]]) -> list[Place]:
    """Where these devices (rows that begin with their id, unit and counter, as STATES's) stand, in order: a
    page reads names and zones for the devices it shows only."""
    found = {row.id: place_of(row) for row in device_rows(conn, None, [row[0] for row in rows])}
    # A device is never deleted; one gone since its row was read would still show its ids.
    return [found.get(row[0]) or Place(row[1], row[1], None, row[2], row[2], None, zone_of(None)) for row in rows]


class Built(Sequence[T], Generic[S, T]):
    """A listing's rows in order, built into what a page shows (T) only when asked for, a slice at a time."""

    def __init__(self, seen: list[S], build: Callable[[list[S]], list[T]]) -> None:
        self._seen, self._build = seen, build

    def __len__(self) -> int:
        return len(self._seen)

    @overload
    def __getitem__(self, index: int) -> T: ...

    @overload
    def __getitem__(self, index: slice) -> list[T]: ...

    def __getitem__(self, index: int | slice) -> T | list[T]:
        if isinstance(index, slice):
            return self._build(self._seen[index])
        return self._build([self._seen[index]])[0]
