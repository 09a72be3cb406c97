"""The reports bench/centre_reports.py times, four ways each, and the integrity report's old and new cost.

- shipped: centre.comparisons.ranking, .trend and .breakdown, one sum each over the rollups' day and month
  tables (centre/rollup_reads.py: whole months from rollup_months, the edge days from rollup_days);
- per scope: centre.indicators as the API's /v1/indicators asks it, one scope and period per call: the
  ranking `compute` per unit, the trend `compute` per day, the district's month by sector `answer_scope`
  per (district, sector) (each call reads the day and month tables too);
- the fine table: the same sums in one query over `rollups` itself, per counter, staff and channel (what the
  reports would cost without the day and month tables);
- naive: COUNT … GROUP BY over the raw ratings of the same period (levels only: what a raw query gives).
Each way's answer is brought to one shape (`Ranked`, `Counted`) and checked equal to the others.
All units share one zone (Asia/Shanghai), so one UTC range is every unit's local period.
"""
from __future__ import annotations

import inspect
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import TIMESTAMP, Engine, case, cast, func, select

from bench.city_year import TIMEZONE, ZONE
from centre import comparisons, indicators, reports, scopes
from centre.comparisons import Breakdown, Trend
from centre.db.rows import held_rating
from centre.db.tables import ratings, rollups, units
from centre.indicators import MIN_RATINGS, Indicators, Period, PeriodKind, Scope
from centre.reports import GOOD_LEVELS, LEVELS, day_bounds
from centre.rollups import Measure
from contract import HASHED_FIELDS, RATING_FIELDS, rating_hash

Ranked = list[tuple[str, int, float]]          # (unit, rated, Wilson low), best first, too-few left out
Counted = dict[str, tuple[int, int]]           # (rated, good) per day or sector, those with ratings only
GOOD_CODES = [str(level) for level in GOOD_LEVELS]


def ranked(results: Iterable[tuple[str, int, int]]) -> Ranked:
    """The ranking rule of docs/indicators.md from (unit, rated, good): by the Wilson lower bound, too-few
    units left out."""
    kept = [(unit, rated, low[0]) for unit, rated, good in results
            if rated >= MIN_RATINGS and (low := indicators.wilson(good, rated)) is not None]
    return sorted(kept, key=lambda item: (-item[2], item[0]))


@dataclass(frozen=True)
class Asked:
    """What the three reports ask: the period of the ranking, the unit and days of the trend, the district
    and month of the by-sector table."""

    ranking: Period
    trend_unit: str
    trend: Period
    district: int
    month: Period


# -- shipped: centre.comparisons' ranking, trend and breakdown -----------------------------------------


def ranking_shipped(engine: Engine, period: Period) -> comparisons.Ranking:
    return comparisons.ranking(engine, period)


def trend_shipped(engine: Engine, unit: str, period: Period) -> Trend:
    return comparisons.trend(engine, scopes.Scope(units=(unit,)), period.start, period.end, comparisons.Step.DAY)


def by_sector_shipped(engine: Engine, district: int, month: Period) -> Breakdown:
    return comparisons.breakdown(engine, scopes.Scope(districts=(district,)), month, comparisons.GroupBy.SECTOR)


def shipped_ranked(result: comparisons.Ranking) -> Ranked:
    """The ranked units in the shipped order (not sorted again: its order is what is checked)."""
    return [(unit.unit_id, unit.rated, unit.good_rate_interval.low) for unit in result.units
            if unit.rank is not None and unit.good_rate_interval is not None]


def shipped_trend(result: Trend) -> Counted:
    return {bucket.date_from: (bucket.rated, bucket.good) for bucket in result.buckets if bucket.rated}


def shipped_sectors(result: Breakdown) -> Counted:
    return {str(group.key): (group.rated, group.good) for group in result.groups if group.rated}


# -- per scope: one indicators call per unit, day or sector ----------------------------------------


def ranking_per_scope(engine: Engine, period: Period) -> Ranked:
    with engine.connect() as conn:
        every = list(conn.execute(select(units.c.id).order_by(units.c.id)).scalars())
    return ranked((unit, result.rated, result.good) for unit in every
                  for result in [indicators.compute(engine, Scope.units([unit]), period)])


def trend_per_scope(engine: Engine, unit: str, period: Period) -> list[Indicators]:
    days = (period.end - period.start).days + 1
    return [indicators.compute(engine, Scope.units([unit]), Period(PeriodKind.DAY, day, day))
            for day in (period.start + timedelta(days=i) for i in range(days))]


def district_sectors(engine: Engine, district: int) -> list[str]:
    """The sectors of the district's units (a sector without a rating in the month shows its zeros)."""
    with engine.connect() as conn:
        return list(conn.execute(select(units.c.sector_code).distinct().where(units.c.district_id == district)
                                 .order_by(units.c.sector_code)).scalars())


def by_sector_per_scope(engine: Engine, district: int, month: Period) -> dict[str, Indicators]:
    sectors = district_sectors(engine, district)
    return {sector: indicators.answer_scope(engine, scopes.Scope(districts=(district,), sectors=(sector,)),
                                            PeriodKind.MONTH.value, month.start) for sector in sectors}


