"""What a reader sees of cases: a list in a scope, a case in detail, and, for the caller alone, the number.

A unit manager's view never holds the citizen's number nor anything that identifies the citizen: no
call-back row, no consent text, not the rating's uuid (the citizen's receipt names it), not the caller's
notes of what the citizen said (the outcome of each call only). The caller sees that a number was left,
and sees the number itself only through `reveal_number`, which records the view in the audit log and on
the case.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, and_, func, select

from centre.cases import evidence
from centre.cases.deadlines import DueState, due_state
from centre.cases.evidence import FileInfo
from centre.cases.model import (
    OPEN_STATES,
    Actor,
    ActorRole,
    AppealState,
    CaseState,
    EventKind,
    Origin,
    allowed,
)
from centre.cases.settings import CaseSettings, current
from centre.cases.store import UNRECTIFIED, append, check_step, load, overdue_condition, require_reach
from centre.db.loop_tables import case_events, cases
from centre.db.public_tables import citizen_contacts
from centre.db.rows import utcnow
from centre.db.tables import audit_log, callbacks, ratings, reasons, units
from centre.errors import BadInput
from contract import iso_utc

# What the caller writes down of a call may quote the citizen: the unit sees the outcome only.
_CALLER_NOTES = {EventKind.CONTACT_ATTEMPT.value, EventKind.CONTACTED.value, EventKind.VERDICT.value}
_STEPS = (EventKind.ASSIGNED, EventKind.CONTACT_ATTEMPT, EventKind.RECTIFIED, EventKind.SENT_BACK,
          EventKind.VERIFIED, EventKind.VERDICT, EventKind.CLOSED, EventKind.APPEALED, EventKind.APPEAL_UPHELD,
          EventKind.NUMBER_VIEWED)
# centre/console/audit.py's Action.PERSONAL_DATA_VIEWED: the console reads the log; the centre's own modules
# never import the console (.importlinter, console-is-a-face), so the value is written here as it is there.
PERSONAL_DATA_VIEWED = "personal_data_viewed"


@dataclass(frozen=True)
class CaseFilters:
    states: tuple[CaseState, ...] = ()
    unit_id: str | None = None
    origin: Origin | None = None
    overdue_only: bool = False
    appeal: AppealState | None = None
    opened_since: datetime | None = None
    opened_until: datetime | None = None
    escalated_only: bool = False     # escalated at least once (an `escalated` event), to any level


@dataclass(frozen=True)
class CaseSummary:
    id: int
    unit_id: str
    counter_id: str
    staff_id: str | None
    level: int
    origin: Origin
    state: CaseState
    rated_at: str
    opened_at: str
    contact_due_at: str | None
    rectify_due_at: str
    contacted_at: str | None
    rectified_at: str | None
    closed_at: str | None
    verdict: str | None
    appeal: str | None
    has_number: bool           # the citizen left a number (never the number itself)
    numbers_erased_at: str | None
    contact_due: DueState | None    # None: no number, or contacted, or closed
    rectify_due: DueState | None    # None: rectified, verified or closed
    escalated_to: str | None        # district, city: the highest escalation so far
    rating_uuid: str | None         # None in a unit manager's view

    @property
    def overdue(self) -> bool:
        return DueState.OVERDUE in (self.contact_due, self.rectify_due)


@dataclass(frozen=True)
class EventView:
    id: int
    at: str
    actor: str | None
    role: str | None
    kind: EventKind
    detail: dict[str, Any]


@dataclass(frozen=True)
class CaseDetail:
    case: CaseSummary
    reasons: tuple[str, ...]
    events: tuple[EventView, ...]
    files: tuple[FileInfo, ...]
    may: tuple[EventKind, ...]      # the steps this actor may take now (the console's buttons)


def scope_units(conn: Connection, actor: Actor) -> tuple[str, ...] | None:
    """The units whose cases the actor sees (None: every unit)."""
    if actor.role is ActorRole.UNIT:
        return actor.scope_ids
    if actor.role is ActorRole.DISTRICT:
        ids = [int(item) for item in actor.scope_ids if item.isdigit()]
        return tuple(conn.execute(select(units.c.id).where(units.c.district_id.in_(ids))).scalars())
    return None


def case_list(conn: Connection, unit_ids: tuple[str, ...] | None, filters: CaseFilters = CaseFilters(), *,
              limit: int = 200, offset: int = 0, actor: Actor | None = None,
              now: datetime | None = None) -> tuple[list[CaseSummary], int]:
    """A page of the cases of `unit_ids` (None: the city), newest first, and how many match in all.
    With a unit manager as `actor` (or none given), the rating's uuid is left out."""
    now = now or utcnow()
    where = _where(unit_ids, filters, iso_utc(now))
    total = int(conn.execute(select(func.count()).select_from(cases).where(*where)).scalar_one())
    rows = conn.execute(select(cases, units.c.timezone).outerjoin(units, units.c.id == cases.c.unit_id)
                        .where(*where).order_by(cases.c.id.desc()).limit(limit).offset(offset)).mappings().all()
    levels = _escalations(conn, [row["id"] for row in rows])
    office = actor is not None and actor.role is not ActorRole.UNIT
    return [_summary(row, now, levels.get(row["id"]), office) for row in rows], total


