"""The SQL every step shares: read a case, check who may take a step on it, append the event, move the summary.

A step checks everything first and writes after (the event, then the summary with a guard on the state it
read), so a refused step leaves the case exactly as it was, and of two offices taking steps on one case at
once, the second is told the case changed instead of both succeeding.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, and_, or_, select, update

from centre.cases.model import RULES, UNRECTIFIED_STATES, Actor, ActorRole, CaseState, EventKind, Party, parties_of
from centre.cases.settings import CaseSettings
from centre.db.loop_tables import case_events, cases
from centre.db.rows import nul_field
from centre.db.tables import devices, units
from centre.errors import BadInput, Forbidden, NotFound
from contract import iso_utc

TEXT_LIMIT = 4000      # characters of a note, a cause, measures, a reason
UNRECTIFIED = sorted(state.value for state in UNRECTIFIED_STATES)   # as stored
FALLBACK_ZONE = "Asia/Shanghai"   # a unit neither the registry nor any device places (none should be)

_VERBS = {
    EventKind.ASSIGNED: "assign", EventKind.CONTACT_ATTEMPT: "record a call on",
    EventKind.CONTACTED: "record a call on", EventKind.RECTIFIED: "rectify", EventKind.SENT_BACK: "send back",
    EventKind.VERIFIED: "verify", EventKind.VERDICT: "record the citizen's verdict on", EventKind.CLOSED: "close",
    EventKind.APPEALED: "appeal", EventKind.APPEAL_UPHELD: "decide the appeal of",
    EventKind.APPEAL_REJECTED: "decide the appeal of", EventKind.NUMBER_VIEWED: "see the number of",
}


def load(conn: Connection, case_id: int) -> RowMapping:
    row = conn.execute(select(cases).where(cases.c.id == case_id)).mappings().first()
    if row is None:
        raise NotFound(f"no case {case_id}")
    return row


def unit_district(conn: Connection, unit_id: str) -> int | None:
    return conn.execute(select(units.c.district_id).where(units.c.id == unit_id)).scalar()


def covers(conn: Connection, actor: Actor, unit_id: str) -> bool:
    """Whether the actor's reach holds the unit now: its own unit, its district's units, or the city."""
    if actor.role is ActorRole.UNIT:
        return unit_id in actor.scope_ids
    if actor.role is ActorRole.DISTRICT:
        district = unit_district(conn, unit_id)
        return district is not None and str(district) in actor.scope_ids
    return actor.role in (ActorRole.CITY, ActorRole.AUDITOR)


def require_reach(conn: Connection, actor: Actor, case: RowMapping) -> None:
    if not covers(conn, actor, case["unit_id"]):
        raise Forbidden(f"{actor.name} ({actor.role.value}) may not handle case {case['id']}: "
                        f"it belongs to unit {case['unit_id']!r}, outside {actor.name}'s reach")


def check_step(conn: Connection, case: RowMapping, kind: EventKind, actor: Actor | None,
               settings: CaseSettings) -> None:
    """Forbidden for an actor outside the case's reach or of a role the step is not for; BadInput for a step
    the case's state does not allow. `actor` None is the centre itself."""
    rule = RULES[kind]
    verb = _VERBS.get(kind, kind.value)
    if actor is None:
        if Party.CENTRE not in rule.parties:
            raise Forbidden(f"only an office may {verb} a case")
    else:
        require_reach(conn, actor, case)
        if not rule.parties & parties_of(actor.role, settings.caller_role):
            raise Forbidden(f"{actor.name} ({actor.role.value}) may not {verb} a case: that is for "
                            f"{_who(rule.parties, settings.caller_role)}")
    state = CaseState(case["state"])
    if state not in rule.states:
        needed = " or ".join(sorted(item.value for item in rule.states))
        raise BadInput(f"case {case['id']} is {state.value}: to {verb} it, it must be {needed}")


def _who(parties: frozenset[Party], caller_role: ActorRole) -> str:
    names = {Party.UNIT: "the case's unit", Party.DISTRICT: "its district office", Party.CITY: "the city office",
             Party.CALLER: f"the caller ({caller_role.value} office)", Party.CENTRE: "the centre"}
    return ", ".join(names[party] for party in Party if party in parties and party is not Party.CENTRE) \
        or "the centre"


def append(conn: Connection, case_id: int, kind: EventKind, actor: Actor | None, now: datetime,
           detail: Mapping[str, Any]) -> int:
    """Append one event; its id."""
    result = conn.execute(case_events.insert().values(
        case_id=case_id, at=iso_utc(now), actor=actor.name if actor else None,
        role=actor.role.value if actor else None, kind=kind.value, detail=dict(detail)))
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def move(conn: Connection, case: RowMapping, values: Mapping[str, Any]) -> None:
    """Update the case's summary, only if nobody moved it since it was read."""
    if not values:
        return
    guard = (cases.c.id == case["id"]) & (cases.c.state == case["state"])
    if case["appeal"] is None:
        guard &= cases.c.appeal.is_(None)
    else:
        guard &= cases.c.appeal == case["appeal"]
    if conn.execute(update(cases).where(guard).values(**values)).rowcount != 1:
        raise BadInput(f"case {case['id']} changed while this step was taken: reload it and try again")


def text(name: str, value: str, *, required: bool = True, limit: int = TEXT_LIMIT) -> str:
    """A note, a cause, a reason: stripped, present when required, bounded, no NUL."""
    value = (value or "").strip()
    if required and not value:
        raise BadInput(f"{name}: required")
    if len(value) > limit:
        raise BadInput(f"{name}: at most {limit} characters, got {len(value)}")
    if nul_field({name: value}):
        raise BadInput(f"{name}: contains a NUL character")
    return value


def zones(conn: Connection, unit_ids: Iterable[str]) -> dict[str, str]:
    """Each unit's time zone (an IANA name): the registry's, else that of a device placed there."""
    wanted = sorted(set(unit_ids))
    found: dict[str, str] = {}
    if wanted:
        for unit, zone in conn.execute(select(units.c.id, units.c.timezone).where(units.c.id.in_(wanted))):
            found[unit] = zone
    missing = [unit for unit in wanted if unit not in found]
    if missing:
        for unit, zone in conn.execute(select(devices.c.unit_id, devices.c.unit_timezone)
                                       .where(devices.c.unit_id.in_(missing))):
            found[unit] = zone
    return {unit: found.get(unit) or FALLBACK_ZONE for unit in wanted}


def overdue_condition(now_text: str) -> Any:
    """SQL: an open case past a deadline it has not met (contact, where a number was left; rectification)."""
    contact = and_(cases.c.contact_due_at.is_not(None), cases.c.contacted_at.is_(None),
                   cases.c.numbers_erased_at.is_(None), cases.c.contact_due_at <= now_text)
    rectify = and_(cases.c.state.in_(UNRECTIFIED), cases.c.rectify_due_at <= now_text)
    return and_(cases.c.state != CaseState.CLOSED.value, or_(contact, rectify))
