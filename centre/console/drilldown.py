"""The drill-down's figures: a level of the city (the city, a district, a sector city-wide or within a
district, a unit, a counter, a staff member), its own indicators, its children's, its trend.

Levels made of whole units (city, district, sector, unit) read the per-unit rollups as the indicators do
(centre/rollup_reads.py: month sums and day sums), so a row here equals `indicators.compute` for the same
units and period. A unit's counters and staff are only in `rollups` itself (per counter, staff, channel and
day), read for that one unit. Every sum is one statement, grouped by the children's key.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import Enum
from functools import partial
from typing import Any

from sqlalchemy import Column, Connection, Engine, func, null, select

from centre import rollup_reads, scopes
from centre.comparisons import Step
from centre.db.tables import counters, districts, rollups, sectors, staff, units
from centre.errors import NotFound
from centre.indicators import Interval, Period, wilson
from centre.reports import GOOD_LEVELS, LEVELS
from centre.rollups import Measure
from centre.together import together

TARGET = 0.80
TREND_MIN_DAYS = 30         # a shorter period's trend shows the 30 days to its end: one point says nothing
DAILY_MAX_DAYS = 92         # up to a quarter day by day; longer, month by month


class Kind(str, Enum):
    """The level a drill-down page shows."""

    CITY = "city"
    DISTRICT = "district"
    DISTRICT_SECTOR = "district_sector"     # a sector's units within one district
    SECTOR = "sector"                       # a sector's units in every district
    UNIT = "unit"
    COUNTER = "counter"
    STAFF = "staff"


class Children(str, Enum):
    """What a level's table lists (also the `table` of its xlsx export)."""

    DISTRICTS = "districts"
    SECTORS = "sectors"
    UNITS = "units"
    COUNTERS = "counters"
    STAFF = "staff"


# A staff member's page lists the counters they served at: the last level still has a table to go back down.
CHILDREN: dict[Kind, tuple[Children, ...]] = {
    Kind.CITY: (Children.DISTRICTS, Children.SECTORS),
    Kind.DISTRICT: (Children.SECTORS, Children.UNITS),
    Kind.DISTRICT_SECTOR: (Children.UNITS,),
    Kind.SECTOR: (Children.DISTRICTS, Children.UNITS),
    Kind.UNIT: (Children.COUNTERS, Children.STAFF),
    Kind.COUNTER: (Children.STAFF,),
    Kind.STAFF: (Children.COUNTERS,),
}
WHOLE_UNITS = (Kind.CITY, Kind.DISTRICT, Kind.DISTRICT_SECTOR, Kind.SECTOR, Kind.UNIT)


@dataclass(frozen=True)
class Place:
    """Where a page stands; the ids its kind needs (a counter's or a staff member's page: its unit's too)."""

    kind: Kind
    district: int | None = None
    sector: str | None = None
    unit: str | None = None
    counter: str | None = None
    staff: str | None = None

    @property
    def units_scope(self) -> scopes.Scope:
        """The registry scope of a level made of whole units."""
        if self.unit is not None:
            return scopes.Scope(units=(self.unit,))
        return scopes.Scope(districts=() if self.district is None else (self.district,),
                            sectors=() if self.sector is None else (self.sector,))


@dataclass(frozen=True)
class Named:
    """A district, sector, unit, counter or staff member by its key and the registry's names (None: the
    registry lacks it, or the key is None: units without a district, ratings with nobody signed in)."""

    key: str | None
    name: str | None = None
    name_en: str | None = None

    def label(self, english: bool) -> str | None:
        return (self.name_en or self.name) if english else self.name


@dataclass(frozen=True)
class Figures:
    """One level's or one child's indicators (docs/indicators.md), as indicators.compute counts them."""

    rated: int
    good: int
    bad: int
    good_rate: float | None
    good_rate_interval: Interval | None
    too_few: bool
    by_level: dict[str, int]
    bad_reasons: dict[str, int]
    requests: int
    unrated: int
    suppressed: int
    web_rated: int = 0              # the web questionnaire's ratings: shown apart (issue #18)
    web_good: int = 0
    web_counted: bool = False       # whether `rated` above counts them too (public.count_web_ratings)

    @property
    def web_good_rate(self) -> float | None:
        return self.web_good / self.web_rated if self.web_rated else None

    @property
    def below(self) -> bool:
        """Below the 80 % target with enough ratings to say so."""
        return not self.too_few and self.good_rate is not None and self.good_rate < TARGET


