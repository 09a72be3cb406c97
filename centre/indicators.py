"""The standard indicators (docs/indicators.md), computed once for the CLI, the API and the console.

A scope is a list of unit ids and a label (the city: every unit; a district or a sector: its units), a
period a range of local dates, each unit's own: the rollups (centre/rollups.py) are kept per unit-local
day, so a figure over a month, a quarter or a year reads only them, never a raw rating.
"""
from __future__ import annotations

import math
from calendar import monthrange
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import Enum

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection, Engine

from centre import rollup_reads, scopes
from centre.cases import figures as case_figures
from centre.db.rows import nul_field
from centre.enroll import DEFAULT_TIMEZONE, check_timezone
from centre.errors import BadInput
from centre.reports import GOOD_LEVELS, LEVELS, unit_zone
from centre.rollups import Measure

MIN_RATINGS = 100                 # below this, a scope's 好评率 is "too few": shown, never ranked
Z_95 = 1.959963984540054          # the normal quantile of a two-sided 95 % interval
NOT_MEASURED = "not yet measured"
MEASURED = "measured"


class PeriodKind(str, Enum):
    DAY = "day"
    WEEK = "week"          # ISO week, Monday to Sunday
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"
    CUSTOM = "custom"      # --from … --to …, both included


@dataclass(frozen=True)
class Period:
    kind: PeriodKind
    start: date            # the first local day, included
    end: date              # the last local day, included


