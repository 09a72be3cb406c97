"""Reading the rollups: which table answers a period at the least cost, and its sums in one statement.

A period of local days splits into the whole months it holds, read from rollup_months (a row per unit,
month, measure and code), and the days at its edges, read from rollup_days: a quarter of a city's 1,000
units is so some 15,000 month rows of levels, where `rollups`, per counter, staff and channel, holds a few
million day rows of it (about 4 s to sum on PostgreSQL, against milliseconds). A figure per day (a trend)
reads rollup_days alone. `rollups` itself is for what needs counter, staff or channel detail; none of the
indicators does yet. The tables are kept together by centre/rollups.py.

Both tables' parts of a sum are one statement (UNION ALL), grouped by what the caller asks: nothing, the
unit, the day, the month, or the unit's district or sector as the registry holds them now (as a district's
token reads: centre/scopes.py).
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import Enum
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    Table,
    and_,
    case,
    func,
    literal_column,
    null,
    or_,
    select,
    union_all,
)

from centre import cityconfig
from centre.db.tables import rollup_days, rollup_months, units
from centre.reports import GOOD_LEVELS
from centre.rollups import Measure

UNIT_CHUNK = 500                  # unit ids per IN (…): far below SQLite's and PostgreSQL's parameter limits

Sums = dict[Any, Counter[tuple[str, str]]]    # the group's key → (measure, code) → count
_GOOD_CODES = [str(level) for level in GOOD_LEVELS]


class By(str, Enum):
    """What a sum is grouped by."""

    NOTHING = "nothing"      # one sum, under the key None
    UNIT = "unit"
    DAY = "day"              # YYYY-MM-DD: from rollup_days alone
    MONTH = "month"          # YYYY-MM
    DISTRICT = "district"    # the registry's district id (None: a unit without one, or not registered)
    SECTOR = "sector"        # the registry's sector code (None likewise)
    SPAN = "span"            # a whole month under its YYYY-MM, a day outside them under its YYYY-MM-DD


@dataclass(frozen=True)
class Spans:
    """Where a period's local days are held at the least cost."""

    months: tuple[str, str] | None                 # the first and the last whole month (YYYY-MM), both included
    days: tuple[tuple[str, str], ...]              # day ranges (YYYY-MM-DD, both included) outside those months


def _next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def spans(start: date, end: date, *, by_day: bool = False) -> Spans:
    """The whole months from `start` to `end` (both included) and the days at either edge; every day, with
    `by_day`."""
    whole = (start.isoformat(), end.isoformat())
    if by_day:
        return Spans(None, (whole,))
    first = start if start.day == 1 else _next_month(start)          # the first day of the first whole month
    last = end if _next_month(end) - timedelta(days=1) == end else end.replace(day=1) - timedelta(days=1)
    if first > last:
        return Spans(None, (whole,))
    days = []
    if start < first:
        days.append((start.isoformat(), (first - timedelta(days=1)).isoformat()))
    if last < end:
        days.append(((last + timedelta(days=1)).isoformat(), end.isoformat()))
    return Spans((first.isoformat()[:7], last.isoformat()[:7]), tuple(days))


def sums(conn: Connection, start: date, end: date, by: By = By.NOTHING, *, unit_ids: Sequence[str] | None = None,
         districts: Sequence[int] = (), sectors: Sequence[str] = (), measure: str | None = None) -> Sums:
    """The counts from `start` to `end` (local days, both included) per `by`, of `unit_ids` (None: every unit)
    within `districts` and `sectors` (none named: any), of one measure or all."""
    found: Sums = {}
    filters = _Filters(unit_ids, districts, sectors, measure)
    for key, measure_, code, n in _rows(conn, start, end, by, filters, detail=True):
        counted = found.get(key)
        if counted is None:
            counted = found[key] = Counter()
        counted[(measure_, code)] += int(n)
    return found


def score_measures(count_web: bool | None = None) -> tuple[str, ...]:
    """The measures a score counts (rated, good, 好评率): the presses' levels, and the web questionnaire's too
    only where the city's config says so (public.count_web_ratings; by default not: issue #18 wants web
    ratings shown apart, never mixed in silently). `count_web` None: the installed config's."""
    if count_web is None:
        count_web = cityconfig.current().public.count_web_ratings
    return (Measure.LEVEL.value, Measure.WEB_LEVEL.value) if count_web else (Measure.LEVEL.value,)


