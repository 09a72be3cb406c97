"""The reports bench/centre_reports.py times, four ways each, and the integrity report's old and new cost.

- today's code: centre.indicators as the API and the CLI call it. It has no ranking and no trend: a client
  asks one scope and period at a time, so the ranking is `compute` per unit and the trend `compute` per day;
  the district's month by sector is `answer_scope` per (district, sector), the registry scope the API reads.
- one query (a proposal for centre/indicators.py): the same rollup sums grouped by day or by sector in one
  statement, each group's figures made as `compute` makes them (`figures`, checked equal); the ranking
  sums only what ranks a unit (rated, good), one row per unit, ranked by the Wilson lower bound;
- coarser tables (a proposal for centre/rollups.py): the same, from per unit-day and per unit-month sums
  without counter, staff and channel (`build_coarser`): whole months from the one, edge days from the other;
- naive: COUNT … GROUP BY over the raw ratings of the same period (levels only: what a raw query gives).
All units share one zone (Asia/Shanghai), so one UTC range is every unit's local period.
"""
from __future__ import annotations

import inspect
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import (
    TIMESTAMP,
    BigInteger,
    Column,
    Engine,
    Index,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    case,
    cast,
    func,
    select,
)

from bench.city_year import TIMEZONE, ZONE
from centre import indicators, reports, scopes
from centre.db.rows import held_rating
from centre.db.tables import districts, ratings, rollups, units
from centre.indicators import MIN_RATINGS, Indicators, Interval, LoopFigures, Period, PeriodKind, Scope
from centre.registry.sectors import all_sectors
from centre.reports import GOOD_LEVELS, LEVELS, day_bounds
from centre.rollups import Measure
from contract import HASHED_FIELDS, RATING_FIELDS, rating_hash

Ranked = list[tuple[str, int, float]]          # (unit, rated, Wilson low), best first, too-few left out


def figures(found: Counter[tuple[str, str]], scope: Scope, period: Period) -> Indicators:
    """What indicators.compute makes of its rollup sums (its body after `counts`, word for word)."""
    by_level = {str(level): found[(Measure.LEVEL.value, str(level))] for level in LEVELS}
    rated = sum(by_level.values())
    good = sum(by_level[str(level)] for level in GOOD_LEVELS)
    interval = indicators.wilson(good, rated)
    requests, unrated = found[(Measure.SOLICITED.value, "")], found[(Measure.UNRATED.value, "")]
    share = indicators._share
    return Indicators(
        scope=scope.label, unit_ids=list(scope.unit_ids) if scope.unit_ids is not None else None,
        period=period.kind, date_from=period.start.isoformat(), date_to=period.end.isoformat(),
        rated=rated, by_level=by_level, good=good, good_rate=share(good, rated),
        good_rate_interval=Interval(low=interval[0], high=interval[1]) if interval else None,
        too_few=rated < MIN_RATINGS, min_ratings=MIN_RATINGS, bad=rated - good, bad_rate=share(rated - good, rated),
        bad_reasons=dict(sorted((code, n) for (measure, code), n in found.items()
                                if measure == Measure.REASON.value and n)),
        requests=requests, unrated=unrated, unrated_rate=share(unrated, requests),
        active_rate=share(max(requests - unrated, 0), requests),
        suppressed=found[(Measure.SUPPRESSED.value, "")],
        before_enrollment=sum(n for (measure, _), n in found.items() if measure == Measure.BEFORE_ENROLLMENT.value),
        loop=LoopFigures())


def ranked(results: Iterable[tuple[str, Indicators]]) -> Ranked:
    """The ranking rule of docs/indicators.md: by the Wilson lower bound, too-few scopes left out."""
    kept = [(unit, result.rated, result.good_rate_interval.low) for unit, result in results
            if not result.too_few and result.good_rate_interval is not None]
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


# -- today's code: centre.indicators, one scope and period per call ---------------------------------


def ranking_today(engine: Engine, period: Period) -> Ranked:
    with engine.connect() as conn:
        every = list(conn.execute(select(units.c.id).order_by(units.c.id)).scalars())
    return ranked((unit, indicators.compute(engine, Scope.units([unit]), period)) for unit in every)


def trend_today(engine: Engine, unit: str, period: Period) -> list[Indicators]:
    days = (period.end - period.start).days + 1
    return [indicators.compute(engine, Scope.units([unit]), Period(PeriodKind.DAY, day, day))
            for day in (period.start + timedelta(days=i) for i in range(days))]


def district_sectors(engine: Engine, district: int) -> list[str]:
    """The sectors of the district's units (a sector without a rating in the month shows its zeros)."""
    with engine.connect() as conn:
        return list(conn.execute(select(units.c.sector_code).distinct().where(units.c.district_id == district)
                                 .order_by(units.c.sector_code)).scalars())


