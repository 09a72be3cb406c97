"""The steps of a case, one function each: check the state and the actor, append the event, move the summary.

Every step runs in the caller's transaction (`with engine.begin() as conn: flow.assign(conn, …)`): it checks
everything before it writes, so a refused step raises with the case unchanged. Refusals are centre.errors:
NotFound (no such case), Forbidden (a case outside the actor's reach, a step not for the actor's role), and
BadInput (a step out of order, missing or bad text, evidence too large or of a refused type). Each returns
the id of the event it appended.

Who may do what is centre/cases/model.py's RULES; the caller role is the city's (CaseSettings.caller_role).
`settings` None is this process's (centre.cases.settings.current()); `now` None is the clock.
The appeal's two steps are centre/cases/appeals.py (re-exported here); the reads are centre/cases/views.py.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, RowMapping

from centre.cases import evidence
from centre.cases.appeals import appeal, decide_appeal
from centre.cases.evidence import Evidence
from centre.cases.model import (
    Actor,
    AppealState,
    CaseState,
    ContactOutcome,
    EventKind,
    Verdict,
    VerdictSource,
    working_state,
)
from centre.cases.settings import CaseSettings, current
from centre.cases.store import append, check_step, load, move, text
from centre.db.rows import utcnow
from centre.errors import BadInput
from contract import iso_utc

__all__ = ["appeal", "assign", "close", "decide_appeal", "record_contact_attempt", "record_verdict", "rectify",
           "send_back", "verify"]

# A call on which the citizen answered: the contact (回访) is made, whatever the citizen then said.
REACHING = frozenset({ContactOutcome.REACHED, ContactOutcome.REFUSED})


def assign(conn: Connection, case_id: int, actor: Actor, *, assignee: str, note: str = "",
           now: datetime | None = None, settings: CaseSettings | None = None) -> int:
    """new → assigned: the unit manager (or the city office) names who in the unit handles the case.
    A case whose citizen the caller already reached goes straight to contacted."""
    settings, now = settings or current(), now or utcnow()
    detail = {"assignee": text("assignee", assignee, limit=100), "note": text("note", note, required=False)}
    case = load(conn, case_id)
    check_step(conn, case, EventKind.ASSIGNED, actor, settings)
    move(conn, case, {"state": working_state(case["contacted_at"] is not None).value})
    return append(conn, case_id, EventKind.ASSIGNED, actor, now, detail)


def record_contact_attempt(conn: Connection, case_id: int, actor: Actor, *, outcome: ContactOutcome,
                           note: str = "", now: datetime | None = None,
                           settings: CaseSettings | None = None) -> int:
    """One call to the citizen and its outcome (caller role only; any open state). The first call that
    reaches the citizen sets contacted_at and moves an assigned case to contacted; the event is `contacted`
    for such a call, `contact_attempt` for one that did not reach."""
    settings, now = settings or current(), now or utcnow()
    outcome = ContactOutcome(outcome)
    detail = {"outcome": outcome.value, "note": text("note", note, required=False)}
    kind = EventKind.CONTACTED if outcome in REACHING else EventKind.CONTACT_ATTEMPT
    case = load(conn, case_id)
    check_step(conn, case, kind, actor, settings)
    _require_number(case)
    values: dict[str, str] = {}
    if kind is EventKind.CONTACTED and case["contacted_at"] is None:
        values["contacted_at"] = iso_utc(now)
        if case["state"] == CaseState.ASSIGNED.value:
            values["state"] = CaseState.CONTACTED.value
    move(conn, case, values)
    return append(conn, case_id, kind, actor, now, detail)


def rectify(conn: Connection, case_id: int, actor: Actor, *, cause: str, measures: str,
            files: Sequence[Evidence] = (), now: datetime | None = None,
            settings: CaseSettings | None = None) -> int:
    """assigned or contacted → rectified: the unit says what caused the bad review and what it changed, with
    evidence files (type-checked by content, size-capped: centre/cases/evidence.py)."""
    settings, now = settings or current(), now or utcnow()
    detail = {"cause": text("cause", cause), "measures": text("measures", measures)}
    checked = evidence.check(files, settings)
    case = load(conn, case_id)
    check_step(conn, case, EventKind.RECTIFIED, actor, settings)
    move(conn, case, {"state": CaseState.RECTIFIED.value, "rectified_at": iso_utc(now)})
    event_id = append(conn, case_id, EventKind.RECTIFIED, actor, now,
                      {**detail, "files": [{"name": item.name, "sha256": item.sha256} for item in checked]})
    evidence.keep(conn, case_id, event_id, checked)
    return event_id


def send_back(conn: Connection, case_id: int, actor: Actor, *, reason: str, now: datetime | None = None,
              settings: CaseSettings | None = None) -> int:
    """rectified → assigned (or contacted): the district or city office does not accept the rectification,
    and says why. The rectification's deadline does not move: a late second try is overdue."""
    settings, now = settings or current(), now or utcnow()
    detail = {"reason": text("reason", reason)}
    case = load(conn, case_id)
    check_step(conn, case, EventKind.SENT_BACK, actor, settings)
    move(conn, case, {"state": working_state(case["contacted_at"] is not None).value, "rectified_at": None})
    return append(conn, case_id, EventKind.SENT_BACK, actor, now, detail)