def figures_of(found: Counter[tuple[str, str]] | None, min_ratings: int) -> Figures:
    counted = found or Counter()
    # As indicators.compute: the web questionnaire's levels count only where the city's config says so.
    measures = rollup_reads.score_measures()
    by_level = {str(level): sum(counted[(measure, str(level))] for measure in measures) for level in LEVELS}
    web = {level: counted[(Measure.WEB_LEVEL.value, str(level))] for level in LEVELS}
    rated = sum(by_level.values())
    good = sum(by_level[str(level)] for level in GOOD_LEVELS)
    interval = wilson(good, rated)
    return Figures(
        rated=rated, good=good, bad=rated - good, good_rate=good / rated if rated else None,
        good_rate_interval=Interval(low=interval[0], high=interval[1]) if interval else None,
        too_few=rated < min_ratings, by_level=by_level,
        bad_reasons=dict(sorted(((code, n) for (measure, code), n in counted.items()
                                 if measure == Measure.REASON.value and n), key=lambda item: (-item[1], item[0]))),
        requests=counted[(Measure.SOLICITED.value, "")], unrated=counted[(Measure.UNRATED.value, "")],
        suppressed=counted[(Measure.SUPPRESSED.value, "")], web_rated=sum(web.values()),
        web_good=sum(web[level] for level in GOOD_LEVELS), web_counted=Measure.WEB_LEVEL.value in measures)


@dataclass(frozen=True)
class Row:
    named: Named
    figures: Figures


@dataclass(frozen=True)
class Table:
    children: Children
    rows: list[Row]


@dataclass(frozen=True)
class Point:
    label: str
    rated: int
    good_rate: float | None


@dataclass(frozen=True)
class Located:
    """The page's level and those above it, by the registry's names (None: not on this path)."""

    district: Named | None = None
    sector: Named | None = None
    unit: Named | None = None
    counter: Named | None = None
    staff: Named | None = None


@dataclass(frozen=True)
class Drill:
    place: Place
    located: Located
    headline: Figures
    tables: list[Table]
    trend_step: Step                 # DAY or MONTH
    trend_from: date
    trend_to: date
    trend: list[Point] = field(default_factory=list)


# -- where a page stands ---------------------------------------------------------------


def _one(conn: Connection, query: Any, what: str, counted: Any = None) -> Named:
    """The registry's entry; else, where `counted` finds rollups of the id (a counter or a staff id a
    terminal sent that the registry never held), the bare id; else NotFound."""
    row = conn.execute(query).first()
    if row is not None:
        return Named(str(row[0]), row[1], row[2])
    if counted is not None:
        held = conn.execute(counted.limit(1)).first()
        if held is not None:
            return Named(str(held[0]))
    raise NotFound(f"unknown {what}: the registry has no such {what.split()[0]}")


def locate(conn: Connection, place: Place) -> Located:
    """The place's registry entries (NotFound naming the first that is missing) and, for a unit, where it
    stands (its district and sector, for the breadcrumbs)."""
    district = sector = unit = counter = member = None
    if place.unit is not None:
        row = conn.execute(select(units.c.id, units.c.name, units.c.name_en, units.c.district_id,
                                  units.c.sector_code).where(units.c.id == place.unit)).first()
        if row is None:
            raise NotFound(f"unknown unit {place.unit!r}: the registry has no such unit")
        unit = Named(row.id, row.name, row.name_en)
        place = Place(place.kind, row.district_id, row.sector_code, place.unit, place.counter, place.staff)
    if place.district is not None:
        district = _one(conn, select(districts.c.id, districts.c.name, districts.c.name_en)
                        .where(districts.c.id == place.district), f"district {place.district}")
    if place.sector is not None:
        sector = _one(conn, select(sectors.c.code, sectors.c.name, sectors.c.name_en)
                      .where(sectors.c.code == place.sector), f"sector {place.sector!r}")
    if place.counter is not None:
        counter = _one(conn, select(counters.c.id, counters.c.name, counters.c.name_en).where(
            counters.c.unit_id == place.unit, counters.c.id == place.counter),
            f"counter {place.counter!r} of unit {place.unit!r}",
            select(rollups.c.counter_id).where(rollups.c.unit_id == place.unit, rollups.c.counter_id == place.counter))
    if place.staff is not None:
        member = _one(conn, select(staff.c.id, staff.c.name, staff.c.name_en).where(
            staff.c.unit_id == place.unit, staff.c.id == place.staff),
            f"staff {place.staff!r} on the roster of unit {place.unit!r}",
            select(rollups.c.staff_id).where(rollups.c.unit_id == place.unit, rollups.c.staff_id == place.staff,
                                             rollups.c.staff_id != ""))
    return Located(district, sector, unit, counter, member)


