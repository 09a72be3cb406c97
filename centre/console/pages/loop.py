"""The bad-review loop's indicators (centre/cases/figures.py) as a fragment that the overview and the
drill-down's city, district and unit levels load by htmx into their #loop section: 差评回复率, 回访率, 整改率,
回访整改满意率, the cases overdue now, and the median time to contact and to close, of the cases rated in the
page's period. The paths mirror the drill-down's; without a scope it is the viewer's own reach.
"""
from __future__ import annotations

from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import Response

from centre.cases.figures import LoopFigures, loop_figures
from centre.console.roles import figures_scope
from centre.console.web import PREFIX, PeriodParam, SignedIn, engine_of, render, router
from centre.indicators import Period
from centre.scopes import Scope, unit_ids


def _fragment(request: Request, period: Period, figures: LoopFigures, unit: str | None = None) -> Response:
    """The #loop section's content (no page frame), with a link to the cases behind the figures."""
    return render(request, "partials/loop.html", {
        "loop": figures, "period": period,
        "cases_href": f"{PREFIX}/cases" + (f"?{urlencode({'unit': unit})}" if unit else ""),
    })


@router.get("/loop")
def loop_mine(request: Request, viewer: SignedIn, period: PeriodParam) -> Response:
    """The viewer's own reach: the city, its district, or its unit (the overview's, the drill-down's city)."""
    with engine_of(request).connect() as conn:
        figures = loop_figures(conn, figures_scope(conn, viewer).unit_ids, period.start, period.end)
    return _fragment(request, period, figures)


@router.get("/loop/district/{district_id}")
def loop_district(request: Request, viewer: SignedIn, period: PeriodParam, district_id: int) -> Response:
    viewer.require_district(district_id)
    with engine_of(request).connect() as conn:
        figures = loop_figures(conn, unit_ids(conn, Scope(districts=(district_id,))), period.start, period.end)
    return _fragment(request, period, figures)


@router.get("/loop/unit/{unit_id}")
def loop_unit(request: Request, viewer: SignedIn, period: PeriodParam, unit_id: str) -> Response:
    with engine_of(request).connect() as conn:
        viewer.require_unit(conn, unit_id)
        figures = loop_figures(conn, (unit_id,), period.start, period.end)
    return _fragment(request, period, figures, unit_id)