def verify(conn: Connection, case_id: int, actor: Actor, *, note: str = "", now: datetime | None = None,
           settings: CaseSettings | None = None) -> int:
    """rectified → verified: the district or city office accepts the rectification."""
    settings, now = settings or current(), now or utcnow()
    detail = {"note": text("note", note, required=False)}
    case = load(conn, case_id)
    check_step(conn, case, EventKind.VERIFIED, actor, settings)
    move(conn, case, {"state": CaseState.VERIFIED.value})
    return append(conn, case_id, EventKind.VERIFIED, actor, now, detail)


def record_verdict(conn: Connection, case_id: int, actor: Actor | None, *, verdict: Verdict,
                   source: VerdictSource, note: str = "", now: datetime | None = None,
                   settings: CaseSettings | None = None) -> int:
    """The citizen's verdict on the rectification (rectified, verified or closed cases): told to the caller
    on the call-back (`actor` the caller), or given on the receipt page (`actor` None: the centre records
    it). A later verdict replaces the summary's; every one stays an event."""
    settings, now = settings or current(), now or utcnow()
    verdict, source = Verdict(verdict), VerdictSource(source)
    if (source is VerdictSource.RECEIPT) != (actor is None):
        raise BadInput("a verdict from the receipt page is the citizen's own (no actor); "
                       "one from a call-back is recorded by the caller")
    detail = {"verdict": verdict.value, "source": source.value, "note": text("note", note, required=False)}
    case = load(conn, case_id)
    check_step(conn, case, EventKind.VERDICT, actor, settings)
    if source is VerdictSource.CALLBACK:
        _require_number(case)
    move(conn, case, {"verdict": verdict.value})
    return append(conn, case_id, EventKind.VERDICT, actor, now, detail)


def close(conn: Connection, case_id: int, actor: Actor, *, note: str = "", now: datetime | None = None,
          settings: CaseSettings | None = None) -> int:
    """verified → closed (district or city office). A pending appeal is decided first."""
    settings, now = settings or current(), now or utcnow()
    detail = {"note": text("note", note, required=False)}
    case = load(conn, case_id)
    check_step(conn, case, EventKind.CLOSED, actor, settings)
    if case["appeal"] == AppealState.PENDING.value:
        raise BadInput(f"case {case_id} has a pending appeal: the city office decides it before the case closes")
    move(conn, case, {"state": CaseState.CLOSED.value, "closed_at": iso_utc(now)})
    return append(conn, case_id, EventKind.CLOSED, actor, now, detail)


def _require_number(case: RowMapping) -> None:
    if case["contact_due_at"] is None:
        raise BadInput(f"case {case['id']}: the citizen left no number to call")
    if case["numbers_erased_at"] is not None:
        raise BadInput(f"case {case['id']}: the citizen's number was erased on {case['numbers_erased_at']}")
