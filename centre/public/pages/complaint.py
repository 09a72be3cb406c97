"""The complaint form, /c?r=&d=&s=: the page behind the terminal's signed complaint link (docs/public.md).

GET checks the link (centre/public/signed.py: altered or forged → 403, nothing stored) and shows the form: what
it is about (the unit, the counter, the day when the rating is here), the text (≤ 500 characters), an optional
call-back number with the terminal's consent, and a one-time form id. POST takes it without JavaScript, in
order so that a refusal costs little and stores nothing: the address's limit, the link, the body (UTF-8 only),
the fields (HTML or script in the text: 400), the form id (a second submission: "already received"), what
the citizen must fix (no text, a bad number, no consent: the form again, 422); then the complaint is stored
and joined to the rating's case (centre/public/complaint.py). Both pages link to the rating's receipt.

The links between this page and the receipt are made by the centre with the device's secret (signed.sibling).
Shared with the receipt page (pages/receipt.py): `checked_link`, `address`, `about`.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import Connection, select

from centre.db.tables import counters, devices, ratings, units
from centre.public import limits, web
from centre.public.abuse import TEXT_MAX_CHARS, parse_form
from centre.public.complaint import Filed, Form, already_received, file_complaint, new_form, read_form
from centre.public.consent import consent
from centre.public.signed import Link, Purpose, check, sibling
from centre.registry.model import check_timezone


@dataclass(frozen=True)
class About:
    """What a link is about, in the page's language: never a staff name."""

    unit: str | None
    counter: str | None
    day: str | None          # the unit's local day of the rating, once the rating is at the centre


async def raw_body(request: Request) -> bytes:
    return await request.body()


Body = Annotated[bytes, Depends(raw_body)]


def address(request: Request) -> str | None:
    return request.client.host if request.client else None


def limit_page(request: Request, now: datetime) -> None:
    settings = web.settings_of(request)
    limits.hit_address(web.engine_of(request), address(request), "page", limits.Slot.MINUTE,
                       settings.pages_per_minute, now, "pages opened from this address")


def limit_submission(request: Request, now: datetime) -> None:
    settings = web.settings_of(request)
    limits.hit_address(web.engine_of(request), address(request), "submit", limits.Slot.HOUR,
                       settings.address_per_hour, now, "submissions from this address")


def checked_link(request: Request, purpose: Purpose) -> Link:
    with web.engine_of(request).connect() as conn:
        return check(conn, str(request.url), parse_qs(request.url.query), purpose)


def about(conn: Connection, link: Link, lang: str) -> About:
    """The unit and counter of the rating (where the centre placed it), or of its terminal while the rating is
    not here yet, and the rating's local day."""
    rating = conn.execute(select(ratings.c.placed_unit_id, ratings.c.placed_counter_id, ratings.c.counted_at)
                          .where(ratings.c.uuid == link.rating_uuid)).first()
    device = conn.execute(select(devices.c.unit_id, devices.c.counter_id, devices.c.unit_timezone)
                          .where(devices.c.id == link.device_id)).first()
    unit_id = rating.placed_unit_id if rating is not None else device.unit_id if device is not None else None
    counter_id = rating.placed_counter_id if rating is not None else device.counter_id if device else None
    if unit_id is None:
        return About(None, None, None)
    unit = conn.execute(select(units.c.name, units.c.name_en, units.c.timezone).where(units.c.id == unit_id)).first()
    counter = conn.execute(select(counters.c.name, counters.c.name_en).where(
        counters.c.unit_id == unit_id, counters.c.id == counter_id)).first()
    day = None
    if rating is not None:
        zone = unit.timezone if unit is not None else device.unit_timezone if device is not None else None
        day = datetime.fromisoformat(rating.counted_at).astimezone(check_timezone(zone or "Asia/Shanghai")) \
            .date().isoformat()

    def named(row: Any) -> str | None:
        return None if row is None else str(row.name_en or row.name) if lang == "en" else str(row.name)

    return About(named(unit), named(counter), day)


def _form(request: Request, link: Link, form: Form, problems: tuple[Any, ...] = (), status: int = 200) -> HTMLResponse:
    lang = web.lang_for(request).value
    with web.engine_of(request).connect() as conn:
        subject, receipt = about(conn, link, lang), sibling(conn, link, Purpose.RECEIPT)
    return web.render(request, "complaint.html", {
        "about": subject, "form": form, "problems": [problem.value for problem in problems],
        "max_chars": TEXT_MAX_CHARS, "consent": consent(lang), "receipt": receipt,
        "action": f"{request.url.path}?{request.url.query}",
    }, status=status)


@web.router.get("/c")
def complaint_form(request: Request) -> HTMLResponse:
    limit_page(request, web.now())
    return _form(request, checked_link(request, Purpose.COMPLAINT), new_form())


@web.router.post("/c")
def submit_complaint(request: Request, body: Body) -> HTMLResponse:
    now = web.now()
    limit_submission(request, now)
    link = checked_link(request, Purpose.COMPLAINT)
    form = read_form(parse_form(body, request.headers.get("content-type")))
    if already_received(web.engine_of(request), form.form_id):
        return _done(request, link, Filed.ALREADY)
    if form.problems:
        return _form(request, link, form, form.problems, status=422)
    return _done(request, link, file_complaint(web.engine_of(request), link, form, now, web.settings_of(request)))


def _done(request: Request, link: Link, outcome: Filed) -> HTMLResponse:
    with web.engine_of(request).connect() as conn:
        receipt = sibling(conn, link, Purpose.RECEIPT)
    status = 409 if outcome is Filed.TOO_MANY else 200
    return web.render(request, "complaint_done.html", {"outcome": outcome.value, "receipt": receipt}, status=status)