def by_sector_today(engine: Engine, district: int, month: Period) -> dict[str, Indicators]:
    sectors = district_sectors(engine, district)
    return {sector: indicators.answer_scope(engine, scopes.Scope(districts=(district,), sectors=(sector,)),
                                            PeriodKind.MONTH.value, month.start) for sector in sectors}


# -- one query: the proposal -----------------------------------------------------------------


def _fine(engine: Engine, by: str, period: Period, *where: Any) -> dict[Any, Counter[Any]]:
    """Rollup sums per `by` (unit_id, day, sector_code) over the period, from the rollups table."""
    return _summed(engine, rollups, by, _days_of(rollups, period.start.isoformat(), period.end.isoformat()), *where)


def _days_of(table: Any, first: str, last: str) -> list[Any]:
    return [table.c.day >= first, table.c.day <= last]


def _summed(engine: Engine, table: Any, by: str, span: list[Any], *where: Any) -> dict[Any, Counter[Any]]:
    group = units.c.sector_code if by == "sector_code" else table.c[by]
    query = (select(group, table.c.measure, table.c.code, func.sum(table.c.n))
             .where(*span, *(condition(table) for condition in where))
             .group_by(group, table.c.measure, table.c.code))
    if by == "sector_code":
        query = query.select_from(table.join(units, units.c.id == table.c.unit_id))
    found: dict[Any, Counter[Any]] = {}
    with engine.connect() as conn:
        for key, measure, code, n in conn.execute(query):
            found.setdefault(key, Counter())[(measure, code)] += int(n)
    return found


def of_unit(unit: str) -> Any:
    return lambda table: table.c.unit_id == unit


def of_district(district: int) -> Any:
    return lambda table: units.c.district_id == district


Sums = Any      # (engine, by, period, *where) -> {key: Counter}


def ranking_one_query(engine: Engine, period: Period, sums: Sums = _fine) -> Ranked:
    """The proposed indicators.ranking: per unit only what ranks it (rated, good), one row per unit from SQL,
    not a whole indicator set per unit (~50 µs of pydantic each: 50 ms for a city)."""
    totals: dict[str, list[int]] = {}
    spans = [(rollups, _days_of(rollups, period.start.isoformat(), period.end.isoformat()))] if sums is _fine \
        else coarse_spans(period)
    with engine.connect() as conn:
        for table, span in spans:
            good = func.sum(case((table.c.code.in_([str(level) for level in GOOD_LEVELS]), table.c.n), else_=0))
            query = (select(table.c.unit_id, func.sum(table.c.n), good)
                     .where(table.c.measure == Measure.LEVEL.value, *span).group_by(table.c.unit_id))
            for unit, rated, good_n in conn.execute(query):
                counted = totals.setdefault(unit, [0, 0])
                counted[0], counted[1] = counted[0] + int(rated), counted[1] + int(good_n)
    kept = [(unit, rated, low[0]) for unit, (rated, good_n) in totals.items()
            if rated >= MIN_RATINGS and (low := indicators.wilson(good_n, rated)) is not None]
    return sorted(kept, key=lambda item: (-item[2], item[0]))


def trend_one_query(engine: Engine, unit: str, period: Period, sums: Sums = _fine) -> list[Indicators]:
    found = sums(engine, "day", period, of_unit(unit))
    days = (period.end - period.start).days + 1
    return [figures(found.get(day.isoformat(), Counter()), Scope.units([unit]), Period(PeriodKind.DAY, day, day))
            for day in (period.start + timedelta(days=i) for i in range(days))]


def by_sector_one_query(engine: Engine, district: int, month: Period, sums: Sums = _fine) -> dict[str, Indicators]:
    found = sums(engine, "sector_code", month, of_district(district))
    with engine.connect() as conn:
        name = conn.execute(select(districts.c.name).where(districts.c.id == district)).scalar()
        names = {sector.code: sector.name for sector in all_sectors(conn)}
        members: dict[str, list[str]] = {}
        for unit, sector in conn.execute(select(units.c.id, units.c.sector_code)
                                         .where(units.c.district_id == district).order_by(units.c.id)):
            members.setdefault(sector, []).append(unit)
    # the label scopes.describe gives a district × sector scope, made from two lookups instead of two per sector
    return {sector: figures(found.get(sector, Counter()),
                            Scope(f"district: {name} · sector: {sector} ({names[sector]})", tuple(members[sector])),
                            month) for sector in sorted(members)}


# -- coarser rollups: the proposed tables, summed from the rollups by the bench -----------------------------