def rated_good(conn: Connection, start: date, end: date, by: By = By.NOTHING, *,
               unit_ids: Sequence[str] | None = None, districts: Sequence[int] = (),
               sectors: Sequence[str] = ()) -> dict[Any, tuple[int, int]]:
    """(rated, good) per `by`, as `sums` narrows: only the levels a score counts (`score_measures`), summed
    in the database (one row per key,
    where `sums` gives one per key and level: a ranking's rows and their Python, five times fewer)."""
    found: dict[Any, tuple[int, int]] = {}
    filters = _Filters(unit_ids, districts, sectors, score_measures())
    for key, rated, good in _rows(conn, start, end, by, filters, detail=False):
        if rated is not None:       # no row: SUM over nothing
            held = found.get(key, (0, 0))
            found[key] = (held[0] + int(rated), held[1] + int(good))
    return found


@dataclass(frozen=True)
class _Filters:
    unit_ids: Sequence[str] | None
    districts: Sequence[int]
    sectors: Sequence[str]
    measure: str | tuple[str, ...] | None

    def chunks(self) -> list[list[str] | None]:
        if self.unit_ids is None:
            return [None]
        ids = list(dict.fromkeys(self.unit_ids))
        return [ids[i:i + UNIT_CHUNK] for i in range(0, len(ids), UNIT_CHUNK)]

    def of(self, table: Table, chunk: list[str] | None) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = [] if chunk is None else [table.c.unit_id.in_(chunk)]
        if self.districts:
            found.append(units.c.district_id.in_(self.districts))
        if self.sectors:
            found.append(units.c.sector_code.in_(self.sectors))
        if isinstance(self.measure, tuple):
            found.append(table.c.measure.in_(self.measure))
        elif self.measure is not None:
            found.append(table.c.measure == self.measure)
        return found


def sums_in(conn: Connection, span: Spans, by: By = By.SPAN, *, unit_ids: Sequence[str] | None = None) -> Sums:
    """`sums` over the whole months and the day ranges `span` names, in one statement, per `by` (By.SPAN: several
    periods' spans merged, each period's sums are those of its own months and days)."""
    found: Sums = {}
    for key, measure_, code, n in _spanned(conn, span, by, _Filters(unit_ids, (), (), None), detail=True):
        counted = found.get(key)
        if counted is None:
            counted = found[key] = Counter()
        counted[(measure_, code)] += int(n)
    return found


def _rows(conn: Connection, start: date, end: date, by: By, filters: _Filters, *, detail: bool) -> list[Any]:
    return _spanned(conn, spans(start, end, by_day=by is By.DAY), by, filters, detail=detail)


def _spanned(conn: Connection, span: Spans, by: By, filters: _Filters, *, detail: bool) -> list[Any]:
    """The rows of one statement per chunk of unit ids: the month table's part and the day table's, UNION ALL."""
    found: list[Any] = []
    for chunk in filters.chunks():
        parts = [_summed(rollup_months, rollup_months.c.month.between(*span.months), by, filters, chunk, detail)
                 ] if span.months else []
        if span.days:
            days = or_(*(rollup_days.c.day.between(first, last) for first, last in span.days))
            parts.append(_summed(rollup_days, days, by, filters, chunk, detail))
        # all(): one fetch of every row, not a fetch per row
        found += conn.execute(parts[0] if len(parts) == 1 else union_all(*parts)).all()
    return found


def _key(table: Table, by: By) -> ColumnElement[Any]:
    if by is By.MONTH and table is rollup_days:
        # literal, not bound: PostgreSQL tells a GROUP BY expression equal to the SELECT's only by its text
        return func.substr(table.c.day, literal_column("1"), literal_column("7"))
    columns = {By.UNIT: table.c.unit_id, By.DISTRICT: units.c.district_id, By.SECTOR: units.c.sector_code,
               By.DAY: table.c.get("day"), By.MONTH: table.c.get("month"),
               By.SPAN: table.c.get("month") if table is rollup_months else table.c.get("day")}
    column = columns.get(by)
    return null() if column is None else column


def _summed(table: Table, period: ColumnElement[bool], by: By, filters: _Filters, chunk: list[str] | None,
            detail: bool) -> Select[Any]:
    """Each measure and code's sum (`detail`), or the levels' (rated, good), per the key of `by`."""
    key = _key(table, by)
    if detail:
        grouped: list[ColumnElement[Any]] = [table.c.measure, table.c.code]
        values = [*grouped, func.sum(table.c.n)]
    else:
        good = func.sum(case((table.c.code.in_(_GOOD_CODES), table.c.n), else_=0))
        grouped, values = [], [func.sum(table.c.n), good]      # of the levels: `rated_good` filters the measure
    query = select(key.label("key"), *values).where(and_(period, *filters.of(table, chunk)))
    query = query.group_by(*([] if by is By.NOTHING else [key]), *grouped)
    if by in (By.DISTRICT, By.SECTOR) or filters.districts or filters.sectors:
        # outer: a unit the registry lacks (or one without a district) still counts, under the key None
        query = query.select_from(table.outerjoin(units, units.c.id == table.c.unit_id))
    return query