def _where(unit_ids: tuple[str, ...] | None, filters: CaseFilters, now_text: str) -> list[Any]:
    where: list[Any] = []
    if unit_ids is not None:
        where.append(cases.c.unit_id.in_(unit_ids))
    if filters.unit_id is not None:
        where.append(cases.c.unit_id == filters.unit_id)
    if filters.states:
        where.append(cases.c.state.in_([state.value for state in filters.states]))
    if filters.origin is not None:
        where.append(cases.c.opened_by == filters.origin.value)
    if filters.appeal is not None:
        where.append(cases.c.appeal == filters.appeal.value)
    if filters.opened_since is not None:
        where.append(cases.c.opened_at >= iso_utc(filters.opened_since))
    if filters.opened_until is not None:
        where.append(cases.c.opened_at < iso_utc(filters.opened_until))
    if filters.overdue_only:
        where.append(overdue_condition(now_text))
    if filters.escalated_only:
        where.append(cases.c.id.in_(select(case_events.c.case_id)
                                    .where(case_events.c.kind == EventKind.ESCALATED.value)))
    return where


def _escalations(conn: Connection, case_ids: list[int]) -> dict[int, str]:
    """The highest escalation of each case (city over district)."""
    found: dict[int, str] = {}
    if not case_ids:
        return found
    rows = conn.execute(select(case_events.c.case_id, case_events.c.detail)
                        .where(case_events.c.case_id.in_(case_ids),
                               case_events.c.kind == EventKind.ESCALATED.value))
    for case_id, detail in rows:
        level = str((detail or {}).get("to"))
        if level == "city" or case_id not in found:
            found[case_id] = level
    return found


def _summary(row: Mapping[Any, Any], now: datetime, escalated: str | None, office: bool) -> CaseSummary:
    tz = row.get("timezone") or "UTC"
    state = CaseState(row["state"])
    open_case = state in OPEN_STATES
    contact_due = None
    if open_case and row["contact_due_at"] and not row["contacted_at"] and not row["numbers_erased_at"]:
        contact_due = due_state(datetime.fromisoformat(row["contact_due_at"]), now, tz)
    rectify_due = None
    if row["state"] in UNRECTIFIED:
        rectify_due = due_state(datetime.fromisoformat(row["rectify_due_at"]), now, tz)
    return CaseSummary(
        id=row["id"], unit_id=row["unit_id"], counter_id=row["counter_id"], staff_id=row["staff_id"],
        level=row["level"], origin=Origin(row["opened_by"]), state=state, rated_at=row["rated_at"],
        opened_at=row["opened_at"], contact_due_at=row["contact_due_at"], rectify_due_at=row["rectify_due_at"],
        contacted_at=row["contacted_at"], rectified_at=row["rectified_at"], closed_at=row["closed_at"],
        verdict=row["verdict"], appeal=row["appeal"], has_number=row["contact_due_at"] is not None,
        numbers_erased_at=row["numbers_erased_at"], contact_due=contact_due, rectify_due=rectify_due,
        escalated_to=escalated, rating_uuid=row["rating_uuid"] if office else None)


