"""What the public results pages publish (docs/public.md, "Results and digests"), read from the centre's own
modules so a citizen sees the office's numbers: the indicators (centre/indicators.py with the bad-review loop's
figures and the web questionnaire's apart; comparisons.ranking), the model-unit rounds and their titles
(centre/modelround.py, centre/roundtitles.py) and the rectifications in aggregate.

Nothing personal and nothing of staff: no names of staff or office accounts (a title's `awarded_by` is not
published), no citizen's text, no case one by one — counts per unit and period only.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, select

from centre.cases.model import AppealState, CaseState
from centre.comparisons import RankedUnit, ranking
from centre.db.loop_tables import cases
from centre.db.tables import districts, sectors, units
from centre.errors import NotFound
from centre.indicators import CITY, MIN_RATINGS, Indicators, Period, PeriodKind, Scope, compute, period_of
from centre.modelround import round_of
from centre.registry.model import DEFAULT_TIMEZONE, check_timezone
from centre.roundtitles import Title, titles_by_year

PUBLIC_PERIODS = (PeriodKind.MONTH, PeriodKind.QUARTER, PeriodKind.YEAR)
_RECTIFIED = {CaseState.RECTIFIED.value, CaseState.VERIFIED.value, CaseState.CLOSED.value}
_VERIFIED = {CaseState.VERIFIED.value, CaseState.CLOSED.value}


@dataclass(frozen=True)
class Unit:
    id: str
    name: str
    name_en: str | None
    district: str | None
    district_en: str | None
    sector: str | None
    sector_en: str | None
    timezone: str


@dataclass(frozen=True)
class Rectification:
    """A unit's bad-review cases of a period, counted: opened, rectified, verified by the office, closed."""

    unit_id: str
    cases: int = 0
    rectified: int = 0
    verified: int = 0
    closed: int = 0


@dataclass(frozen=True)
class Figures:
    """One scope's published figures over one period: centre.indicators' set, the loop's and the web
    questionnaire's (shown apart) in it."""

    period: Period
    indicators: Indicators


@dataclass(frozen=True)
class CityResults:
    figures: Figures
    ranked: list[RankedUnit]          # by rank (the Wilson lower bound), ties sharing one
    too_few: list[RankedUnit]         # fewer ratings than min_ratings: listed, never ranked
    rectifications: list[Rectification]
    names: dict[str, Unit]


@dataclass(frozen=True)
class RoundNotice:
    """A confirmed round's result notice: its terms, when, and the titles (withdrawn ones still listed)."""

    year: int
    target_percent: int
    confirmed_at: str
    titles: list[Title]


def public_period(kind: str | None, day: date | None, today: date) -> Period:
    """The period a results page names: a month, a quarter or a year (default: the month of today)."""
    chosen = next((k for k in PUBLIC_PERIODS if k.value == kind), PeriodKind.MONTH)
    return period_of(chosen, day or today)


def city_today() -> date:
    return datetime.now(UTC).astimezone(check_timezone(DEFAULT_TIMEZONE)).date()


def all_units(conn: Connection) -> dict[str, Unit]:
    query = (select(units.c.id, units.c.name, units.c.name_en, units.c.timezone, districts.c.name.label("district"),
                    districts.c.name_en.label("district_en"), sectors.c.name.label("sector"),
                    sectors.c.name_en.label("sector_en"))
             .select_from(units.outerjoin(districts, districts.c.id == units.c.district_id)
                          .outerjoin(sectors, sectors.c.code == units.c.sector_code)).order_by(units.c.id))
    return {row.id: Unit(row.id, row.name, row.name_en, row.district, row.district_en, row.sector, row.sector_en,
                         row.timezone) for row in conn.execute(query)}


def unit_of(conn: Connection, unit_id: str) -> Unit:
    found = all_units(conn).get(unit_id) if "\x00" not in unit_id else None
    if found is None:
        raise NotFound(f"no unit {unit_id!r} is registered")
    return found


def figures(engine: Engine, scope: Scope, period: Period, min_ratings: int = MIN_RATINGS) -> Figures:
    """The published figures of `scope` (CITY or one unit) over `period`: centre.indicators' own."""
    return Figures(period, compute(engine, scope, period, min_ratings))


def city_results(engine: Engine, period: Period, min_ratings: int = MIN_RATINGS) -> CityResults:
    ranked = ranking(engine, period, None, min_ratings).units
    with engine.connect() as conn:
        names = all_units(conn)
        fixes = rectifications(conn, names, period)
    return CityResults(figures(engine, CITY, period, min_ratings), [unit for unit in ranked if unit.rank is not None],
                       [unit for unit in ranked if unit.rank is None], [fixes[unit] for unit in sorted(fixes)], names)


def rank_of(engine: Engine, unit_id: str, period: Period, min_ratings: int = MIN_RATINGS) -> tuple[int | None, int]:
    """(the unit's rank among the city's ranked units, how many are ranked); None: too few, not ranked."""
    ranked = [unit for unit in ranking(engine, period, None, min_ratings).units if unit.rank is not None]
    return next((unit.rank for unit in ranked if unit.unit_id == unit_id), None), len(ranked)


def rectifications(conn: Connection, names: dict[str, Unit], period: Period) -> dict[str, Rectification]:
    """Each unit's cases of the period (their ratings' local days, as the loop's figures count them), counted;
    a case whose appeal was upheld is in none (its rating is out of the scores too)."""
    counts: dict[str, Counter[str]] = {unit: Counter() for unit in names}
    for row in _cases(conn, tuple(names), period):
        tally = counts.setdefault(row.unit_id, Counter())
        tally["cases"] += 1
        tally["rectified"] += row.state in _RECTIFIED
        tally["verified"] += row.state in _VERIFIED
        tally["closed"] += row.state == CaseState.CLOSED.value
    return {unit: Rectification(unit, **tally) for unit, tally in counts.items()}


def _cases(conn: Connection, unit_ids: tuple[str, ...], period: Period) -> Iterable[Any]:
    low = datetime.combine(period.start - timedelta(days=1), time(0), UTC).isoformat(timespec="microseconds")
    high = datetime.combine(period.end + timedelta(days=2), time(0), UTC).isoformat(timespec="microseconds")
    query = (select(cases.c.unit_id, cases.c.state, cases.c.rated_at, units.c.timezone)
             .outerjoin(units, units.c.id == cases.c.unit_id)
             .where(cases.c.rated_at >= low, cases.c.rated_at < high, cases.c.unit_id.in_(unit_ids),
                    (cases.c.appeal.is_(None)) | (cases.c.appeal != AppealState.UPHELD.value)))
    for row in conn.execute(query):
        zone = check_timezone(row.timezone or DEFAULT_TIMEZONE)
        if period.start <= datetime.fromisoformat(row.rated_at).astimezone(zone).date() <= period.end:
            yield row


def round_notices(conn: Connection, up_to: int) -> list[RoundNotice]:
    """The confirmed rounds up to `up_to`, newest first, each with its titles (withdrawn ones with the round
    and the reason of the withdrawal)."""
    notices = []
    for year, titles in titles_by_year(conn, up_to):
        terms = round_of(conn, year)
        if terms.confirmed_at is not None:
            notices.append(RoundNotice(year, terms.target_percent, terms.confirmed_at, titles))
    return notices


def unit_titles(conn: Connection, unit_id: str, up_to: int) -> list[Title]:
    return [title for _, titles in titles_by_year(conn, up_to) for title in titles if title.unit_id == unit_id]
