"""The public results, no login: /results (the city's figures, its units ranked, the model units of each round,
the rectifications in aggregate) and /results/units/{unit_id} (one unit over its month, quarter and year, its
titles, its rectifications and its published digests). docs/public.md, "Results and digests".

The figures are centre.indicators' (and centre.cases.figures' for the loop), read by centre/public/published.py:
the office's numbers, never recomputed here. A unit with fewer ratings than the minimum is said to be so and
is never ranked. Plain tables with captions: no script, no chart the numbers are not beside.
"""
from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from centre.errors import BadInput
from centre.indicators import Period, PeriodKind, Scope, period_of
from centre.public import limits, published, web
from centre.public.digests import digests_of
from centre.public.published import PUBLIC_PERIODS

UNIT_DIGEST_DAYS = 31      # the unit page lists this many days' digests (the JSON has every one)


def _date_param(request: Request) -> date | None:
    raw = request.query_params.get("date")
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise BadInput(f"date: a date as YYYY-MM-DD, got {raw[:40]!r}") from None


def limit_pages(request: Request) -> None:
    """The address's limit of pages a minute (the questionnaire's, `pages_per_minute`): 429 past it."""
    settings = web.settings_of(request)
    limits.hit_address(web.engine_of(request), request.client.host if request.client else None, "page",
                       limits.Slot.MINUTE, settings.pages_per_minute, web.now(), "pages opened from this address")


def percent(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value * 100:.{digits}f}\u00a0%"   # never wrapped apart from its number


def _formatters(lang: str) -> dict[str, Any]:
    return {"percent": percent, "number": lambda n: f"{n:,}", "label": lambda period: period_label(period, lang),
            "name_of": lambda unit: unit_name(unit, lang)}


def _neighbours(period: Period, today: date) -> dict[str, str | None]:
    """The dates of the period before and after (None after the current one: nothing is published ahead)."""
    before = period_of(period.kind, period.start - timedelta(days=1))
    after = period_of(period.kind, period.end + timedelta(days=1))
    return {"previous": before.start.isoformat(), "next": after.start.isoformat() if after.start <= today else None}


def unit_name(unit: Any, lang: str) -> str:
    """A unit's name in the page's language (the Chinese one when it has no English name; its id without one)."""
    name, name_en = getattr(unit, "name", None), getattr(unit, "name_en", None)
    if not name:
        return str(getattr(unit, "unit_id", None) or getattr(unit, "id", ""))
    return str(name_en or name) if lang == "en" else str(name)


def period_label(period: Period, lang: str) -> str:
    """"2026年12月" / "December 2026", "2026年第4季度" / "Q4 2026", "2026年" / "2026"."""
    start = period.start
    if period.kind is PeriodKind.MONTH:
        return f"{start.year}年{start.month}月" if lang == "zh" else start.strftime("%B %Y")
    if period.kind is PeriodKind.QUARTER:
        quarter = (start.month - 1) // 3 + 1
        return f"{start.year}年第{quarter}季度" if lang == "zh" else f"Q{quarter} {start.year}"
    return f"{start.year}年" if lang == "zh" else str(start.year)


@web.router.get("/results")
def results(request: Request) -> HTMLResponse:
    limit_pages(request)
    engine, today = web.engine_of(request), published.city_today()
    period = published.public_period(request.query_params.get("period"), _date_param(request), today)
    found = published.city_results(engine, period)
    with engine.connect() as conn:
        notices = published.round_notices(conn, today.year)
    return web.render(request, "results.html", {
        "period": period, "kinds": [kind.value for kind in PUBLIC_PERIODS], "found": found,
        "city": found.figures, "notices": notices, "names": found.names, "neighbours": _neighbours(period, today),
        **_formatters(web.lang_for(request).value)})


@web.router.get("/results/units/{unit_id}")
def unit_results(request: Request, unit_id: str) -> HTMLResponse:
    limit_pages(request)
    engine, today = web.engine_of(request), published.city_today()
    day = _date_param(request) or today
    with engine.connect() as conn:
        unit = published.unit_of(conn, unit_id)       # NotFound: the 404 page
        titles = published.unit_titles(conn, unit_id, today.year)
        shown = digests_of(conn, unit_id, limit=UNIT_DIGEST_DAYS * 2)
    periods = [period_of(kind, day) for kind in PUBLIC_PERIODS]
    columns = [published.figures(engine, Scope.units([unit_id]), period) for period in periods]
    ranks = [published.rank_of(engine, unit_id, period) for period in periods]
    with engine.connect() as conn:
        fixes = [published.rectifications(conn, {unit_id: unit}, period)[unit_id] for period in periods]
    return web.render(request, "results_unit.html", {
        "unit": unit, "columns": columns, "ranks": ranks, "fixes": fixes, "titles": titles, "digests": shown,
        "neighbours": _neighbours(periods[0], today), **_formatters(web.lang_for(request).value)})