def period_of(kind: PeriodKind, day: date) -> Period:
    """The day, week, month, quarter or year that holds `day`."""
    if kind is PeriodKind.WEEK:
        start = day - timedelta(days=day.weekday())
        return Period(kind, start, start + timedelta(days=6))
    if kind is PeriodKind.MONTH:
        return Period(kind, day.replace(day=1), day.replace(day=monthrange(day.year, day.month)[1]))
    if kind is PeriodKind.QUARTER:
        first = 3 * ((day.month - 1) // 3) + 1
        return Period(kind, date(day.year, first, 1), date(day.year, first + 2, monthrange(day.year, first + 2)[1]))
    if kind is PeriodKind.YEAR:
        return Period(kind, date(day.year, 1, 1), date(day.year, 12, 31))
    return Period(kind, day, day)


def choose_period(kind: str | None, day: date | None, start: date | None, end: date | None,
                  today: date) -> Period:
    """The period a command or a query names: from and to (custom), or a kind around a date (default:
    today, the day)."""
    if start is not None or end is not None:
        if start is None or end is None:
            raise BadInput("give both from and to (a custom period), or neither")
        if kind not in (None, PeriodKind.CUSTOM.value) or day is not None:
            raise BadInput("give either from and to, or a period and a date, not both")
        if end < start:
            raise BadInput(f"the period ends ({end.isoformat()}) before it starts ({start.isoformat()})")
        return Period(PeriodKind.CUSTOM, start, end)
    try:
        chosen = PeriodKind(kind or PeriodKind.DAY.value)
    except ValueError:
        raise BadInput(f"period must be one of {', '.join(k.value for k in PeriodKind)}, got {kind!r}") from None
    if chosen is PeriodKind.CUSTOM:
        raise BadInput("a custom period needs from and to")
    return period_of(chosen, day or today)


@dataclass(frozen=True)
class Scope:
    """What the figures cover: `unit_ids`, or every unit (None: the city)."""

    label: str
    unit_ids: tuple[str, ...] | None = None

    @classmethod
    def units(cls, unit_ids: list[str] | tuple[str, ...]) -> Scope:
        ids = tuple(dict.fromkeys(unit_ids))
        return cls(label="unit: " + ", ".join(ids), unit_ids=ids)


CITY = Scope("city")


def wilson(successes: int, trials: int, z: float = Z_95) -> tuple[float, float] | None:
    """The Wilson score interval of a proportion (None without trials): honest for small counts and near
    0 or 1, where the normal approximation is not; rankings use its lower bound."""
    if trials <= 0:
        return None
    p = successes / trials
    z2 = z * z
    centre = (p + z2 / (2 * trials)) / (1 + z2 / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / (1 + z2 / trials)
    return max(0.0, centre - half), min(1.0, centre + half)


class Interval(BaseModel):
    model_config = ConfigDict(extra="forbid")

    low: float
    high: float


class LoopFigures(BaseModel):
    """The bad-review loop's figures (docs/indicators.md; centre/cases/figures.py has them all, per unit and
    district too): filled by `compute`, "not yet measured" where a figure set is summed for many scopes."""

    model_config = ConfigDict(extra="forbid")

    reply_rate: float | None = None                 # 差评回复率
    rectified_rate: float | None = None             # 回访整改率 (整改率)
    rectified_satisfied_rate: float | None = None   # 回访整改满意率
    callback_rate: float | None = None              # 回访率
    cases: int | None = None
    overdue: int | None = None                      # open cases past a deadline now
    median_hours_to_contact: float | None = None
    median_hours_to_close: float | None = None
    status: str = NOT_MEASURED


def loop_figures(conn: Connection, scope: Scope, period: Period) -> LoopFigures:
    """The loop's figures of the scope's cases rated in the period (its units' local days)."""
    found = case_figures.loop_figures(conn, scope.unit_ids, period.start, period.end)
    return LoopFigures(reply_rate=found.reply_rate, rectified_rate=found.rectified_rate,
                       rectified_satisfied_rate=found.satisfied_rate, callback_rate=found.callback_rate,
                       cases=found.cases, overdue=found.overdue, median_hours_to_contact=found.median_hours_to_contact,
                       median_hours_to_close=found.median_hours_to_close, status=MEASURED)


class WebFigures(BaseModel):
    """The web questionnaire's ratings (channel `web`, centre/public; rollups measure `web_level`): always shown
    apart from the presses. `counted_in_score`: whether the score above (rated, good_rate…) counts them too,
    as the city's config says (public.count_web_ratings, default False), so they are never mixed silently."""

    model_config = ConfigDict(extra="forbid")

    rated: int = 0
    by_level: dict[str, int] = Field(default_factory=dict)
    good: int = 0
    good_rate: float | None = None                  # levels 3–5 of the web ratings
    counted_in_score: bool = False


class Indicators(BaseModel):
    """The indicator set of a scope and a period (docs/indicators.md: names, formulas)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    scope: str
    unit_ids: list[str] | None                      # None: the whole city
    period: PeriodKind
    date_from: str = Field(alias="from")            # local dates, both included
    date_to: str = Field(alias="to")
    rated: int                                      # 评价数
    by_level: dict[str, int]
    good: int
    good_rate: float | None                         # 好评率: levels 3–5 of rated
    good_rate_interval: Interval | None             # its Wilson 95 % interval
    too_few: bool                                   # rated < min_ratings: not ranked
    min_ratings: int
    bad: int                                        # 差评数: levels 1–2
    bad_rate: float | None                          # 差评率
    bad_reasons: dict[str, int]
    requests: int                                   # solicited requests (邀评)
    unrated: int                                    # requests closed with no press
    unrated_rate: float | None                      # 未评率 = unrated / requests
    active_rate: float | None                       # 主动评价率 = (requests − unrated) / requests
    suppressed: int                                 # presses that did not count
    before_enrollment: int                          # counted in no figure above
    excluded: int                                   # taken out by an upheld appeal: in no figure above either
    loop: LoopFigures
    web: WebFigures = WebFigures()                  # the web questionnaire's, apart (issue #18)


def counts(conn: Connection, scope: Scope, period: Period) -> Counter[tuple[str, str]]:
    """Sum of the rollups by (measure, code) over the scope's units and the period's local days (whole months
    from the month sums, the days at its edges from the day sums: centre/rollup_reads.py)."""
    return rollup_reads.sums(conn, period.start, period.end, unit_ids=scope.unit_ids).get(None, Counter())


def share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def compute(engine: Engine, scope: Scope, period: Period, min_ratings: int = MIN_RATINGS, *,
            count_web: bool | None = None) -> Indicators:
    """The indicator set of `scope` over `period`, from the rollups alone; `count_web`: whether the score
    counts the web questionnaire's ratings (None: as the city's config says)."""
    with engine.connect() as conn:
        found = counts(conn, scope, period)
        loop = loop_figures(conn, scope, period)
    return _indicators(scope, period, found, min_ratings, loop, count_web)


def compute_each(conn: Connection, scope: Scope, periods: Sequence[Period],
                 min_ratings: int = MIN_RATINGS) -> list[Indicators]:
    """`compute` of each period, in one sum of the rollups however many (the overview's today, week, month,
    quarter and year: their whole months and their other days, each read once)."""
    each = [rollup_reads.spans(period.start, period.end) for period in periods]
    months = [span.months for span in each if span.months]
    merged = rollup_reads.Spans((min(first for first, _ in months), max(last for _, last in months)) if months
                                else None, _merged([days for span in each for days in span.days]))
    found = rollup_reads.sums_in(conn, merged, unit_ids=scope.unit_ids) if months or merged.days else {}
    answers = []
    for period, span in zip(periods, each, strict=True):
        summed: Counter[tuple[str, str]] = Counter()
        for key, counted in found.items():
            in_months = span.months is not None and len(key) == 7 and span.months[0] <= key <= span.months[1]
            if in_months or (len(key) == 10 and any(first <= key <= last for first, last in span.days)):
                summed.update(counted)
        answers.append(_indicators(scope, period, summed, min_ratings))
    return answers


def _merged(ranges: list[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """Day ranges (ISO dates, both ends included) with those that overlap or touch made one."""
    found: list[tuple[str, str]] = []
    for first, last in sorted(ranges):
        if found and date.fromisoformat(first) <= date.fromisoformat(found[-1][1]) + timedelta(days=1):
            found[-1] = (found[-1][0], max(found[-1][1], last))
        else:
            found.append((first, last))
    return tuple(found)


def _indicators(scope: Scope, period: Period, found: Counter[tuple[str, str]], min_ratings: int,
                loop: LoopFigures | None = None, count_web: bool | None = None) -> Indicators:
    # The score counts the presses' levels, and the web questionnaire's only where the city's config says so
    # (rollup_reads.score_measures: public.count_web_ratings, default not); `web` shows them apart either way.
    measures = rollup_reads.score_measures(count_web)
    by_level = {str(level): sum(found[(measure, str(level))] for measure in measures) for level in LEVELS}
    rated = sum(by_level.values())
    good = sum(by_level[str(level)] for level in GOOD_LEVELS)
    bad = rated - good
    interval = wilson(good, rated)
    requests, unrated = found[(Measure.SOLICITED.value, "")], found[(Measure.UNRATED.value, "")]
    return Indicators(
        scope=scope.label, unit_ids=list(scope.unit_ids) if scope.unit_ids is not None else None,
        period=period.kind, date_from=period.start.isoformat(), date_to=period.end.isoformat(),
        rated=rated, by_level=by_level, good=good, good_rate=share(good, rated),
        good_rate_interval=Interval(low=interval[0], high=interval[1]) if interval else None,
        too_few=rated < min_ratings, min_ratings=min_ratings, bad=bad, bad_rate=share(bad, rated),
        bad_reasons=dict(sorted((code, n) for (measure, code), n in found.items()
                                if measure == Measure.REASON.value and n)),
        requests=requests, unrated=unrated, unrated_rate=share(unrated, requests),
        active_rate=share(max(requests - unrated, 0), requests),
        suppressed=found[(Measure.SUPPRESSED.value, "")],
        before_enrollment=sum(n for (measure, _), n in found.items() if measure == Measure.BEFORE_ENROLLMENT.value),
        excluded=sum(n for (measure, _), n in found.items() if measure == Measure.EXCLUDED.value),
        loop=loop or LoopFigures(), web=_web(found, Measure.WEB_LEVEL.value in measures))


def _web(found: Counter[tuple[str, str]], counted: bool) -> WebFigures:
    by_level = {str(level): found[(Measure.WEB_LEVEL.value, str(level))] for level in LEVELS}
    rated, good = sum(by_level.values()), sum(by_level[str(level)] for level in GOOD_LEVELS)
    return WebFigures(rated=rated, by_level=by_level, good=good, good_rate=share(good, rated), counted_in_score=counted)


def answer(engine: Engine, unit_ids: list[str], kind: str | None = None, day: date | None = None,
           start: date | None = None, end: date | None = None, min_ratings: int = MIN_RATINGS) -> Indicators:
    """What `evaluator centre indicators` and GET /v1/indicators answer: the units (none: the city) and the
    period they name, a date defaulting to today in the first unit's zone (the city's: Asia/Shanghai)."""
    unstorable = next((unit for unit in unit_ids if nul_field({"unit": unit})), None)
    if unstorable is not None:
        raise BadInput("unit: contains a NUL character")
    with engine.connect() as conn:
        zones = [unit_zone(conn, unit) for unit in unit_ids]   # an unknown unit is NotFound, not zeros
    zone = zones[0] if zones else check_timezone(DEFAULT_TIMEZONE)
    period = choose_period(kind, day, start, end, datetime.now(UTC).astimezone(zone).date())
    return compute(engine, Scope.units(unit_ids) if unit_ids else CITY, period, min_ratings)


def answer_scope(engine: Engine, scope: scopes.Scope, kind: str | None = None, day: date | None = None,
                 start: date | None = None, end: date | None = None, min_ratings: int = MIN_RATINGS) -> Indicators:
    """`answer` over a registry scope (centre/scopes.py): a district's or a sector's units are those it holds
    when asked, each with its whole history; their date defaults to today in the city's zone."""
    if not (scope.districts or scope.sectors):
        return answer(engine, list(scope.units), kind, day, start, end, min_ratings)
    with engine.connect() as conn:
        chosen = Scope(scopes.describe(conn, scope), scopes.unit_ids(conn, scope))
    today = datetime.now(UTC).astimezone(check_timezone(DEFAULT_TIMEZONE)).date()
    return compute(engine, chosen, choose_period(kind, day, start, end, today), min_ratings)


# -- many scopes at once: a ranking, a trend, a breakdown (one sum each, read by the API and the console) ----