# -- sums ------------------------------------------------------------------------------

Sums = dict[Any, Counter[tuple[str, str]]]
DETAIL_KEYS: dict[Children, Column[str]] = {Children.COUNTERS: rollups.c.counter_id, Children.STAFF: rollups.c.staff_id}
UNIT_KEYS = {Children.DISTRICTS: rollup_reads.By.DISTRICT, Children.SECTORS: rollup_reads.By.SECTOR,
             Children.UNITS: rollup_reads.By.UNIT}


def _detail(conn: Connection, place: Place, start: date, end: date, key: Column[str] | None,
            measure: str | None = None) -> Sums:
    """Sums of one unit's per-counter, per-staff rollups (narrowed to the place's counter or staff member)."""
    grouped = key if key is not None else null()
    query = (select(grouped.label("key"), rollups.c.measure, rollups.c.code, func.sum(rollups.c.n))
             .where(rollups.c.unit_id == place.unit, rollups.c.day.between(start.isoformat(), end.isoformat())))
    if place.counter is not None:
        query = query.where(rollups.c.counter_id == place.counter)
    if place.staff is not None:
        query = query.where(rollups.c.staff_id == place.staff)
    if measure is not None:
        query = query.where(rollups.c.measure == measure)
    query = query.group_by(*([key] if key is not None else []), rollups.c.measure, rollups.c.code)
    found: Sums = {}
    for found_key, measure_, code, n in conn.execute(query):
        found.setdefault(found_key, Counter())[(measure_, code)] += int(n)
    return found


def sums(conn: Connection, place: Place, start: date, end: date, by: Children | None = None) -> Sums:
    """The place's counts from `start` to `end` (local days, both included), per child (None: one sum under
    the key None)."""
    if place.kind in WHOLE_UNITS and by not in DETAIL_KEYS:
        scope = place.units_scope
        return rollup_reads.sums(conn, start, end, rollup_reads.By.NOTHING if by is None else UNIT_KEYS[by],
                                 unit_ids=scope.units or None, districts=scope.districts, sectors=scope.sectors)
    return _detail(conn, place, start, end, None if by is None else DETAIL_KEYS[by])


# -- children --------------------------------------------------------------------------


def _groups(conn: Connection, place: Place, children: Children) -> dict[Any, Named]:
    """The districts, sectors or units the place's registered units are in now, with their names."""
    if children is Children.UNITS:
        query = select(units.c.id, units.c.name, units.c.name_en)
    elif children is Children.DISTRICTS:
        query = (select(units.c.district_id, districts.c.name, districts.c.name_en).distinct()
                 .select_from(units.outerjoin(districts, districts.c.id == units.c.district_id)))
    else:
        query = (select(units.c.sector_code, sectors.c.name, sectors.c.name_en).distinct()
                 .select_from(units.outerjoin(sectors, sectors.c.code == units.c.sector_code)))
    if place.district is not None:
        query = query.where(units.c.district_id == place.district)
    if place.sector is not None:
        query = query.where(units.c.sector_code == place.sector)
    found = {key: Named(None if key is None else str(key), name, name_en)
             for key, name, name_en in conn.execute(query)}
    if children is Children.DISTRICTS and place.kind is Kind.CITY:     # a district with no unit yet too
        found.update({key: Named(str(key), name, name_en) for key, name, name_en in
                      conn.execute(select(districts.c.id, districts.c.name, districts.c.name_en))})
    return found


