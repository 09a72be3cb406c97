"""Today's coverage of a scope: which units, counters and devices rated, and which devices are silent while
their unit is open (the overview's coverage, the fleet's thresholds: centre/fleet.py).

Opening hours are the registry's weekly hours (centre/registry/hours.py) in the unit's zone: a public
holiday on which a unit is closed is not known here, so its devices may be listed as silent that day.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, func, select

from centre import reports
from centre.db.tables import counters, ratings, rollup_days, rollups, units
from centre.fleet import DEFAULT_SETTINGS, FleetSettings, Place, aware_time, device_rows, place_of, unit_chunks, zone_of
from centre.registry import hours
from centre.registry.model import check_timezone
from centre.rollups import Measure


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
    silent: list[Silent]      # the longest silent first


def is_open(opening_hours: str, zone: ZoneInfo, now: datetime) -> bool:
    """Whether a unit with these weekly hours is open at `now`, in its zone; no (or unreadable) hours: no."""
    local = now.astimezone(zone)
    try:
        periods = hours.parse(opening_hours)
    except hours.BadHours:
        return False
    weekday, moment = hours.DAYS[local.weekday()], local.time().replace(tzinfo=None)
    return any(weekday in days and start <= moment < end for days, start, end in periods)


def _scoped_units(conn: Connection, unit_ids: Sequence[str] | None) -> dict[str, Any]:
    query = select(units.c.id, units.c.timezone, units.c.opening_hours)
    if unit_ids is None:
        return {row.id: row for row in conn.execute(query)}
    return {row.id: row for ids in unit_chunks(unit_ids) for row in conn.execute(query.where(units.c.id.in_(ids)))}


def _rated_units(conn: Connection, day: date) -> set[str]:
    query = (select(rollup_days.c.unit_id).distinct()
             .where(rollup_days.c.day == day.isoformat(), rollup_days.c.measure == Measure.LEVEL.value,
                    rollup_days.c.n > 0))
    return set(conn.execute(query).scalars())


def _rated_counters(conn: Connection, day: date, unit_ids: list[str]) -> set[tuple[str, str]]:
    query = (select(rollups.c.unit_id, rollups.c.counter_id).distinct()
             .where(rollups.c.day == day.isoformat(), rollups.c.measure == Measure.LEVEL.value, rollups.c.n > 0))
    return {(unit_id, counter_id) for ids in unit_chunks(unit_ids)
            for unit_id, counter_id in conn.execute(query.where(rollups.c.unit_id.in_(ids)))}


def _rating_devices(conn: Connection, day: date, zones: dict[str, ZoneInfo]) -> set[str]:
    """The devices that delivered a rating counted on `day` (each unit's local day), through the index on
    (placed_unit_id, counted_at): one range per unit, never a scan of the ratings."""
    by_zone: dict[str, list[str]] = {}
    for unit_id, zone in zones.items():
        by_zone.setdefault(zone.key, []).append(unit_id)
    found: set[str] = set()
    for zone_name, ids in by_zone.items():
        since, until = reports.day_bounds(day, check_timezone(zone_name))
        for chunk in unit_chunks(ids):
            found.update(conn.execute(select(ratings.c.delivered_by).distinct().where(
                ratings.c.placed_unit_id.in_(chunk), ratings.c.counted_at >= since, ratings.c.counted_at < until,
                ratings.c.before_enrollment.is_(False))).scalars())
    return found


def coverage(conn: Connection, unit_ids: Sequence[str] | None, day: date, now: datetime,
             settings: FleetSettings = DEFAULT_SETTINGS) -> Coverage:
    """Today's coverage of these units (None: the city's): the units and counters that rated (from the
    rollups), the devices whose ratings were counted today, and the devices silent while their unit is open."""
    scoped = _scoped_units(conn, unit_ids)
    ids = sorted(scoped)
    zones = {unit_id: zone_of(row.timezone) for unit_id, row in scoped.items()}
    counter_total = sum(conn.execute(select(func.count()).select_from(counters)
                                     .where(counters.c.unit_id.in_(chunk))).scalar_one() for chunk in unit_chunks(ids))
    active = [row for row in device_rows(conn, unit_ids) if row["revoked_at"] is None]
    rated_devices = _rating_devices(conn, day, zones) & {row["id"] for row in active}
    open_now = {unit_id for unit_id, row in scoped.items() if is_open(row.opening_hours, zones[unit_id], now)}
    silent = []
    for row in active:
        last_seen = aware_time(row["last_seen"])
        if row["unit_id"] in open_now and (last_seen is None or now - last_seen > settings.offline_after):
            silent.append(Silent(row["id"], place_of(row), last_seen, now - last_seen if last_seen else None))
    silent.sort(key=lambda item: (item.last_seen is not None, item.last_seen or now, item.place.unit_id,
                                  item.place.counter_id, item.device_id))
    return Coverage(day=day, units=Share(len(_rated_units(conn, day) & set(ids)), len(ids)),
                    counters=Share(len(_rated_counters(conn, day, ids)), counter_total),
                    devices=Share(len(rated_devices), len(active)), open_units=len(open_now), silent=silent)
