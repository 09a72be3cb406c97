"""Many figures at once, each in one sum of the coarse rollups (centre/rollup_reads.py): the units ranked by the
lower bound of their 好评率's Wilson interval, a scope's trend by day, week or month, and a scope broken down by
district, sector or unit. The same levels' figures (Figures) for every row; docs/indicators.md defines them.
"""
from __future__ import annotations

from datetime import date, timedelta
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection, Engine, FromClause, select

from centre import rollup_reads, scopes
from centre.db.tables import districts, sectors, units
from centre.errors import BadInput
from centre.indicators import MIN_RATINGS, Interval, Period, PeriodKind, share, wilson


class Figures(BaseModel):
    """What a ranking, a trend or a breakdown shows of each unit, bucket or group: the levels' figures."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    rated: int
    good: int
    bad: int
    good_rate: float | None
    bad_rate: float | None
    good_rate_interval: Interval | None
    too_few: bool


def _figures(rated_good: tuple[int, int] | None, min_ratings: int) -> dict[str, Any]:
    """Figures' fields from (rated, good)."""
    rated, good = rated_good or (0, 0)
    interval = wilson(good, rated)
    return {"rated": rated, "good": good, "bad": rated - good, "good_rate": share(good, rated),
            "bad_rate": share(rated - good, rated), "too_few": rated < min_ratings,
            "good_rate_interval": Interval(low=interval[0], high=interval[1]) if interval else None}


class RankedUnit(Figures):
    unit_id: str
    name: str | None                 # the registry's names (None: a unit it lacks)
    name_en: str | None
    rank: int | None                 # 1 the best; units with the same lower bound share one; None: too few


