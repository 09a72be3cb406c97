"""A complaint joins its rating's case, or opens one (Origin.COMPLAINT), once the rating is at the centre.

Why not centre/cases/opening.py: it opens cases for ratings a batch just inserted (`open_for_ratings`) and for
call-back requests (`open_for_callbacks`), and has no entry for a complaint. This module writes the same case
row and events with the case domain's own helpers (its tables, `store.check_step`/`append`, the working-day
calendar and the city's CaseSettings), in the caller's transaction:

- the rating has a case that is still open: a `joined` event (origin complaint); a number left with the
  complaint starts the case's contact deadline if none runs yet, as a terminal's call-back does;
- the rating has no case (a good rating complained about, a bad review from before the loop): a case opens
  with origin complaint, its deadlines from now in the unit's working days, like opening.py's;
- the case is closed: nothing is written to it (a closed case takes no step), the complaint stays on its own;
- the rating is not at the centre yet: nothing now; `join_waiting`, a sweep of `evaluator centre serve`'s
  housekeeping, joins such complaints when their rating arrives (for PublicSettings.complaint_wait_days).

A complaint that opened a case or joined one queues its alert to the unit (centre/alerts/queue.py) in the same
transaction: the duty manager hears of it at once, never of its text (the citizen's own words, read in the case).

The event names the complaint (`complaint_id`), its flag and its text with any run of digits masked: the
citizen's number goes to `citizen_contacts` only, never into a case's events, even typed into the text.
"""
from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from sqlalchemy import Connection, Engine, RowMapping, and_, select, update

from centre.alerts import queue
from centre.cases.model import CaseState, EventKind, OpenedCase, Origin
from centre.cases.opening import held_codes
from centre.cases.settings import CaseSettings, current
from centre.cases.store import append, check_step, zones
from centre.cases.workdays import load_calendar
from centre.db.loop_tables import case_events, cases
from centre.db.public_tables import citizen_contacts, complaints
from centre.db.tables import ratings
from centre.public.settings import PublicSettings
from contract import iso_utc

log = logging.getLogger("centre.public.complaints")
CONTACT_SOURCE = "complaint"     # citizen_contacts.source of a number left with a complaint
_DIGITS = re.compile(r"\d[\d\s-]{4,}\d")


class Joined(str, Enum):
    OPENED = "opened"           # the complaint opened the rating's case
    JOINED = "joined"           # it joined the rating's open case (now or before)
    CLOSED = "closed"           # the rating's case is closed: the complaint stays on its own
    WAITING = "waiting"         # the rating has not reached the centre yet


def masked(text: str) -> str:
    """The complaint's text as a case event carries it: digit runs (a number typed into it) masked."""
    return _DIGITS.sub("＊＊＊", text)


def join_complaint(conn: Connection, complaint_pk: int, now: datetime,
                   settings: CaseSettings | None = None) -> Joined:
    """Join complaint `complaint_pk` to its rating's case, or open one (see the module); in `conn`'s transaction."""
    settings = settings or current()
    complaint = conn.execute(select(complaints).where(complaints.c.pk == complaint_pk)).mappings().one()
    rating = conn.execute(select(ratings).where(ratings.c.uuid == complaint["rating_uuid"])).mappings().first()
    if rating is None:
        return Joined.WAITING
    number = conn.execute(select(citizen_contacts.c.pk).where(
        citizen_contacts.c.rating_uuid == complaint["rating_uuid"], citizen_contacts.c.source == CONTACT_SOURCE,
        citizen_contacts.c.erased_at.is_(None))).first() is not None
    detail = {"origin": Origin.COMPLAINT.value, "complaint_id": complaint["pk"], "flag": complaint["flag"],
              "text": masked(complaint["text"])}
    case = conn.execute(select(cases).where(cases.c.rating_uuid == rating["uuid"])).mappings().first()
    if case is None:
        queue.cases_opened(conn, [_open(conn, rating, detail, number, now, settings)], now)
        return Joined.OPENED
    if complaint["pk"] in _joined_complaints(conn, [case["id"]]):
        return Joined.JOINED
    if case["state"] == CaseState.CLOSED.value:
        return Joined.CLOSED
    check_step(conn, case, EventKind.JOINED, None, settings)
    due = case["contact_due_at"]
    if number and due is None:
        zone = zones(conn, [case["unit_id"]])[case["unit_id"]]
        due = iso_utc(load_calendar(conn).add_working_days(now, settings.contact_working_days, zone))
        conn.execute(update(cases).where(and_(cases.c.id == case["id"], cases.c.contact_due_at.is_(None)))
                     .values(contact_due_at=due))
    append(conn, case["id"], EventKind.JOINED, None, now, detail)
    # A complaint is news even on a case the unit already works: it hears of it at once.
    codes = held_codes(conn, [rating["uuid"]]).get(rating["uuid"], ())
    queue.cases_opened(conn, [OpenedCase.of_row(case["id"], {**case, "contact_due_at": due}, codes,
                                                joined_by=Origin.COMPLAINT)], now)
    return Joined.JOINED


