"""Drill-down: city → district → sector → unit → counter → staff, the same indicators at every level, its
children in a table that links down (and exports to xlsx), its trend, level distribution and bad-review
reasons. A district office sees only its district, a unit manager only its unit (sent there from the city
level); the figures come from centre/console/drilldown.py.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from centre.comparisons import Step
from centre.console import charts, exports
from centre.console.drilldown import Children, Drill, Figures, Kind, Named, Place, Row, Table, drill
from centre.console.roles import Role, Viewer
from centre.console.texts import Lang, translator
from centre.console.web import (
    PREFIX,
    PeriodParam,
    SignedIn,
    city_today,
    engine_of,
    lang_for,
    render,
    router,
    settings_of,
)
from centre.errors import BadInput
from centre.indicators import Period

BASE = f"{PREFIX}/drill"
PERIOD_PARAMS = ("period", "date", "from", "to")
TABLE_PARAM = "table"
SHOWS_ID = (Children.UNITS, Children.COUNTERS)    # ids an office quotes (a staff member's 工号 is in the name)
NO_KEY = {Children.DISTRICTS: "drill.no_district", Children.SECTORS: "drill.no_sector",
          Children.STAFF: "drill.nobody", Children.UNITS: "drill.unknown", Children.COUNTERS: "drill.unknown"}
# The reason codes the terminal ships (config.yaml's bad_reasons); an office's own codes show as they are.
REASON_CODES = ("wait", "slow", "attitude", "unclear", "extra_trips", "environment")


def _q(key: str | int) -> str:
    return quote(str(key), safe="")


@dataclass(frozen=True)
class Crumb:
    label: str
    href: str | None


@dataclass(frozen=True)
class RowView:
    label: str
    key: str | None           # the child's id, code or 工号 ("" for a group without one)
    shown_id: bool            # whether the id is shown beside the name (an office quotes a unit's, a counter's)
    href: str | None
    figures: Figures


@dataclass(frozen=True)
class TableView:
    children: str
    rows: list[RowView]
    export_href: str


class Words:
    """Names in the page's language: the registry's zh or en name, a key-less group by its words."""

    def __init__(self, t: Callable[..., str], english: bool):
        self.t, self.english = t, english

    def name(self, named: Named | None, children: Children, *, with_id: bool = True) -> str:
        """A staff member as 工号 and name (`with_id`: where no column holds the 工号)."""
        if named is None or not named.key:
            return self.t(NO_KEY[children])
        found = named.label(self.english) or named.key
        return f"{named.key} {found}" if with_id and children is Children.STAFF and found != named.key else found


def _period_query(request: Request) -> str:
    kept = {name: request.query_params[name] for name in PERIOD_PARAMS if request.query_params.get(name)}
    return f"?{urlencode(kept)}" if kept else ""


def _child_href(place: Place, children: Children, key: str | None) -> str | None:
    if not key:
        return None
    if children is Children.DISTRICTS:
        inside = f"/sector/{_q(place.sector)}" if place.kind is Kind.SECTOR and place.sector else ""
        return f"{BASE}/district/{_q(key)}{inside}"
    if children is Children.SECTORS:
        return (f"{BASE}/district/{place.district}/sector/{_q(key)}" if place.kind is Kind.DISTRICT
                else f"{BASE}/sector/{_q(key)}")
    if children is Children.UNITS:
        return f"{BASE}/unit/{_q(key)}"
    kind = "counter" if children is Children.COUNTERS else "staff"
    return f"{BASE}/unit/{_q(place.unit or '')}/{kind}/{_q(key)}"


def _crumbs(found: Drill, viewer: Viewer, words: Words) -> list[Crumb]:
    """City › district › sector › unit › counter or staff: a crumb links where the viewer may go (a unit
    manager's start at its unit), the last is the page itself."""
    place, at = found.place, found.located
    above_unit = viewer.role is not Role.UNIT
    crumbs = [Crumb(words.t("drill.city"), BASE if viewer.sees_city else None)]
    if place.kind is Kind.SECTOR:
        crumbs.append(Crumb(words.t("drill.sector_citywide", sector=words.name(at.sector, Children.SECTORS)), None))
    if at.district is not None:
        crumbs.append(Crumb(words.name(at.district, Children.DISTRICTS),
                            f"{BASE}/district/{_q(at.district.key or '')}" if above_unit else None))
    if at.sector is not None and place.kind is not Kind.SECTOR and place.kind is not Kind.DISTRICT:
        href = (f"{BASE}/district/{_q(at.district.key or '')}/sector/{_q(at.sector.key or '')}" if at.district
                else f"{BASE}/sector/{_q(at.sector.key or '')}" if viewer.sees_city else None)
        crumbs.append(Crumb(words.name(at.sector, Children.SECTORS), href if above_unit else None))
    if at.unit is not None:
        crumbs.append(Crumb(words.name(at.unit, Children.UNITS), f"{BASE}/unit/{_q(at.unit.key or '')}"))
    if at.counter is not None:
        crumbs.append(Crumb(words.name(at.counter, Children.COUNTERS), None))
    if at.staff is not None:
        crumbs.append(Crumb(words.name(at.staff, Children.STAFF), None))
    return [*crumbs[:-1], Crumb(crumbs[-1].label, None)]


def _rows(found: Drill, table: Table, words: Words, query: str) -> list[RowView]:
    def view(row: Row) -> RowView:
        href = _child_href(found.place, table.children, row.named.key)
        return RowView(words.name(row.named, table.children),
                       row.named.key or "", table.children in SHOWS_ID,
                       href + query if href else None, row.figures)
    return [view(row) for row in table.rows]


def _chosen_table(request: Request, found: Drill) -> Table:
    wanted = request.query_params.get(TABLE_PARAM) or found.tables[0].children.value
    for table in found.tables:
        if table.children.value == wanted:
            return table
    raise BadInput(f"{TABLE_PARAM}: this page's tables are {', '.join(t.children.value for t in found.tables)}, "
                   f"not {wanted!r}")


def _export_href(request: Request, table: Table) -> str:
    params = {**dict(request.query_params), exports.FORMAT_PARAM: exports.XLSX, TABLE_PARAM: table.children.value}
    return f"{request.url.path}?{urlencode(params)}"


def _percent(rate: float | None) -> float | None:
    return None if rate is None else round(rate * 100, 2)


def _export(request: Request, viewer: Viewer, found: Drill, period: Period, words: Words, title: str) -> Response:
    table = _chosen_table(request, found)
    t = words.t
    columns = [t("drill.col_id"), t("drill.col_name"), t("base.rated"), t("drill.col_rate"), t("drill.col_low"),
               t("drill.col_high"), t("base.bad"), t("base.unrated"), t("base.suppressed"), t("base.too_few")]
    rows = [[row.named.key or "", words.name(row.named, table.children, with_id=False), row.figures.rated,
             _percent(row.figures.good_rate),
             _percent(row.figures.good_rate_interval.low) if row.figures.good_rate_interval else None,
             _percent(row.figures.good_rate_interval.high) if row.figures.good_rate_interval else None,
             row.figures.bad, row.figures.unrated, row.figures.suppressed, "✓" if row.figures.too_few else ""]
            for row in table.rows]
    name = exports.file_name(f"drill-{table.children.value}", title, exports.period_text(period))
    return exports.xlsx(request, viewer, name, columns, rows, sheet=table.children.value)


def _page(request: Request, viewer: Viewer, place: Place, period: Period) -> Response:
    lang = lang_for(request)
    words = Words(translator(lang), lang is Lang.EN)
    t = words.t
    found = drill(engine_of(request), place, period, city_today(), settings_of(request).min_ratings)
    crumbs = _crumbs(found, viewer, words)
    title = t("drill.title_city") if place.kind is Kind.CITY else crumbs[-1].label
    if exports.wanted(request):
        return _export(request, viewer, found, period, words, t("drill.city") if place.kind is Kind.CITY else title)
    query = _period_query(request)
    tables = [TableView(table.children.value, _rows(found, table, words, query), _export_href(request, table))
              for table in found.tables]
    trend_key = "drill.trend_days" if found.trend_step is Step.DAY else "drill.trend_months"
    trend_title = t(trend_key, start=found.trend_from.isoformat(), end=found.trend_to.isoformat())
    labels = [point.label[5:] if found.trend_step is Step.DAY else point.label for point in found.trend]
    reasons = [(t(f"drill.reason_{code}") if code in REASON_CODES else code, code, n)
               for code, n in found.headline.bad_reasons.items()]
    return render(request, "drill.html", {
        "kind": place.kind.value, "title": title, "crumbs": crumbs, "period": period, "headline": found.headline,
        "tables": tables, "trend_title": trend_title, "reasons": reasons,
        "min_ratings": settings_of(request).min_ratings,
        "trend_chart": charts.trend(labels, [p.good_rate for p in found.trend], [p.rated for p in found.trend], t),
        "levels_chart": charts.levels(found.headline.by_level, t),
    })


def _redirect(request: Request, path: str) -> Response:
    return RedirectResponse(path + (f"?{request.url.query}" if request.url.query else ""), status_code=303)


@router.get("/drill")
def drill_city(request: Request, viewer: SignedIn, period: PeriodParam) -> Response:
    """The city's districts and sectors; a district office and a unit manager are sent to their own level."""
    if viewer.role is Role.UNIT and viewer.scope_id is not None:
        return _redirect(request, f"{BASE}/unit/{_q(viewer.scope_id)}")
    if viewer.role is Role.DISTRICT and viewer.scope_id is not None:
        return _redirect(request, f"{BASE}/district/{_q(viewer.scope_id)}")
    viewer.require_city()
    return _page(request, viewer, Place(Kind.CITY), period)


@router.get("/drill/district/{district_id}")
def drill_district(request: Request, viewer: SignedIn, period: PeriodParam, district_id: int) -> Response:
    viewer.require_district(district_id)
    return _page(request, viewer, Place(Kind.DISTRICT, district=district_id), period)


@router.get("/drill/district/{district_id}/sector/{code}")
def drill_district_sector(request: Request, viewer: SignedIn, period: PeriodParam, district_id: int,
                          code: str) -> Response:
    viewer.require_district(district_id)
    return _page(request, viewer, Place(Kind.DISTRICT_SECTOR, district=district_id, sector=code), period)


@router.get("/drill/sector/{code}")
def drill_sector(request: Request, viewer: SignedIn, period: PeriodParam, code: str) -> Response:
    viewer.require_city()
    return _page(request, viewer, Place(Kind.SECTOR, sector=code), period)


def _unit_place(request: Request, viewer: Viewer, place: Place) -> Place:
    """403 for a unit outside the viewer's reach (before whether it exists: a manager learns nothing else)."""
    with engine_of(request).connect() as conn:
        viewer.require_unit(conn, place.unit or "")
    return place


@router.get("/drill/unit/{unit_id}")
def drill_unit(request: Request, viewer: SignedIn, period: PeriodParam, unit_id: str) -> Response:
    return _page(request, viewer, _unit_place(request, viewer, Place(Kind.UNIT, unit=unit_id)), period)


@router.get("/drill/unit/{unit_id}/counter/{counter_id}")
def drill_counter(request: Request, viewer: SignedIn, period: PeriodParam, unit_id: str, counter_id: str) -> Response:
    place = Place(Kind.COUNTER, unit=unit_id, counter=counter_id)
    return _page(request, viewer, _unit_place(request, viewer, place), period)


@router.get("/drill/unit/{unit_id}/staff/{staff_id}")
def drill_staff(request: Request, viewer: SignedIn, period: PeriodParam, unit_id: str, staff_id: str) -> Response:
    place = Place(Kind.STAFF, unit=unit_id, staff=staff_id)
    return _page(request, viewer, _unit_place(request, viewer, place), period)
