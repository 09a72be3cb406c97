"""Alerts: what the centre's outbox of e-mails and webhook posts could not deliver (centre/alerts/status.py), so
that a broken mail server or messaging robot is seen in the console and not only in a log: per target, what is
retrying and what was given up in the last days, with the last error; and every delivery, newest first, by
state. The city office and the auditor only (the outbox names every unit's duty address).
"""
from __future__ import annotations

from datetime import timedelta

from fastapi import Request
from fastapi.responses import Response

from centre import cityconfig
from centre.alerts.model import DeliveryState
from centre.alerts.settings import AlertSettings
from centre.alerts.status import MAX_PAGE_SIZE, DeliveryFilters, deliveries, delivery_problems
from centre.console.caseviews import local_time
from centre.console.paging import Paging
from centre.console.web import SignedIn, engine_of, now, render, router
from centre.errors import BadInput

PAGE_ROWS = 50
PROBLEM_DAYS = 7        # how far back the summary of failing targets looks


def _settings(request: Request) -> AlertSettings:
    city = getattr(request.app.state, "city", None)
    found: AlertSettings = city.alerts if isinstance(city, cityconfig.CityConfig) else cityconfig.current().alerts
    return found


def _state(request: Request) -> DeliveryState | None:
    raw = request.query_params.get("state") or None
    if raw is None:
        return None
    try:
        return DeliveryState(raw)
    except ValueError:
        raise BadInput(f"state: one of {', '.join(s.value for s in DeliveryState)}, got {raw!r}") from None


def _page_number(request: Request) -> int:
    raw = request.query_params.get("page") or "1"
    if not raw.isdigit() or int(raw) < 1:
        raise BadInput(f"page: a page number from 1, got {raw!r}")
    return int(raw)


@router.get("/alerts")
def alerts_page(request: Request, viewer: SignedIn) -> Response:
    viewer.require_city()
    state, number = _state(request), _page_number(request)
    rows = min(PAGE_ROWS, MAX_PAGE_SIZE)
    with engine_of(request).connect() as conn:
        problems = delivery_problems(conn, now() - timedelta(days=PROBLEM_DAYS))
        found = deliveries(conn, DeliveryFilters(state=state), number, rows)
        if found.rows == [] and found.total and number > 1:     # past the end: the last page
            number = max(1, -(-found.total // rows))
            found = deliveries(conn, DeliveryFilters(state=state), number, rows)
    pages = max(1, -(-found.total // rows))
    first = (found.page - 1) * rows
    paging = Paging(found.page, pages, first + 1 if found.rows else 0, first + len(found.rows), found.total)
    settings = _settings(request)
    return render(request, "alerts.html", {
        "problems": problems, "deliveries": found.rows, "paging": paging, "chosen": state,
        "states": list(DeliveryState), "days": PROBLEM_DAYS, "when": local_time,
        "email_on": settings.smtp.enabled, "webhook_on": settings.webhook.url is not None,
    })