def _open(conn: Connection, rating: RowMapping, detail: dict[str, Any], number: bool, now: datetime,
          settings: CaseSettings) -> OpenedCase:
    calendar = load_calendar(conn)
    unit = rating["placed_unit_id"]
    zone = zones(conn, [unit])[unit]
    contact = calendar.add_working_days(now, settings.contact_working_days, zone) if number else None
    rectify = calendar.add_working_days(now, settings.rectify_working_days, zone)
    row = {"rating_uuid": rating["uuid"], "unit_id": unit, "counter_id": rating["placed_counter_id"],
           "staff_id": rating["staff_id"], "level": rating["level"], "opened_by": Origin.COMPLAINT.value,
           "state": CaseState.NEW.value, "rated_at": rating["counted_at"], "opened_at": iso_utc(now),
           "contact_due_at": iso_utc(contact) if contact else None, "rectify_due_at": iso_utc(rectify)}
    case_id: int = conn.execute(cases.insert().returning(cases.c.id).values(**row)).scalar_one()
    codes = held_codes(conn, [rating["uuid"]]).get(rating["uuid"], ())
    append(conn, case_id, EventKind.OPENED, None, now,
           {**detail, "level": rating["level"], "reasons": list(codes)})
    return OpenedCase.of_row(case_id, row, codes)


def _joined_complaints(conn: Connection, case_ids: list[int]) -> set[int]:
    """The complaints the cases' events already name (opened by one, or joined)."""
    if not case_ids:
        return set()
    details = conn.execute(select(case_events.c.detail).where(
        case_events.c.case_id.in_(case_ids),
        case_events.c.kind.in_((EventKind.OPENED.value, EventKind.JOINED.value)))).scalars()
    return {detail["complaint_id"] for detail in details
            if isinstance(detail, dict) and isinstance(detail.get("complaint_id"), int)}


def join_waiting(engine: Engine, now: datetime, settings: PublicSettings) -> int:
    """The sweep: join each complaint of the last `complaint_wait_days` whose rating has arrived since it was
    filed (or whose join failed) and whose case is not closed; the number joined. One complaint that fails is
    logged and left for the next sweep: it never holds up the others."""
    since = iso_utc(now - timedelta(days=settings.complaint_wait_days))
    with engine.connect() as conn:
        found = conn.execute(select(complaints.c.pk, complaints.c.rating_uuid)
                             .join(ratings, ratings.c.uuid == complaints.c.rating_uuid)
                             .where(complaints.c.submitted_at >= since).order_by(complaints.c.pk)).all()
        if not found:
            return 0
        held = {row.rating_uuid: (row.id, row.state) for row in conn.execute(
            select(cases.c.rating_uuid, cases.c.id, cases.c.state)
            .where(cases.c.rating_uuid.in_(sorted({row.rating_uuid for row in found}))))}
        done = _joined_complaints(conn, [case_id for case_id, _state in held.values()])
    waiting = [row.pk for row in found if row.pk not in done
               and held.get(row.rating_uuid, (None, None))[1] != CaseState.CLOSED.value]
    joined = 0
    for pk in waiting:
        try:
            with engine.begin() as conn:
                joined += join_complaint(conn, pk, now) in (Joined.OPENED, Joined.JOINED)
        except Exception:
            log.exception("complaint %s could not join its rating's case; the next sweep tries again", pk)
    return joined
