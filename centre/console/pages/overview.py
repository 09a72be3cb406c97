"""Overview: the viewer's figures (the city's, its district's or its unit's) for today, this week, month,
quarter and the current round; the trend against the 80 % line; the level distribution and channel mix;
coverage today (the Fleet page's fragment, loaded by htmx)."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta

from fastapi import Request
from fastapi.responses import HTMLResponse
from sqlalchemy import Connection, func, select

from centre import indicators, rollup_reads
from centre.console import charts
from centre.console.roles import figures_scope
from centre.console.texts import translator
from centre.console.web import SignedIn, city_today, engine_of, lang_for, render, router
from centre.db.tables import rollups
from centre.indicators import Indicators, Period, PeriodKind, period_of
from centre.rollups import Measure
from centre.together import together

TREND_DAYS = 30
KNOWN_CHANNELS = ("touch", "panel", "keyboard", "web")


@dataclass(frozen=True)
class Tile:
    """One period's headline: its label, its figures and whether the target is met (None: too few)."""

    key: str
    period: Period
    figures: Indicators

    @property
    def meets_target(self) -> bool | None:
        if self.figures.too_few or self.figures.good_rate is None:
            return None
        return self.figures.good_rate >= charts.TARGET


def _by_day(conn: Connection, unit_ids: tuple[str, ...] | None, start: date, end: date) -> dict[str, tuple[int, int]]:
    """day → (rated, good) over the scope's units: one sum of rollup_days."""
    found = rollup_reads.rated_good(conn, start, end, rollup_reads.By.DAY, unit_ids=unit_ids)
    return {str(day): counts for day, counts in found.items()}


def _channels(conn: Connection, unit_ids: tuple[str, ...] | None, period: Period) -> Counter[str]:
    """Ratings per channel: only the fine rollups know the channel, so the overview asks it of one day."""
    query = (select(rollups.c.channel, func.sum(rollups.c.n))
             .where(rollups.c.measure == Measure.LEVEL.value, rollups.c.day >= period.start.isoformat(),
                    rollups.c.day <= period.end.isoformat())
             .group_by(rollups.c.channel))
    if unit_ids is not None:
        query = query.where(rollups.c.unit_id.in_(unit_ids or ("",)))
    return Counter({channel: int(n) for channel, n in conn.execute(query)})


TILES = (("today", PeriodKind.DAY), ("week", PeriodKind.WEEK), ("month", PeriodKind.MONTH),
         ("quarter", PeriodKind.QUARTER), ("round", PeriodKind.YEAR))


@router.get("/", response_class=HTMLResponse)
def overview(request: Request, viewer: SignedIn) -> HTMLResponse:
    t = translator(lang_for(request))
    engine = engine_of(request)
    today = city_today()
    with engine.connect() as conn:
        scope = figures_scope(conn, viewer)
    start = today - timedelta(days=TREND_DAYS - 1)
    periods = [period_of(kind, today) for _, kind in TILES]
    # Three sums of the rollups, asked at once (centre/console/together.py): the five tiles in one, the trend,
    # today's channels.
    figures, days, channels = together(
        engine, lambda conn: indicators.compute_each(conn, scope, periods),
        lambda conn: _by_day(conn, scope.unit_ids, start, today),
        lambda conn: _channels(conn, scope.unit_ids, period_of(PeriodKind.DAY, today)))
    tiles = [Tile(key, period, found) for (key, _), period, found in zip(TILES, periods, figures, strict=True)]
    labels, rates, counts = [], [], []
    for offset in range(TREND_DAYS):
        day = (start + timedelta(days=offset)).isoformat()
        rated, good = days.get(day, (0, 0))
        labels.append(day[5:])
        counts.append(rated)
        rates.append(good / rated if rated else None)
    named = {t(f"overview.channel_{c}" if c in KNOWN_CHANNELS else "overview.channel_other"): n
             for c, n in sorted(channels.items()) if n}
    return render(request, "overview.html", {
        "scope_label": None if viewer.sees_city else scope.label, "tiles": tiles, "year": today.year,
        "trend_chart": charts.trend(labels, rates, counts, t),
        "levels_chart": charts.levels(tiles[2].figures.by_level, t),
        "channels_chart": charts.shares(named) if named else None,   # nothing rated yet today: said in words
    })
