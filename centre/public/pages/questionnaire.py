"""The online questionnaire, /q/{token}: the page behind the terminal's questionnaire QR (docs/public.md).

GET shows the form: five levels as a radio group with their words, the bad-review reasons, a free text of at
most 500 characters, an optional call-back (a number and the terminal's consent), and a one-time form id.
POST takes it without JavaScript. In order, so that a refusal costs little and stores nothing: the address's
limit, the token (forged or altered: 403; expired: 410), the token's limit, the body (UTF-8 only), the
fields (HTML in the text, an unknown level or reason: 422), the form id (a second submission: "already
received"), what the citizen must fix (no level, a bad number, no consent: the form again, 422), then the
answer is stored (centre/public/webratings.py) and thanked for.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import Engine, select

from centre.db.tables import counters, units
from centre.errors import NotFound
from centre.public import limits, web
from centre.public.abuse import TEXT_MAX_CHARS, parse_form
from centre.public.consent import consent
from centre.public.tokens import Token, verify
from centre.public.webratings import (
    LEVELS,
    REASON_CODES,
    Answer,
    Problem,
    Stored,
    already_received,
    new_form_id,
    read_answer,
    store,
)


@dataclass(frozen=True)
class Place:
    """Where the questionnaire is about, in the page's language."""

    unit: str
    counter: str | None


async def raw_body(request: Request) -> bytes:
    return await request.body()


Body = Annotated[bytes, Depends(raw_body)]


def _token(engine: Engine, text: str, now: datetime) -> Token:
    with engine.connect() as conn:
        return verify(conn, text, now)


def _place(engine: Engine, token: Token, lang: str) -> Place:
    with engine.connect() as conn:
        unit = conn.execute(select(units.c.name, units.c.name_en).where(units.c.id == token.unit_id)).first()
        counter = conn.execute(select(counters.c.name, counters.c.name_en).where(
            counters.c.unit_id == token.unit_id, counters.c.id == token.counter_id)).first() \
            if token.counter_id else None
    if unit is None:
        raise NotFound("the unit this questionnaire is for is no longer registered")

    def named(row: Any) -> str:
        return str(row.name_en or row.name) if lang == "en" else str(row.name)

    return Place(unit=named(unit), counter=named(counter) if counter is not None else None)


def _form(request: Request, token: Token, answer: Answer, problems: tuple[Problem, ...] = (),
          status: int = 200) -> HTMLResponse:
    lang = web.lang_for(request).value
    return web.render(request, "questionnaire.html", {
        "place": _place(web.engine_of(request), token, lang), "answer": answer, "problems": problems,
        "levels": LEVELS, "reasons": REASON_CODES, "max_chars": TEXT_MAX_CHARS, "consent": consent(lang),
        "action": request.url.path,
    }, status=status)


@web.router.get("/q/{token}")
def questionnaire(request: Request, token: str) -> HTMLResponse:
    engine, settings, now = web.engine_of(request), web.settings_of(request), web.now()
    limits.hit_address(engine, _address(request), "page", limits.Slot.MINUTE, settings.pages_per_minute, now,
                       "pages opened from this address")
    found = _token(engine, token, now)
    return _form(request, found, _blank())


def _blank() -> Answer:
    return Answer(form_id=new_form_id(), level=None, reasons=(), text="", phone="", consent=False)


@web.router.post("/q/{token}")
def submit(request: Request, token: str, body: Body) -> HTMLResponse:
    engine, settings, now = web.engine_of(request), web.settings_of(request), web.now()
    limits.hit_address(engine, _address(request), "submit", limits.Slot.HOUR, settings.address_per_hour, now,
                       "submissions from this address")
    found = _token(engine, token, now)
    limits.hit(engine, f"token:{found.token_id}", limits.Slot.HOUR, settings.token_per_hour, now,
               "submissions with this code")
    answer = read_answer(parse_form(body, request.headers.get("content-type")))
    if already_received(engine, answer.form_id):
        return _done(request, Stored.ALREADY)
    if answer.problems:
        return _form(request, found, answer, answer.problems, status=422)
    return _done(request, store(engine, found, answer, now, settings))


def _done(request: Request, outcome: Stored) -> HTMLResponse:
    return web.render(request, "questionnaire_done.html", {"outcome": outcome.value})


def _address(request: Request) -> str | None:
    return request.client.host if request.client else None
