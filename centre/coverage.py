"""Today's coverage of a scope: which units, counters and devices rated, and which devices are silent while
their unit is open (the overview's coverage, the fleet's thresholds: centre/fleet.py).

Opening hours are the registry's weekly hours (centre/registry/hours.py) in the unit's zone: a public
holiday on which a unit is closed is not known here, so its devices may be listed as silent that day.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, func, or_, select

from centre import reports
from centre.db.tables import counters, device_placements, devices, ratings, rollup_days, rollups, units
from centre.devicerows import Place, places, unit_chunks, zone_of
from centre.fleet import DEFAULT_SETTINGS, FleetSettings, aware_time
from centre.registry import hours
from centre.registry.model import check_timezone
from centre.rollups import Measure
from centre.together import together
from contract import iso_utc

# A placement opened or closed since this long before the day began in UTC (before it began in any zone, with a
# day to spare for a corrected clock): its devices are asked of the ratings, not read by their counter.
RECENT = timedelta(days=2)
HOURS_CACHED = 4096          # distinct opening-hours texts kept parsed (a city's units share a few dozen)


@dataclass(frozen=True)
class Share:
    rated: int
    of: int


@dataclass(frozen=True)
class Silent:
    """A device that sent no heartbeat for FleetSettings.offline_after while its unit is open."""

    device_id: str
    place: Place
    last_seen: datetime | None
    silent_for: timedelta | None


@dataclass(frozen=True)
class Coverage:
    day: date
    units: Share              # units that rated `day`, of the units registered
    counters: Share
    devices: Share            # devices that delivered a rating counted on `day`, of those not revoked
    open_units: int           # units open at `now` by their hours
    silent: list[Silent]      # the longest silent first (the first `shown` of them, when asked for fewer)
    silent_count: int         # how many are silent


def is_open(opening_hours: str, zone: ZoneInfo, now: datetime) -> bool:
    """Whether a unit with these weekly hours is open at `now`, in its zone; no (or unreadable) hours: no."""
    periods = _periods(opening_hours)
    if periods is None:
        return False
    local = now.astimezone(zone)
    weekday, moment = hours.DAYS[local.weekday()], local.time().replace(tzinfo=None)
    return any(weekday in days and start <= moment < end for days, start, end in periods)


@lru_cache(maxsize=HOURS_CACHED)
def _periods(opening_hours: str) -> tuple[tuple[tuple[str, ...], time, time], ...] | None:
    """The weekly hours parsed once per text (the coverage asks it of every unit at every request)."""
    try:
        return tuple(hours.parse(opening_hours))
    except hours.BadHours:
        return None


def _scoped_units(conn: Connection, unit_ids: Sequence[str] | None) -> dict[str, Any]:
    query = select(units.c.id, units.c.timezone, units.c.opening_hours)
    if unit_ids is None:
        return {row.id: row for row in conn.execute(query)}
    return {row.id: row for ids in unit_chunks(unit_ids) for row in conn.execute(query.where(units.c.id.in_(ids)))}


def _counted(conn: Connection, table: Any, unit_ids: Sequence[str] | None, *where: Any) -> int:
    """Rows of `table` in these units (None: every one) that meet `where`, counted in the database."""
    query = select(func.count()).select_from(table).where(*where)
    if unit_ids is None:
        return int(conn.execute(query).scalar_one())
    return sum(int(conn.execute(query.where(table.c.unit_id.in_(ids))).scalar_one()) for ids in unit_chunks(unit_ids))


Device = tuple[str, str, str, str | None]          # (id, unit, counter, last heartbeat's time)


def _active_devices(conn: Connection, unit_ids: Sequence[str] | None) -> list[Device]:
    """The devices not revoked of these units (None: every one), as plain tuples (a Row's attribute costs ten
    times a tuple's item, and a city has thousands)."""
    query = (select(devices.c.id, devices.c.unit_id, devices.c.counter_id, devices.c.last_seen)
             .where(devices.c.revoked_at.is_(None)))
    chunks = [query] if unit_ids is None else [query.where(devices.c.unit_id.in_(ids)) for ids in unit_chunks(unit_ids)]
    return [(row[0], row[1], row[2], row[3]) for chunk in chunks for row in conn.execute(chunk).all()]


def _rated_units(conn: Connection, day: date) -> set[str]:
    query = (select(rollup_days.c.unit_id).distinct()
             .where(rollup_days.c.day == day.isoformat(), rollup_days.c.measure == Measure.LEVEL.value,
                    rollup_days.c.n > 0))
    return set(conn.execute(query).scalars())


def _rated_counters(conn: Connection, day: date, unit_ids: Sequence[str] | None) -> set[tuple[str, str]]:
    """The (unit, counter) pairs rated on `day`, of these units (None: any)."""
    query = (select(rollups.c.unit_id, rollups.c.counter_id).distinct()
             .where(rollups.c.day == day.isoformat(), rollups.c.measure == Measure.LEVEL.value, rollups.c.n > 0))
    if unit_ids is None:
        return {(unit_id, counter_id) for unit_id, counter_id in conn.execute(query).all()}
    return {(unit_id, counter_id) for ids in unit_chunks(unit_ids)
            for unit_id, counter_id in conn.execute(query.where(rollups.c.unit_id.in_(ids)))}


def _recent(conn: Connection, since: str) -> list[Any]:
    """(device, unit, counter) of each place a device stood at for only part of the time since `since`: the
    placements opened (a move, an enrollment) or closed since, the devices revoked since (a few a day)."""
    placed = device_placements.c
    return [tuple(row) for row in (
        *conn.execute(select(placed.device_id, placed.unit_id, placed.counter_id)
                      .where(or_(placed.from_at >= since, placed.until_at >= since))),
        *conn.execute(select(devices.c.id, devices.c.unit_id, devices.c.counter_id)
                      .where(devices.c.revoked_at >= since)))]


def _rating_devices(conn: Connection, day: date, zones: dict[str, ZoneInfo], active: list[Device], recent: list[Any],
                    rated_counters: set[tuple[str, str]]) -> set[str]:
    """The active devices that delivered a rating counted on `day` (each unit's local day). A rating counts at the
    counter its device stood at (centre/provenance.py), so where one device alone stood at a counter since the
    day before, it rated that day exactly when its counter did (the rollups say so). The others, a device moved,
    enrolled or sharing a counter, or at one another device left, are asked of the ratings themselves, through
    the index on (placed_unit_id, counted_at): asking it for every device would read every rating of the day (a
    city year's 55,000: some 170 ms)."""
    at = Counter((unit_id, counter_id) for _, unit_id, counter_id, _ in active)
    touched = {(unit_id, counter_id) for _, unit_id, counter_id in recent}
    moved = {device_id for device_id, _, _ in recent}
    asked = {device_id for device_id, unit_id, counter_id, _ in active
             if device_id in moved or (unit_id, counter_id) in touched or at[(unit_id, counter_id)] > 1}
    found = {device_id for device_id, unit_id, counter_id, _ in active
             if device_id not in asked and (unit_id, counter_id) in rated_counters}
    if not asked:
        return found
    units_asked = {unit_id for unit_id, _ in touched} | {unit_id for device_id, unit_id, _, _ in active
                                                          if device_id in asked}
    by_zone: dict[str, list[str]] = {}
    for unit_id in sorted(units_asked & zones.keys()):
        by_zone.setdefault(zones[unit_id].key, []).append(unit_id)
    for zone_name, ids in by_zone.items():
        since, until = reports.day_bounds(day, check_timezone(zone_name))
        for chunk in unit_chunks(ids):
            found.update(asked & set(conn.execute(select(ratings.c.delivered_by).distinct().where(
                ratings.c.placed_unit_id.in_(chunk), ratings.c.counted_at >= since, ratings.c.counted_at < until,
                ratings.c.before_enrollment.is_(False))).scalars()))
    return found


def coverage(source: Engine | Connection, unit_ids: Sequence[str] | None, day: date, now: datetime,
             settings: FleetSettings = DEFAULT_SETTINGS, shown: int | None = None) -> Coverage:
    """Today's coverage of these units (None: the city's): the units and counters that rated (from the
    rollups), the devices whose ratings were counted today, and the devices silent while their unit is open
    (the first `shown` with their names, None: all). Its reads are asked at once, given an engine."""
    since = iso_utc(datetime.combine(day - RECENT, time(0), tzinfo=UTC))
    scoped, active, recent, rated_units, rated_counters, counter_total = together(
        source, lambda conn: _scoped_units(conn, unit_ids), lambda conn: _active_devices(conn, unit_ids),
        lambda conn: _recent(conn, since), lambda conn: _rated_units(conn, day),
        lambda conn: _rated_counters(conn, day, unit_ids), lambda conn: _counted(conn, counters, unit_ids))
    zones = {unit_id: zone_of(row.timezone) for unit_id, row in scoped.items()}
    open_now = {unit_id for unit_id, row in scoped.items() if is_open(row.opening_hours, zones[unit_id], now)}
    offline_after, silent = settings.offline_after, []
    for device_id, unit_id, counter_id, seen in active:
        last_seen = aware_time(seen)
        if unit_id in open_now and (last_seen is None or now - last_seen > offline_after):
            silent.append((last_seen is not None, last_seen or now, unit_id, counter_id, device_id, last_seen))
    silent.sort()          # never heard from first, then the longest silent; ids are unique
    named = silent if shown is None else silent[:shown]
    rated_devices, where = together(
        source, lambda conn: _rating_devices(conn, day, zones, active, recent, rated_counters),
        lambda conn: places(conn, [(device_id, unit_id, counter_id) for _, _, unit_id, counter_id, device_id, _
                                   in named]))
    return Coverage(day=day, units=Share(len(rated_units & scoped.keys()), len(scoped)),
                    counters=Share(len({pair for pair in rated_counters if pair[0] in scoped}), counter_total),
                    devices=Share(len(rated_devices), len(active)),
                    open_units=len(open_now), silent_count=len(silent),
                    silent=[Silent(item[4], place, item[5], now - item[5] if item[5] else None)
                            for item, place in zip(named, where, strict=True)])