def counted(results: dict[str, Indicators]) -> Counted:
    return {key: (result.rated, result.good) for key, result in results.items() if result.rated}


# -- the fine table: one query over `rollups` ---------------------------------------------------------


def _fine(engine: Engine, group: Any, period: Period, *where: Any, join: bool = False) -> Counted:
    """(rated, good) per `group` from the rollups table itself, over the period's days."""
    good = func.sum(case((rollups.c.code.in_(GOOD_CODES), rollups.c.n), else_=0))
    query = (select(group, func.sum(rollups.c.n), good)
             .where(rollups.c.measure == Measure.LEVEL.value, rollups.c.day >= period.start.isoformat(),
                    rollups.c.day <= period.end.isoformat(), *where).group_by(group))
    if join:
        query = query.select_from(rollups.join(units, units.c.id == rollups.c.unit_id))
    with engine.connect() as conn:
        return {str(key): (int(rated), int(good_n)) for key, rated, good_n in conn.execute(query) if rated}


def ranking_fine(engine: Engine, period: Period) -> Ranked:
    return ranked((unit, rated, good) for unit, (rated, good) in _fine(engine, rollups.c.unit_id, period).items())


def trend_fine(engine: Engine, unit: str, period: Period) -> Counted:
    return _fine(engine, rollups.c.day, period, rollups.c.unit_id == unit)


def by_sector_fine(engine: Engine, district: int, month: Period) -> Counted:
    return _fine(engine, units.c.sector_code, month, units.c.district_id == district, join=True)


# -- naive: the raw ratings ------------------------------------------------------------------


def _utc_range(period: Period) -> tuple[str, str]:
    return day_bounds(period.start, ZONE)[0], day_bounds(period.end, ZONE)[1]


def _count(engine: Engine, group: Any, period: Period, *where: Any, join: bool = False) -> dict[Any, dict[str, int]]:
    since, until = _utc_range(period)
    query = (select(group, ratings.c.level, func.count())
             .where(ratings.c.counted_at >= since, ratings.c.counted_at < until,
                    ratings.c.before_enrollment.is_(False), *where).group_by(group, ratings.c.level))
    if join:
        query = query.select_from(ratings.join(units, units.c.id == ratings.c.placed_unit_id))
    found: dict[Any, dict[str, int]] = {}
    with engine.connect() as conn:
        for key, level, n in conn.execute(query):
            found.setdefault(key, {str(each): 0 for each in LEVELS})[str(level)] = int(n)
    return found


def _rated_good(found: dict[Any, dict[str, int]]) -> Counted:
    return {str(key): (sum(levels.values()), sum(levels[code] for code in GOOD_CODES))
            for key, levels in found.items()}


def ranking_naive(engine: Engine, period: Period) -> Ranked:
    found = _rated_good(_count(engine, ratings.c.placed_unit_id, period))
    return ranked((unit, rated, good) for unit, (rated, good) in found.items())


def local_day(engine: Engine) -> Any:
    """The local calendar day of counted_at, in SQL: each backend spells it its own way."""
    if engine.dialect.name == "postgresql":
        return func.to_char(func.timezone(TIMEZONE, cast(ratings.c.counted_at, TIMESTAMP(timezone=True))),
                            "YYYY-MM-DD")
    return func.date(ratings.c.counted_at, "+8 hours")         # Asia/Shanghai has had no summer time since 1991


def trend_naive(engine: Engine, unit: str, period: Period) -> Counted:
    return _rated_good(_count(engine, local_day(engine), period, ratings.c.placed_unit_id == unit))


def by_sector_naive(engine: Engine, district: int, month: Period) -> Counted:
    return _rated_good(_count(engine, units.c.sector_code, month, units.c.district_id == district, join=True))


# -- the integrity report's old full recheck, on a sample ---------------------------------------


def old_recheck(engine: Engine, device_ids: list[str]) -> tuple[int, float]:
    """The integrity report before device_chains: every rating of a device read and hashed again, its gaps
    and links checked (reports._device_integrity as it was). (ratings rechecked, seconds)."""
    columns = [ratings.c[name] for name in (*RATING_FIELDS, "conflict", "before_enrollment", "placement_differs")]
    started, checked = time.perf_counter(), 0
    with engine.connect() as conn:
        for device in device_ids:
            held = [dict(row) for row in conn.execute(select(*columns).where(ratings.c.delivered_by == device)
                                                      .order_by(ratings.c.seq, ratings.c.pk)).mappings()]
            broken = [row["seq"] for row in held if rating_hash(held_rating(row, HASHED_FIELDS)) != row["hash"]]
            links = sum(1 for before, row in zip(held, held[1:]) if row["prev_hash"] != before["hash"])
            if broken or links:
                raise AssertionError(f"{device}: the generated chain is broken at {broken[:5]} ({links} links)")
            checked += len(held)
    return checked, time.perf_counter() - started


def integrity_today(engine: Engine) -> reports.IntegrityReport:
    return reports.integrity(engine)


def integrity_reads_chains() -> bool:
    """Whether reports.integrity reads device_chains yet (else it hashes every rating again: minutes here)."""
    return "chains" in inspect.getsource(reports.integrity)


def quarter_of(day: date) -> Period:
    return indicators.period_of(PeriodKind.QUARTER, day)
