"""A complaint filed from the terminal's signed complaint link (/c): the form, checked and stored, and its case.

The form: a text of at most 500 characters (required: a complaint says what happened), an optional number for
a call-back with the terminal's consent, and a one-time form id. Refused with a 4xx page and nothing stored:
HTML or script in the text, a body that is not UTF-8, a bad form id (centre/public/abuse.py). Spam and abuse
are flagged and kept. A second submission of one form stores nothing ("already received"); a link files at
most `PublicSettings.complaints_per_rating` complaints, each from a fresh form.

Stored in its own transaction first (`complaints`, and the number in `citizen_contacts`, never anywhere else),
then joined to the rating's case in a second one (centre/public/complaintcases.py): a complaint is never lost
to a race on the case, which the sweep then retries. A rating that has not reached the centre yet (terminals
sync in batches) leaves the complaint waiting; the sweep joins it when the rating arrives.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError

from centre.db.public_tables import citizen_contacts, complaints
from centre.errors import BadInput, CentreError
from centre.public.abuse import clean_text, flag_of
from centre.public.complaintcases import CONTACT_SOURCE, Joined, join_complaint
from centre.public.consent import consent_version
from centre.public.settings import PublicSettings
from centre.public.signed import Link
from centre.public.webratings import FORM_ID, new_form_id
from contract import iso_utc
from contract.fields import PHONE_PATTERN

log = logging.getLogger("centre.public.complaints")

__all__ = ["Filed", "Form", "Problem", "already_received", "file_complaint", "new_form", "read_form"]


class Problem(str, Enum):
    """What the citizen must fix before the complaint is taken: the form is shown again with it."""

    NO_TEXT = "no_text"
    PHONE = "phone"
    CONSENT = "consent"


class Filed(str, Enum):
    STORED = "stored"           # kept, and joined to the rating's case (or opened one)
    KEPT = "kept"               # kept on its own: the rating's case is closed (or the sweep joins it later)
    WAITING = "waiting"         # kept; the rating has not reached the centre yet: joined when it does
    ALREADY = "already"         # this form was submitted before: nothing stored now
    TOO_MANY = "too_many"       # the link has filed its complaints: nothing stored


@dataclass(frozen=True)
class Form:
    """The complaint form as the citizen filled it (kept as sent, to show the form again)."""

    form_id: str
    text: str
    phone: str
    consent: bool

    @property
    def problems(self) -> tuple[Problem, ...]:
        found = []
        if not self.text:
            found.append(Problem.NO_TEXT)
        if self.phone and not re.fullmatch(PHONE_PATTERN, self.phone):
            found.append(Problem.PHONE)
        if self.phone and not self.consent:
            found.append(Problem.CONSENT)
        return tuple(found)


def new_form() -> Form:
    return Form(form_id=new_form_id(), text="", phone="", consent=False)


def _one(fields: Mapping[str, list[str]], name: str) -> str:
    values = fields.get(name, [])
    if len(values) > 1:
        raise BadInput(f"{name}: sent more than once")
    return values[0] if values else ""


def read_form(fields: Mapping[str, list[str]]) -> Form:
    """The form of a parsed body; BadInput (nothing stored) for what no form of ours sends."""
    form_id = _one(fields, "form_id")
    if not FORM_ID.fullmatch(form_id):
        raise BadInput("form_id: missing or not one the centre made; open the complaint link again")
    phone = re.sub(r"[\s-]", "", _one(fields, "phone"))
    if phone.startswith("+86"):
        phone = phone[3:]
    return Form(form_id=form_id, text=clean_text(_one(fields, "text")), phone=phone[:20],
                consent=_one(fields, "consent") == "yes")


def already_received(engine: Engine, form_id: str) -> bool:
    with engine.connect() as conn:
        return conn.execute(select(complaints.c.pk).where(complaints.c.form_id == form_id)).first() is not None


def file_complaint(engine: Engine, link: Link, form: Form, now: datetime, settings: PublicSettings) -> Filed:
    """Store a complete complaint (no `problems`) about the link's rating, then join it to the rating's case."""
    assert not form.problems
    try:
        with engine.begin() as conn:
            if conn.execute(select(complaints.c.pk).where(complaints.c.form_id == form.form_id)).first():
                return Filed.ALREADY
            filed = conn.execute(select(func.count()).select_from(complaints)
                                 .where(complaints.c.rating_uuid == link.rating_uuid)).scalar_one()
            if filed >= settings.complaints_per_rating:
                return Filed.TOO_MANY
            flag = flag_of(form.text, settings)
            at = iso_utc(now)
            pk = conn.execute(complaints.insert().returning(complaints.c.pk).values(
                rating_uuid=link.rating_uuid, device_id=link.device_id, text=form.text,
                flag=flag.value if flag else None, form_id=form.form_id, submitted_at=at)).scalar_one()
            if form.phone:
                conn.execute(citizen_contacts.insert().values(
                    rating_uuid=link.rating_uuid, source=CONTACT_SOURCE, phone=form.phone,
                    consent_version=consent_version(), given_at=at, erased_at=None))
    except IntegrityError:
        # Two submissions of one form at once: the unique form id let one in; this one stores nothing.
        if already_received(engine, form.form_id):
            return Filed.ALREADY
        raise
    try:
        with engine.begin() as conn:
            joined = join_complaint(conn, pk, now)
    except (CentreError, IntegrityError):
        # The case moved under this join (another step, a call-back opening it at once): the complaint is kept,
        # and the housekeeping's sweep (complaintcases.join_waiting) joins it on its next pass.
        log.warning("complaint %s stored; its join to the case is left to the sweep", pk, exc_info=True)
        return Filed.KEPT
    return {Joined.WAITING: Filed.WAITING, Joined.CLOSED: Filed.KEPT}.get(joined, Filed.STORED)
