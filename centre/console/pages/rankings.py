"""Rankings: units, districts or sectors over a period, by the lower bound of their satisfaction's Wilson
interval, with the too-few listed after, the 80 % line, and the movement since the previous period
(centre/console/ranking.py computes it all).

Who sees what: the city office and the auditor every ranking of the city; a district office its units and
its sectors within the district (the districts' ranking is the city's); a unit manager its own unit's row in
the city's ranking of units, its rank and rate, and no other unit's name or figures.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Connection

from centre.console import exports
from centre.console.paging import paged
from centre.console.ranking import TARGET, RankBy, Ranking, Row, period_days, place_name, rank, rank_by, scaled_min
from centre.console.roles import Role, Viewer
from centre.console.texts import translator
from centre.console.web import (
    PREFIX,
    SignedIn,
    city_today,
    engine_of,
    lang_for,
    period_param,
    render,
    router,
    settings_of,
)
from centre.errors import BadInput, Forbidden
from centre.indicators import Period, PeriodKind, period_of

TABLE_ROWS = 100             # a table's rows per page (a city's thousand units: 500 KiB; the export holds them all)
CHART_ENDS = 30              # with more ranked rows than twice this, the chart shows the top and the bottom
ROW_HEIGHT_PX = 22
PHONE_CHART_PX = 500
MAX_MIN_RATINGS = 10_000_000
GOOD, BAD, BAND, DOT, TARGET_LINE = "#2e7d32", "#c62828", "rgba(21, 101, 192, 0.22)", "#102a43", "#c62828"


def _period(request: Request) -> Period:
    """The period the URL names; with none, the quarter that holds ?date= (default: today)."""
    if any(request.query_params.get(name) for name in ("period", "from", "to")):
        return period_param(request)
    raw = request.query_params.get("date")
    try:
        day = date.fromisoformat(raw) if raw else city_today()
    except ValueError:
        raise BadInput(f"date: a date as YYYY-MM-DD, got {raw!r}") from None
    return period_of(PeriodKind.QUARTER, day)


def _chosen_min(request: Request) -> int | None:
    raw = request.query_params.get("min")
    if not raw:
        return None
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_MIN_RATINGS:
        raise BadInput(f"min: a number of ratings from 1 to {MAX_MIN_RATINGS:,}, got {raw!r}")
    return int(raw)


def _choices(viewer: Viewer) -> list[RankBy]:
    if viewer.sees_city:
        return list(RankBy)
    return [RankBy.UNIT, RankBy.SECTOR] if viewer.role is Role.DISTRICT else [RankBy.UNIT]


def _reach(conn: Connection, viewer: Viewer, by: RankBy) -> tuple[str, ...] | None:
    """The units ranked for this viewer (None: the city's), or 403 for a ranking that is not its own."""
    if by not in _choices(viewer):
        mine = "its units and its sectors" if viewer.role is Role.DISTRICT else "its own unit among the units"
        raise Forbidden(f"{viewer.name} ({viewer.role.value}) may not see the ranking by {by.value}: "
                        f"this account sees the ranking of {mine}")
    # A unit manager's rank is its place among the city's units: the city is ranked, one row is shown.
    return viewer.unit_ids(conn) if viewer.role is Role.DISTRICT else None


def _scope_label(conn: Connection, viewer: Viewer, lang: str) -> str | None:
    """The district's or the unit's name for a title and a file name (None: the city)."""
    if viewer.sees_city or viewer.scope_id is None:
        return None
    names = place_name(conn, RankBy.UNIT if viewer.role is Role.UNIT else RankBy.DISTRICT, viewer.scope_id)
    if names is None:
        return viewer.scope_id
    return (names[1] or names[0]) if lang == "en" else names[0]


def _href(by: RankBy, row: Row, viewer: Viewer) -> str | None:
    """Where a row's name leads: its drill-down page (none for the unassigned, nor for a district office's
    sector, which the sector's page would show city-wide)."""
    if row.outside or (by is RankBy.SECTOR and not viewer.sees_city):
        return None
    return f"{PREFIX}/drill/{by.value}/{row.key}"


def _percent(rate: float | None) -> float | None:
    return None if rate is None else round(rate * 100, 2)


def chart(rows: Sequence[Row], lang: str, t: Callable[..., str]) -> dict[str, Any]:
    """Each ranked row's lower bound (a bar: the ranking's key), its interval above it (a pale band stacked on
    the bar) and its rate (a dot), rank 1 at the top, the 80 % line drawn; with many rows, the top and the
    bottom CHART_ENDS, a gap between them."""
    shown: list[Row | None] = list(rows)
    if len(rows) > 2 * CHART_ENDS:
        shown = [*rows[:CHART_ENDS], None, *rows[-CHART_ENDS:]]
    gap = t("rankings.chart_gap", n=len(rows) - 2 * CHART_ENDS)
    names = [gap if row is None else f"{row.rank}. {row.label(lang)}" for row in shown]
    lows: list[dict[str, Any] | None] = []
    bands: list[float | None] = []
    dots: list[dict[str, Any]] = []
    for index, row in enumerate(shown):
        if row is None or row.low is None or row.high is None or row.rate is None:
            lows.append(None)
            bands.append(None)
            continue
        lows.append({"value": _percent(row.low), "itemStyle": {"color": BAD if row.below else GOOD}})
        bands.append(_percent(row.high - row.low))
        dots.append({"name": f"{names[index]}: {row.rate * 100:.1f}% "
                             f"[{row.low * 100:.1f}% – {row.high * 100:.1f}%] · {row.rated:,}",
                     "value": [_percent(row.rate), index]})
    base = {
        "animation": False,
        "tooltip": {"trigger": "item"},
        "legend": {"data": [t("rankings.chart_lower"), t("rankings.chart_band"), t("base.good_rate")], "top": 0},
        "grid": {"left": 8, "right": 48, "top": 48, "bottom": 8, "containLabel": True},
        "xAxis": {"type": "value", "min": 0, "max": 100, "axisLabel": {"formatter": "{value}%"}},
        "yAxis": {"type": "category", "inverse": True, "data": names,
                  "axisLabel": {"width": 150, "overflow": "truncate"}},
        "series": [
            {"name": t("rankings.chart_lower"), "type": "bar", "stack": "interval", "data": lows, "barWidth": "60%",
             "itemStyle": {"color": GOOD},
             "tooltip": {"formatter": "{b}: {a} {c}%"},
             "markLine": {"silent": True, "symbol": "none", "lineStyle": {"color": TARGET_LINE, "type": "dashed"},
                          "label": {"formatter": t("base.target_line"), "position": "start"},
                          "data": [{"xAxis": round(TARGET * 100)}]}},
            {"name": t("rankings.chart_band"), "type": "bar", "stack": "interval", "data": bands,
             "itemStyle": {"color": BAND}, "tooltip": {"show": False}},
            {"name": t("base.good_rate"), "type": "scatter", "data": dots, "symbolSize": 8,
             "itemStyle": {"color": DOT}, "tooltip": {"formatter": "{b}"}},
        ],
    }
    # A phone's chart is some 340 px wide: shorter names, fewer ticks, so the bars keep most of it.
    phone = {"query": {"maxWidth": PHONE_CHART_PX},
             "option": {"yAxis": {"axisLabel": {"width": 84}}, "xAxis": {"splitNumber": 2}}}
    return {"baseOption": base, "media": [phone]}


def chart_height(rows: int) -> int:
    return max(180, 70 + ROW_HEIGHT_PX * min(rows, 2 * CHART_ENDS + 1))


def _export(request: Request, viewer: Viewer, result: Ranking, rows: Sequence[Row], scope: str, lang: str,
            t: Callable[..., str]) -> Response:
    """The table, every row, as the page lists it (rates in percent, to two places)."""
    unit = result.by is RankBy.UNIT
    columns = [t("rankings.col_rank"), t("rankings.col_id"), t("rankings.col_name"),
               *([t("rankings.col_district"), t("rankings.col_sector")] if unit else [t("rankings.col_units")]),
               t("base.rated"), t("rankings.col_good"), t("rankings.col_rate_pct"), t("rankings.col_low_pct"),
               t("rankings.col_high_pct"), t("rankings.col_status"), t("rankings.col_previous_rank"),
               t("rankings.col_rate_change")]

    def names(pair: tuple[str, str | None] | None) -> str:
        return "" if pair is None else (pair[1] or pair[0]) if lang == "en" else pair[0]

    def status(row: Row) -> str:
        if row.rank is None:
            return t("rankings.not_ranked") if row.outside else t("base.too_few")
        return t("rankings.status_below") if row.below else t("rankings.status_ranked")

    table = [[row.rank, row.key, row.label(lang), *([names(row.district), names(row.sector)] if unit else [row.units]),
              row.rated, row.good, _percent(row.rate), _percent(row.low), _percent(row.high), status(row),
              row.previous_rank, _percent(row.rate_change)] for row in rows]
    name = exports.file_name("rankings", result.by.value, scope, exports.period_text(result.period))
    return exports.xlsx(request, viewer, name, columns, table, sheet="rankings")


@router.get("/rankings", response_class=HTMLResponse)
def rankings(request: Request, viewer: SignedIn) -> Response:
    lang = lang_for(request)
    t = translator(lang)
    by, period, chosen = rank_by(request.query_params.get("by")), _period(request), _chosen_min(request)
    per_round = settings_of(request).min_ratings
    with engine_of(request).connect() as conn:
        unit_ids = _reach(conn, viewer, by)
        scope = _scope_label(conn, viewer, lang.value)
        unassigned = t("rankings.unassigned")
        result = rank(conn, by, period, unit_ids, per_round, chosen, (unassigned, unassigned))
    own = viewer.role is Role.UNIT
    rows = [row for row in result.rows if row.key == viewer.scope_id] if own else result.rows
    if exports.wanted(request):
        return _export(request, viewer, result, rows, scope or "city", lang.value, t)
    ranked = result.ranked
    shown, paging = paged(request, rows, TABLE_ROWS)
    return render(request, "rankings.html", {
        "result": result, "rows": shown, "paging": paging, "by": by, "choices": _choices(viewer), "own": own,
        "scope_label": scope, "chosen_min": chosen, "per_round": per_round,
        "scaled": scaled_min(per_round, period), "days": period_days(period),
        "hrefs": {row.key: _href(by, row, viewer) for row in shown}, "ranked_count": len(ranked),
        "below_count": sum(row.below for row in ranked), "few_count": sum(row.too_few for row in result.rows),
        "chart_option": chart(ranked, lang.value, t) if ranked and not own else None,
        "chart_height": chart_height(len(ranked)), "chart_cut": len(ranked) > 2 * CHART_ENDS,
        "chart_ends": CHART_ENDS, "custom": period.kind is PeriodKind.CUSTOM,
    })