def _members(conn: Connection, place: Place, children: Children) -> tuple[dict[Any, Named], set[Any]]:
    """The children's names, and which of them a table lists even without figures (the registry's members
    of the level: the city's districts, a district's units, a unit's counters and current roster; a
    counter's staff and a staff member's counters are those with figures)."""
    if children not in DETAIL_KEYS:
        found = _groups(conn, place, children)
        return found, set(found)
    on_unit_page = place.kind is Kind.UNIT
    if children is Children.COUNTERS:
        named = {key: Named(key, name, name_en) for key, name, name_en in conn.execute(
            select(counters.c.id, counters.c.name, counters.c.name_en).where(counters.c.unit_id == place.unit))}
        return named, set(named) if on_unit_page else set()
    roster = conn.execute(select(staff.c.id, staff.c.name, staff.c.name_en, staff.c.left_at)
                          .where(staff.c.unit_id == place.unit)).all()
    named = {key: Named(key, name, name_en) for key, name, name_en, _ in roster}
    named[""] = Named(None)          # ratings and events with nobody signed in
    return named, {key for key, _, _, left_at in roster if left_at is None} if on_unit_page else set()


def _order(key: Any) -> tuple[bool, int, str]:
    """Districts by id, the rest by key; the key-less group (no district, nobody signed in) last."""
    return key is None or key == "", key if isinstance(key, int) else 0, str(key)


def table(conn: Connection, place: Place, period: Period, children: Children, min_ratings: int) -> Table:
    named, listed = _members(conn, place, children)
    found = sums(conn, place, period.start, period.end, children)
    keys = sorted(listed | {key for key, counted in found.items() if sum(counted.values())}, key=_order)
    return Table(children, [Row(named.get(key, Named(None if key is None else str(key))),
                                figures_of(found.get(key), min_ratings)) for key in keys])


# -- trend -----------------------------------------------------------------------------


def trend_span(period: Period, today: date) -> tuple[date, date, Step]:
    """The trend's range and step: the period up to today, at least 30 days, daily up to a quarter."""
    end = today if period.start <= today < period.end else period.end
    start = min(period.start, end - timedelta(days=TREND_MIN_DAYS - 1))
    return start, end, Step.DAY if (end - start).days < DAILY_MAX_DAYS else Step.MONTH


def trend(conn: Connection, place: Place, start: date, end: date, step: Step) -> list[Point]:
    """Satisfaction and ratings per day or month, every bucket of the range (those without ratings too)."""
    level = Measure.LEVEL.value
    if place.kind in WHOLE_UNITS:
        scope = place.units_scope
        by = rollup_reads.By.DAY if step is Step.DAY else rollup_reads.By.MONTH
        found = rollup_reads.sums(conn, start, end, by, unit_ids=scope.units or None, districts=scope.districts,
                                  sectors=scope.sectors, measure=level)
    else:
        by_day = _detail(conn, place, start, end, rollups.c.day, measure=level)
        found = {}
        for day, counted in by_day.items():
            found.setdefault(day if step is Step.DAY else day[:7], Counter()).update(counted)
    labels: list[str] = []
    day = start
    while day <= end:
        labels.append(day.isoformat() if step is Step.DAY else day.isoformat()[:7])
        day = day + timedelta(days=1) if step is Step.DAY else (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    points = []
    for label in labels:
        counted = found.get(label, Counter())
        rated = sum(counted[(level, str(n))] for n in LEVELS)
        good = sum(counted[(level, str(n))] for n in GOOD_LEVELS)
        points.append(Point(label, rated, good / rated if rated else None))
    return points


def drill(engine: Engine, place: Place, period: Period, today: date, min_ratings: int) -> Drill:
    """Everything a drill-down page shows of its level (NotFound for a place the registry lacks): the headline,
    each table and the trend are sums of the rollups of their own, read at once (centre/console/together.py)."""
    with engine.connect() as conn:
        located = locate(conn, place)
    start, end, step = trend_span(period, today)
    headline, points, *tables = together(
        engine, lambda conn: figures_of(sums(conn, place, period.start, period.end).get(None), min_ratings),
        lambda conn: trend(conn, place, start, end, step),
        *(partial(table, place=place, period=period, children=children, min_ratings=min_ratings)
          for children in CHILDREN[place.kind]))
    return Drill(place, located, headline, tables, step, start, end, points)