proposal = MetaData()
unit_days = Table("bench_unit_days", proposal, Column("unit_id", String, nullable=False),
                  Column("day", String(10), nullable=False), Column("measure", String(24), nullable=False),
                  Column("code", String, nullable=False), Column("n", BigInteger, nullable=False),
                  PrimaryKeyConstraint("unit_id", "day", "measure", "code"), Index("ix_bench_unit_days_day", "day"))
unit_months = Table("bench_unit_months", proposal, Column("unit_id", String, nullable=False),
                    Column("month", String(7), nullable=False), Column("measure", String(24), nullable=False),
                    Column("code", String, nullable=False), Column("n", BigInteger, nullable=False),
                    PrimaryKeyConstraint("unit_id", "month", "measure", "code"),
                    Index("ix_bench_unit_months_month", "month"))


def build_coarser(engine: Engine) -> tuple[int, int]:
    """The proposed tables, what maintain would keep beside the rollups: the same counts without counter,
    staff and channel, per unit-local day and per month. Made once from the rollups, kept with the city."""
    proposal.create_all(engine)
    with engine.begin() as conn:
        if conn.execute(select(func.count()).select_from(unit_months)).scalar() == 0:
            keys = (rollups.c.unit_id, rollups.c.day, rollups.c.measure, rollups.c.code)
            conn.execute(unit_days.insert().from_select(
                ["unit_id", "day", "measure", "code", "n"], select(*keys, func.sum(rollups.c.n)).group_by(*keys)))
            month = func.substr(unit_days.c.day, 1, 7)
            conn.execute(unit_months.insert().from_select(
                ["unit_id", "month", "measure", "code", "n"],
                select(unit_days.c.unit_id, month, unit_days.c.measure, unit_days.c.code, func.sum(unit_days.c.n))
                .group_by(unit_days.c.unit_id, month, unit_days.c.measure, unit_days.c.code)))
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql(f"ANALYZE {unit_days.name}")
                conn.exec_driver_sql(f"ANALYZE {unit_months.name}")
        return tuple(conn.execute(select(func.count()).select_from(table)).scalar() or 0   # type: ignore[return-value]
                     for table in (unit_days, unit_months))


def coarse_spans(period: Period, by_day: bool = False) -> list[tuple[Any, list[Any]]]:
    """Where the proposed tables hold the period: the months wholly inside it in unit_months, the days at its
    edges (all its days, for a trend) in unit_days."""
    if by_day:
        return [(unit_days, _days_of(unit_days, period.start.isoformat(), period.end.isoformat()))]
    spans, months, day = [], [], period.start
    while day <= period.end:
        following = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
        if day.day == 1 and following - timedelta(days=1) <= period.end:
            months.append(day.isoformat()[:7])
        else:
            last = min(following - timedelta(days=1), period.end)
            spans.append((unit_days, _days_of(unit_days, day.isoformat(), last.isoformat())))
        day = following
    return [*spans, *([(unit_months, [unit_months.c.month.in_(months)])] if months else [])]


def coarser(engine: Engine, by: str, period: Period, *where: Any) -> dict[Any, Counter[Any]]:
    """Sums from the proposed tables, as `_fine` gives them from the rollups."""
    found: dict[Any, Counter[Any]] = {}
    for table, span in coarse_spans(period, by_day=by == "day"):
        for key, counted in _summed(engine, table, by, span, *where).items():
            found.setdefault(key, Counter()).update(counted)
    return found


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


def ranking_naive(engine: Engine, period: Period) -> Ranked:
    found = _count(engine, ratings.c.placed_unit_id, period)
    results = []
    for unit, by_level in found.items():
        rated = sum(by_level.values())
        low = indicators.wilson(sum(by_level[str(level)] for level in GOOD_LEVELS), rated)
        if rated >= MIN_RATINGS and low is not None:
            results.append((unit, rated, low[0]))
    return sorted(results, key=lambda item: (-item[2], item[0]))


def local_day(engine: Engine) -> Any:
    """The local calendar day of counted_at, in SQL: each backend spells it its own way."""
    if engine.dialect.name == "postgresql":
        return func.to_char(func.timezone(TIMEZONE, cast(ratings.c.counted_at, TIMESTAMP(timezone=True))),
                            "YYYY-MM-DD")
    return func.date(ratings.c.counted_at, "+8 hours")         # Asia/Shanghai has had no summer time since 1991


def trend_naive(engine: Engine, unit: str, period: Period) -> dict[str, dict[str, int]]:
    return _count(engine, local_day(engine), period, ratings.c.placed_unit_id == unit)


def by_sector_naive(engine: Engine, district: int, month: Period) -> dict[str, dict[str, int]]:
    return _count(engine, units.c.sector_code, month, units.c.district_id == district, join=True)


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