class Ranking(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    period: PeriodKind
    date_from: str = Field(alias="from")
    date_to: str = Field(alias="to")
    min_ratings: int
    units: list[RankedUnit]          # the ranked by rank (then id), then the too-few by id


def ranking(engine: Engine, period: Period, unit_ids: list[str] | tuple[str, ...] | None = None,
            min_ratings: int = MIN_RATINGS) -> Ranking:
    """The units (None: every unit the registry holds, and any other that has ratings) ranked by the lower
    bound of their 好评率's Wilson interval (docs/indicators.md): a unit with few ratings and a high rate
    does not outrank one whose rate is known. Too-few units are listed after, unranked."""
    with engine.connect() as conn:
        names = {row.id: (row.name, row.name_en) for row in conn.execute(
            select(units.c.id, units.c.name, units.c.name_en)).all()}
        found = rollup_reads.rated_good(conn, period.start, period.end, rollup_reads.By.UNIT, unit_ids=unit_ids)
    listed = list(dict.fromkeys(unit_ids)) if unit_ids is not None else sorted(names.keys() | found.keys())
    rows = {unit: _figures(found.get(unit), min_ratings) for unit in listed}
    lows = {unit: fields["good_rate_interval"].low for unit, fields in rows.items()
            if not fields["too_few"] and fields["good_rate_interval"] is not None}
    order = sorted(lows, key=lambda unit: (-lows[unit], unit))
    ranks: dict[str, int] = {}
    for position, unit in enumerate(order, start=1):
        tied = position > 1 and lows[order[position - 2]] == lows[unit]
        ranks[unit] = ranks[order[position - 2]] if tied else position
    return Ranking(period=period.kind, date_from=period.start.isoformat(), date_to=period.end.isoformat(),
                   min_ratings=min_ratings, units=[
                       RankedUnit(unit_id=unit, name=names.get(unit, (None, None))[0],
                                  name_en=names.get(unit, (None, None))[1], rank=ranks.get(unit), **rows[unit])
                       for unit in [*order, *sorted(unit for unit in rows if unit not in ranks)]])


class Step(str, Enum):
    DAY = "day"
    WEEK = "week"        # ISO weeks, Monday to Sunday
    MONTH = "month"


class Bucket(Figures):
    date_from: str = Field(alias="from")      # local days, both included: a week or a month cut at the range's ends
    date_to: str = Field(alias="to")


class Trend(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    scope: str
    step: Step
    date_from: str = Field(alias="from")
    date_to: str = Field(alias="to")
    min_ratings: int
    buckets: list[Bucket]                    # every step of the range, in order, those without ratings too


def _step(step: Step | str) -> Step:
    try:
        return Step(step)
    except ValueError:
        raise BadInput(f"step must be one of {', '.join(s.value for s in Step)}, got {step!r}") from None


def _bucket_start(day: date, step: Step, start: date) -> date:
    """The first day of the bucket that holds `day`, the range's first day for a bucket it cuts."""
    if step is Step.WEEK:
        return max(day - timedelta(days=day.weekday()), start)
    return max(day.replace(day=1), start) if step is Step.MONTH else day


def _within(scope: scopes.Scope) -> dict[str, Any]:
    """A registry scope as rollup_reads.sums narrows: its units, or its districts and sectors (the city: none)."""
    return {"unit_ids": scope.units or None, "districts": scope.districts, "sectors": scope.sectors}


def trend(engine: Engine, scope: scopes.Scope, start: date, end: date, step: Step | str,
          min_ratings: int = MIN_RATINGS) -> Trend:
    """The scope's figures day by day, week by week or month by month from `start` to `end` (local days, both
    included); a district's or a sector's units are those it holds when asked."""
    chosen = _step(step)
    if end < start:
        raise BadInput(f"the period ends ({end.isoformat()}) before it starts ({start.isoformat()})")
    by = rollup_reads.By.MONTH if chosen is Step.MONTH else rollup_reads.By.DAY
    with engine.connect() as conn:
        label = scopes.describe(conn, scope)
        found = rollup_reads.rated_good(conn, start, end, by, **_within(scope))
    summed: dict[date, tuple[int, int]] = {}
    for key, (rated, good) in found.items():
        bucket = _bucket_start(date.fromisoformat(key if by is rollup_reads.By.DAY else f"{key}-01"), chosen, start)
        held = summed.get(bucket, (0, 0))
        summed[bucket] = (held[0] + rated, held[1] + good)
    buckets, first = [], start
    while first <= end:
        following = {Step.DAY: first + timedelta(days=1), Step.WEEK: first + timedelta(days=7 - first.weekday()),
                     Step.MONTH: (first.replace(day=28) + timedelta(days=4)).replace(day=1)}[chosen]
        last = min(following - timedelta(days=1), end)
        buckets.append(Bucket(date_from=first.isoformat(), date_to=last.isoformat(),
                              **_figures(summed.get(first), min_ratings)))
        first = following
    return Trend(scope=label, step=chosen, date_from=start.isoformat(), date_to=end.isoformat(),
                 min_ratings=min_ratings, buckets=buckets)


class GroupBy(str, Enum):
    DISTRICT = "district"
    SECTOR = "sector"
    UNIT = "unit"


class Group(Figures):
    key: str | None              # the district's id, the sector's code, the unit's id; None: units without one
    name: str | None             # the registry's names
    name_en: str | None


class Breakdown(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    scope: str
    by: GroupBy
    period: PeriodKind
    date_from: str = Field(alias="from")
    date_to: str = Field(alias="to")
    min_ratings: int
    groups: list[Group]          # every group the scope's units are in (those without ratings too), by key


def breakdown(engine: Engine, scope: scopes.Scope, period: Period, by: GroupBy | str,
              min_ratings: int = MIN_RATINGS) -> Breakdown:
    """The scope's figures over the period per district, sector or unit: a district's month by sector, the
    city by district. Units are grouped where the registry places them when asked."""
    try:
        chosen = GroupBy(by)
    except ValueError:
        raise BadInput(f"by must be one of {', '.join(g.value for g in GroupBy)}, got {by!r}") from None
    with engine.connect() as conn:
        label = scopes.describe(conn, scope)
        names = _group_names(conn, scope, chosen)
        found = rollup_reads.rated_good(conn, period.start, period.end, rollup_reads.By(chosen.value),
                                        **_within(scope))
    keys = sorted(key for key in names.keys() | found.keys() if key is not None)
    groups = [Group(key=None if key is None else str(key), name=names.get(key, (None, None))[0],
                    name_en=names.get(key, (None, None))[1], **_figures(found.get(key), min_ratings))
              for key in [*keys, *([None] if None in names.keys() | found.keys() else [])]]
    return Breakdown(scope=label, by=chosen, period=period.kind, date_from=period.start.isoformat(),
                     date_to=period.end.isoformat(), min_ratings=min_ratings, groups=groups)


def _group_names(conn: Connection, scope: scopes.Scope, by: GroupBy) -> dict[Any, tuple[str | None, str | None]]:
    """The groups the scope's registered units are in now, with their names."""
    joined: FromClause = units
    if by is GroupBy.UNIT:
        key, name, name_en = units.c.id, units.c.name, units.c.name_en
    elif by is GroupBy.DISTRICT:
        key, name, name_en = units.c.district_id, districts.c.name, districts.c.name_en
        joined = units.outerjoin(districts, districts.c.id == units.c.district_id)
    else:
        key, name, name_en = units.c.sector_code, sectors.c.name, sectors.c.name_en
        joined = units.outerjoin(sectors, sectors.c.code == units.c.sector_code)
    query = select(key, name, name_en).distinct().select_from(joined)
    if scope.units:
        query = query.where(units.c.id.in_(scope.units))
    if scope.districts:
        query = query.where(units.c.district_id.in_(scope.districts))
    if scope.sectors:
        query = query.where(units.c.sector_code.in_(scope.sectors))
    return {row[0]: (row[1], row[2]) for row in conn.execute(query)}
