"""The loop's periodic work (run by centre/housekeeping.py, once per centre): escalate what is overdue, erase
the numbers of cases closed long enough ago.

Escalation: a case past a deadline it has not met (contact, where a number was left; rectification) gets an
`escalated` event to its district office; still unmet `escalate_to_city_after_working_days` working days after
that deadline, one to the city office. Each (case, deadline, level) escalates once, however often the sweep
runs: the events themselves are the record of what was escalated. The lists show such cases red from the
deadline on (centre/cases/views.py), sweep or not.

Erasure: `erase_numbers_after_days` after a case closes, the citizen's numbers of its rating are set to ""
in `callbacks` and in `citizen_contacts` (the numbers left online, which also get their erased_at; the rows
stay: they say a call-back was asked for, and when), `cases.numbers_erased_at` is set
and a `numbers_erased` event says how many were erased, never what they were. A number that arrived after an
erasure is erased at the next sweep.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, exists, or_, select, update

from centre.cases.model import CaseState, EscalationLevel, EventKind
from centre.cases.settings import CaseSettings, current
from centre.cases.store import UNRECTIFIED, append, overdue_condition, zones
from centre.cases.workdays import WorkingCalendar, load_calendar
from centre.db.loop_tables import case_events, cases
from centre.db.public_tables import citizen_contacts
from centre.db.tables import callbacks
from contract import iso_utc


@dataclass(frozen=True)
class Escalation:
    case_id: int
    unit_id: str
    deadline: str            # contact, rectify (centre/cases/model.py Deadline)
    to: EscalationLevel
    due_at: str


def escalate(engine: Engine, now: datetime, settings: CaseSettings | None = None) -> list[Escalation]:
    """Escalate every overdue case that has not been escalated so far for that deadline and level; what it
    escalated now (nothing, on a second run at the same moment)."""
    settings = settings or current()
    with engine.begin() as conn:
        overdue = conn.execute(select(cases).where(overdue_condition(iso_utc(now)))).mappings().all()
        if not overdue:
            return []
        done = _escalated(conn, [row["id"] for row in overdue])
        calendar = load_calendar(conn)
        tz = zones(conn, [row["unit_id"] for row in overdue])
        found: list[Escalation] = []
        for row in overdue:
            for deadline, due in _missed(row, iso_utc(now)):
                for level in _levels(due, now, settings, calendar, tz[row["unit_id"]]):
                    if (row["id"], deadline, level.value) not in done:
                        append(conn, row["id"], EventKind.ESCALATED, None, now,
                               {"deadline": deadline, "to": level.value, "due_at": due})
                        found.append(Escalation(row["id"], row["unit_id"], deadline, level, due))
        return found


def _missed(row: Mapping[Any, Any], now_text: str) -> list[tuple[str, str]]:
    """The deadlines the case has missed: (contact or rectify, its due time)."""
    missed = []
    if (row["contact_due_at"] is not None and row["contacted_at"] is None and row["numbers_erased_at"] is None
            and row["contact_due_at"] <= now_text):
        missed.append(("contact", row["contact_due_at"]))
    if row["state"] in UNRECTIFIED and row["rectify_due_at"] <= now_text:
        missed.append(("rectify", row["rectify_due_at"]))
    return missed


def _levels(due: str, now: datetime, settings: CaseSettings, calendar: WorkingCalendar,
            tz: str) -> list[EscalationLevel]:
    """The district from the deadline on; the city too once the further working days have passed."""
    due_at = datetime.fromisoformat(due)
    days = settings.escalate_to_city_after_working_days
    # A deadline is a local midnight: the further days count after the local day that ended at it.
    city_at = due_at if days == 0 else calendar.add_working_days(due_at - timedelta(microseconds=1), days, tz)
    return [EscalationLevel.DISTRICT, EscalationLevel.CITY] if now >= city_at else [EscalationLevel.DISTRICT]


def _escalated(conn: Connection, case_ids: list[int]) -> set[tuple[int, str, str]]:
    done: set[tuple[int, str, str]] = set()
    for start in range(0, len(case_ids), 500):
        rows = conn.execute(select(case_events.c.case_id, case_events.c.detail).where(
            case_events.c.case_id.in_(case_ids[start:start + 500]), case_events.c.kind == EventKind.ESCALATED.value))
        done.update((case_id, str(detail.get("deadline")), str(detail.get("to"))) for case_id, detail in rows)
    return done


def erase_numbers(engine: Engine, now: datetime, settings: CaseSettings | None = None) -> list[int]:
    """Erase the numbers of the cases closed `erase_numbers_after_days` or more ago; the ids of those cases."""
    settings = settings or current()
    before = iso_utc(now - timedelta(days=settings.erase_numbers_after_days))
    with engine.begin() as conn:
        at_terminal = exists().where(and_(callbacks.c.rating_uuid == cases.c.rating_uuid, callbacks.c.phone != ""))
        online = exists().where(and_(citizen_contacts.c.rating_uuid == cases.c.rating_uuid,
                                     citizen_contacts.c.phone != ""))
        due = conn.execute(select(cases.c.id, cases.c.rating_uuid).where(
            cases.c.state == CaseState.CLOSED.value, cases.c.closed_at <= before, or_(at_terminal, online))
            .order_by(cases.c.id)).all()
        for case_id, rating_uuid in due:
            erased = conn.execute(update(callbacks).where(callbacks.c.rating_uuid == rating_uuid,
                                                          callbacks.c.phone != "").values(phone="")).rowcount
            erased += conn.execute(update(citizen_contacts).where(
                citizen_contacts.c.rating_uuid == rating_uuid, citizen_contacts.c.phone != "").values(
                phone="", erased_at=iso_utc(now))).rowcount
            conn.execute(update(cases).where(cases.c.id == case_id).values(numbers_erased_at=iso_utc(now)))
            append(conn, case_id, EventKind.NUMBERS_ERASED, None, now,
                   {"erased": erased, "after_days": settings.erase_numbers_after_days})
        return [case_id for case_id, _ in due]
