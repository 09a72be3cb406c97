"""A web questionnaire's answer, checked and stored: the rating (`web_ratings`, channel `web`), the number
left for a call-back (`citizen_contacts`, with the consent's version), its count in the rollups (measure
`web_level`), and its case with the case's alert, all in one transaction: they commit together or not at all.

One answer per form: the form's one-time id is unique in `web_ratings`, so a second submission of the same
form (a double tap, a reload, a retry over a bad network) stores nothing and is told "already received".
"""
from __future__ import annotations

import re
import secrets
import uuid as uuid_mod
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from sqlalchemy import Connection, Engine, select
from sqlalchemy.exc import IntegrityError

from centre import rollups
from centre.alerts.queue import cases_opened
from centre.db.public_tables import citizen_contacts, web_ratings
from centre.errors import BadInput
from centre.public.abuse import Flag, clean_text, flag_of
from centre.public.consent import consent_version
from centre.public.settings import PublicSettings
from centre.public.tokens import Token
from centre.public.webcases import open_for_web_rating
from centre.reports import unit_zone
from contract import iso_utc
from contract.fields import PHONE_PATTERN

LEVELS = (5, 4, 3, 2, 1)
# The terminal's default bad-review reasons (kiosk/config/citizen.py default_reasons), the same codes so the
# office counts them together; tests/centre/test_public_consent.py holds them equal.
REASON_CODES = ("attitude", "slow", "wait", "unclear", "extra_trips", "environment")
FORM_ID = re.compile(r"^[A-Za-z0-9_-]{16,32}$")
CONTACT_SOURCE = "questionnaire"


class Problem(str, Enum):
    """What the citizen must fix before the answer is taken: the form is shown again with it."""

    NO_LEVEL = "no_level"
    PHONE = "phone"
    CONSENT = "consent"


class Stored(str, Enum):
    STORED = "stored"
    ALREADY = "already"       # this form was submitted before: nothing stored now


@dataclass(frozen=True)
class Answer:
    """The form as the citizen filled it (the fields kept as sent, to show the form again)."""

    form_id: str
    level: int | None
    reasons: tuple[str, ...]
    text: str
    phone: str
    consent: bool

    @property
    def problems(self) -> tuple[Problem, ...]:
        found = []
        if self.level is None:
            found.append(Problem.NO_LEVEL)
        if self.phone and not re.fullmatch(PHONE_PATTERN, self.phone):
            found.append(Problem.PHONE)
        if self.phone and not self.consent:
            found.append(Problem.CONSENT)
        return tuple(found)


def new_form_id() -> str:
    return secrets.token_urlsafe(16)     # 22 characters


def _one(fields: Mapping[str, list[str]], name: str) -> str:
    values = fields.get(name, [])
    if len(values) > 1:
        raise BadInput(f"{name}: sent more than once")
    return values[0] if values else ""


def read_answer(fields: Mapping[str, list[str]]) -> Answer:
    """The answer of a parsed form; BadInput (nothing stored) for what no form of ours sends: an unknown
    level or reason, a bad form id, HTML in the text, a text over 500 characters."""
    form_id = _one(fields, "form_id")
    if not FORM_ID.fullmatch(form_id):
        raise BadInput("form_id: missing or not one the centre made; open the questionnaire again")
    raw_level = _one(fields, "level")
    if raw_level and raw_level not in {str(level) for level in LEVELS}:
        raise BadInput(f"level: must be one of 1–5, got {raw_level!r}")
    reasons = tuple(dict.fromkeys(fields.get("reason", [])))
    unknown = sorted(set(reasons) - set(REASON_CODES))
    if unknown:
        raise BadInput(f"reason: unknown code(s) {', '.join(unknown)}")
    phone = re.sub(r"[\s-]", "", _one(fields, "phone"))
    if phone.startswith("+86"):
        phone = phone[3:]
    return Answer(form_id=form_id, level=int(raw_level) if raw_level else None, reasons=reasons,
                  text=clean_text(_one(fields, "text")), phone=phone[:20], consent=_one(fields, "consent") == "yes")


def already_received(engine: Engine, form_id: str) -> bool:
    with engine.connect() as conn:
        return conn.execute(select(web_ratings.c.pk).where(web_ratings.c.form_id == form_id)).first() is not None


def store(engine: Engine, token: Token, answer: Answer, now: datetime, settings: PublicSettings) -> Stored:
    """Store a complete answer (no `problems`) given on `token`'s questionnaire, in one transaction."""
    assert answer.level is not None and not answer.problems
    try:
        with engine.begin() as conn:
            if conn.execute(select(web_ratings.c.pk).where(web_ratings.c.form_id == answer.form_id)).first():
                return Stored.ALREADY
            _store_in(conn, token, answer, now, flag_of(answer.text, settings))
    except IntegrityError:
        # Two submissions of one form at the same instant: the unique form id let one in, this one stores nothing.
        if already_received(engine, answer.form_id):
            return Stored.ALREADY
        raise
    return Stored.STORED


def _store_in(conn: Connection, token: Token, answer: Answer, now: datetime, flag: Flag | None) -> None:
    assert answer.level is not None
    at = iso_utc(now)
    rating_uuid = str(uuid_mod.uuid4())
    row = {"uuid": rating_uuid, "unit_id": token.unit_id, "counter_id": token.counter_id, "level": answer.level,
           "reasons": list(answer.reasons), "text": answer.text, "flag": flag.value if flag else None,
           "token_id": token.token_id, "form_id": answer.form_id, "submitted_at": at}
    conn.execute(web_ratings.insert().values(**row))
    if answer.phone:
        conn.execute(citizen_contacts.insert().values(rating_uuid=rating_uuid, source=CONTACT_SOURCE,
                                                      phone=answer.phone, consent_version=consent_version(),
                                                      given_at=at, erased_at=None))
    rollups.add(conn, Counter({rollups.web_rating_key(row, unit_zone(conn, token.unit_id)): 1}))
    case = open_for_web_rating(conn, rating_uuid=rating_uuid, unit_id=token.unit_id, counter_id=token.counter_id,
                               level=answer.level, reasons=answer.reasons, with_number=bool(answer.phone), now=now)
    if case is not None:
        cases_opened(conn, [case], now)   # a bad review's alert, queued like a terminal's