def case_detail(conn: Connection, case_id: int, actor: Actor, *, now: datetime | None = None,
                settings: CaseSettings | None = None) -> CaseDetail:
    """One case as `actor` may see it: NotFound, or Forbidden outside the actor's reach. Never a number."""
    settings, now = settings or current(), now or utcnow()
    case = load(conn, case_id)
    require_reach(conn, actor, case)
    office = actor.role is not ActorRole.UNIT
    zone = conn.execute(select(units.c.timezone).where(units.c.id == case["unit_id"])).scalar()
    summary = _summary({**case, "timezone": zone}, now, _escalations(conn, [case_id]).get(case_id), office)
    rows = conn.execute(select(case_events).where(case_events.c.case_id == case_id).order_by(case_events.c.id))
    events = tuple(EventView(row.id, row.at, row.actor, row.role, EventKind(row.kind),
                             _shown(row.kind, dict(row.detail or {}), office)) for row in rows)
    codes = conn.execute(select(reasons.c.code).join(ratings, and_(ratings.c.uuid == reasons.c.rating_uuid,
                                                                   ratings.c.delivered_by == reasons.c.device_id))
                         .where(reasons.c.rating_uuid == case["rating_uuid"]).order_by(reasons.c.code)).scalars()
    return CaseDetail(summary, tuple(codes), events, tuple(evidence.listed(conn, case_id)),
                      _may(case, actor, settings))


def _shown(kind: str, detail: dict[str, Any], office: bool) -> dict[str, Any]:
    if not office and kind in _CALLER_NOTES:
        detail.pop("note", None)
    return detail


def _may(case: RowMapping, actor: Actor, settings: CaseSettings) -> tuple[EventKind, ...]:
    state = CaseState(case["state"])
    found = [kind for kind in _STEPS if allowed(kind, state, actor.role, settings.caller_role)]
    has_number = case["contact_due_at"] is not None and case["numbers_erased_at"] is None
    appeal = case["appeal"]
    return tuple(kind for kind in found
                 if (has_number or kind not in (EventKind.CONTACT_ATTEMPT, EventKind.NUMBER_VIEWED))
                 and (kind is not EventKind.APPEALED or appeal is None)
                 and (kind is not EventKind.APPEAL_UPHELD or appeal == AppealState.PENDING.value)
                 and (kind is not EventKind.CLOSED or appeal != AppealState.PENDING.value)
                 and (kind is not EventKind.VERDICT or has_number))


def reveal_number(conn: Connection, case_id: int, actor: Actor, *, address: str | None = None,
                  now: datetime | None = None, settings: CaseSettings | None = None) -> str:
    """The citizen's number, for the caller role alone; the view is written to the audit log (with the
    actor and `address`, the request's) and as a `number_viewed` event on the case, neither with the number."""
    settings, now = settings or current(), now or utcnow()
    case = load(conn, case_id)
    check_step(conn, case, EventKind.NUMBER_VIEWED, actor, settings)
    phone = _number(conn, case["rating_uuid"])
    if phone is None or case["numbers_erased_at"] is not None:
        raise BadInput(f"case {case_id} has no number to show"
                       + (f": erased on {case['numbers_erased_at']}" if case["numbers_erased_at"] else ""))
    conn.execute(audit_log.insert().values(at=iso_utc(now), actor=actor.name, role=actor.role.value,
                                           action=PERSONAL_DATA_VIEWED, target=f"case:{case_id}",
                                           detail={"case_id": case_id, "field": "phone"}, address=address))
    append(conn, case_id, EventKind.NUMBER_VIEWED, actor, now, {})
    return str(phone)


def _number(conn: Connection, rating_uuid: str) -> str | None:
    """The latest number left for the rating: at the terminal (`callbacks`), else online (`citizen_contacts`)."""
    phone = conn.execute(select(callbacks.c.phone)
                         .where(callbacks.c.rating_uuid == rating_uuid, callbacks.c.phone != "")
                         .order_by(callbacks.c.pk.desc()).limit(1)).scalar()
    if phone is None:
        phone = conn.execute(select(citizen_contacts.c.phone).where(
            citizen_contacts.c.rating_uuid == rating_uuid, citizen_contacts.c.phone != "",
            citizen_contacts.c.erased_at.is_(None)).order_by(citizen_contacts.c.pk.desc()).limit(1)).scalar()
    return str(phone) if phone is not None else None
