"""A case for a web questionnaire's rating: a bad review (1–2) opens one like a terminal's, and a number left
for a call-back opens one (or, for a bad review, starts its contact deadline) like a terminal's call-back.

Why not centre/cases/opening.py: its `open_for_ratings` never starts a contact deadline (a terminal's number
arrives later, on its own endpoint), and `open_for_callbacks` reads the rating from `ratings`, which a web
rating is not in. The case row and its `opened` event are the same as opening.py's (the same deadlines, in
the unit's working days, from the same calendar and settings), written with the case domain's own helpers
and tables, in the caller's transaction: the web rating, its counts and its case commit together. The
rating's uuid is the web rating's (`web_ratings.uuid`), the counter "" when the questionnaire named none, and
the `opened` event's detail says `channel: web`, so the office knows where to read the text.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection

from centre.cases.model import CaseState, EventKind, OpenedCase, Origin
from centre.cases.opening import BAD_LEVELS
from centre.cases.settings import CaseSettings, current
from centre.cases.store import zones
from centre.cases.workdays import load_calendar
from centre.db.loop_tables import case_events, cases
from contract import iso_utc

CHANNEL = "web"


def open_for_web_rating(conn: Connection, *, rating_uuid: str, unit_id: str, counter_id: str | None, level: int,
                        reasons: Sequence[str], with_number: bool, now: datetime,
                        settings: CaseSettings | None = None) -> OpenedCase | None:
    """The case of a web rating just stored, None when it needs none (a level 3–5 with no number)."""
    bad = level in BAD_LEVELS
    if not bad and not with_number:
        return None
    settings = settings or current()
    calendar = load_calendar(conn)
    zone = zones(conn, [unit_id])[unit_id]
    contact = calendar.add_working_days(now, settings.contact_working_days, zone) if with_number else None
    rectify = calendar.add_working_days(now, settings.rectify_working_days, zone)
    origin = Origin.BAD_REVIEW if bad else Origin.CALLBACK
    at = iso_utc(now)
    case_id = conn.execute(cases.insert().returning(cases.c.id).values(
        rating_uuid=rating_uuid, unit_id=unit_id, counter_id=counter_id or "", staff_id=None, level=level,
        opened_by=origin.value, state=CaseState.NEW.value, rated_at=at, opened_at=at,
        contact_due_at=iso_utc(contact) if contact else None, rectify_due_at=iso_utc(rectify))).scalar_one()
    codes = tuple(sorted(reasons))
    conn.execute(case_events.insert().values(
        case_id=case_id, at=at, actor=None, role=None, kind=EventKind.OPENED.value,
        detail={"origin": origin.value, "level": level, "reasons": list(codes), "channel": CHANNEL}))
    return OpenedCase(case_id=case_id, rating_uuid=rating_uuid, unit_id=unit_id, counter_id=counter_id or "",
                      staff_id=None, level=level, reasons=codes, opened_at=now, contact_due_at=contact,
                      rectify_due_at=rectify, origin=origin)
