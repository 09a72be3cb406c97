"""Province: the report to the provincial 好差评 platform (centre/province) as the city office and the auditor see
it: the period's records by state, what holds records back summed by cause (the largest first), the ones the
province refused and those our own check kept back (invalid)
or that wait for the operator after failed uploads (held), each with its reason, unit and case, a page at a
time and whole as xlsx (audited); and the last upload attempts. Read-only: nothing here sends or changes a
record (`evaluator centre province push` does).
"""
from __future__ import annotations

from datetime import datetime, time, timedelta

from fastapi import Request
from fastapi.responses import Response

from centre import cityconfig
from centre.console import exports
from centre.console.caseviews import local_time
from centre.console.paging import page_of
from centre.console.web import PeriodParam, SignedIn, engine_of, render, router
from centre.enroll import DEFAULT_TIMEZONE, check_timezone
from centre.indicators import Period
from centre.province import status
from centre.province.records import RecordState
from centre.province.settings import ProvinceSettings

PAGE_ROWS = 50
BADGES = {"refused": "bad", "invalid": "warn", "held": "warn"}
COLUMNS = ("record", "state", "unit", "unit_name", "case", "evaluated_at", "code", "reason", "attempts")


def _settings(request: Request) -> ProvinceSettings:
    city = getattr(request.app.state, "city", None)
    found: ProvinceSettings = (city.province if isinstance(city, cityconfig.CityConfig)
                               else cityconfig.current().province)
    return found


def span_of(period: Period) -> status.Span:
    """The period's local days in the city's zone, as UTC instants (records are kept by UTC time)."""
    zone = check_timezone(DEFAULT_TIMEZONE)
    return status.Span(datetime.combine(period.start, time(0), tzinfo=zone),
                       datetime.combine(period.end + timedelta(days=1), time(0), tzinfo=zone))


@router.get("/province")
def province_page(request: Request, viewer: SignedIn, period: PeriodParam) -> Response:
    viewer.require_city()
    settings, span = _settings(request), span_of(period)
    if exports.wanted(request):
        with engine_of(request).connect() as conn:
            problems = status.problems(conn, span, settings.max_attempts)
        rows = [(p.record_id, p.state, p.unit_id, p.unit_name, p.case_no or "", local_time(p.evaluated_at),
                 p.code or "", p.reason, p.attempts) for p in problems]
        name = exports.file_name("province", "city", exports.period_text(period))
        return exports.xlsx(request, viewer, name, COLUMNS, rows)
    with engine_of(request).connect() as conn:
        counts = status.counts(conn, span)
        held = status.held(conn, span, settings.max_attempts)
        causes = status.causes(conn, span, settings.max_attempts)
        # One page of the list, read as a page: a city's month can hold hundreds of thousands of them.
        paging = page_of(request, sum(cause.records for cause in causes), PAGE_ROWS)
        shown = status.problems(conn, span, settings.max_attempts, PAGE_ROWS, paging.start)
        pushes = status.last_pushes(conn)
    return render(request, "province.html", {
        "period": period, "counts": counts, "states": list(RecordState), "held": held, "causes": causes,
        "problems": shown, "paging": paging, "pushes": pushes, "when": local_time, "badges": BADGES,
        "enabled": settings.enabled, "max_attempts": settings.max_attempts,
    })
