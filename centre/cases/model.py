"""What a case is: its states, its events, who may do what, and when.

A case (工单) is opened by the centre for a rating that needs handling; every step after that is an
append-only `case_events` row, and `cases` keeps a summary (state, deadlines, verdict, appeal) for lists and
figures. This module is pure: no SQL. The steps themselves are centre/cases/flow.py.

The flow: new → assigned (the unit manager takes it) → contacted (the caller reached the citizen) →
rectified (cause, measures, evidence) → verified (district or city office) → closed. A send-back returns a
rectified case to its working state (contacted if the citizen was reached, else assigned) with a reason, and
the unit rectifies again. The caller may call in any open state, as soon as the case opens: the contact
deadline (1 working day) often falls before the unit has assigned it. Where a citizen is reached before
assignment, assignment takes the case straight to contacted.

Roles are the console's (centre/console/roles.py) by value, named again here so that the API, the CLI and
the console all call the flow with the same small `Actor`, and the domain imports no web layer.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any


class CaseState(str, Enum):
    NEW = "new"
    ASSIGNED = "assigned"
    CONTACTED = "contacted"
    RECTIFIED = "rectified"
    VERIFIED = "verified"
    CLOSED = "closed"


OPEN_STATES = frozenset(CaseState) - {CaseState.CLOSED}
# Where the unit works on the case: what it may rectify from, and what a send-back returns to.
WORKING_STATES = frozenset({CaseState.ASSIGNED, CaseState.CONTACTED})
# Where the rectification is still owed: its deadline runs (and is missed) only here.
UNRECTIFIED_STATES = frozenset({CaseState.NEW, CaseState.ASSIGNED, CaseState.CONTACTED})


class Origin(str, Enum):
    """What opened the case (or joined it later: a `joined` event names the origin that joined)."""

    BAD_REVIEW = "bad_review"     # a rating of level 1–2
    COMPLAINT = "complaint"       # the complaint link on the receipt (citizen pages)
    CALLBACK = "callback"         # a call-back request left on the terminal, with consent


class EventKind(str, Enum):
    OPENED = "opened"                     # the centre: origin, reasons
    JOINED = "joined"                     # the centre: a complaint or call-back joined the case
    ASSIGNED = "assigned"                 # unit manager: who in the unit handles it
    CONTACT_ATTEMPT = "contact_attempt"   # caller: a call that did not reach the citizen, and why
    CONTACTED = "contacted"               # caller: a call that reached the citizen, and a note
    RECTIFIED = "rectified"               # unit: cause, measures, evidence files
    SENT_BACK = "sent_back"               # district/city: why the rectification is not accepted
    VERIFIED = "verified"                 # district/city: the rectification is accepted
    VERDICT = "verdict"                   # the citizen's verdict, from the call-back or the receipt page
    CLOSED = "closed"                     # district/city
    ESCALATED = "escalated"               # the centre: past a deadline, to the district, then the city
    APPEALED = "appealed"                 # unit: a mistaken or malicious review, with evidence
    APPEAL_UPHELD = "appeal_upheld"       # city: the rating is excluded from scores; the case closes
    APPEAL_REJECTED = "appeal_rejected"   # city: the case goes on
    NUMBER_VIEWED = "number_viewed"       # caller: saw the citizen's number (also in the audit log)
    NUMBERS_ERASED = "numbers_erased"     # the centre: the numbers are gone, a set time after closing


class Verdict(str, Enum):
    SATISFIED = "satisfied"           # 满意
    BASICALLY = "basically"           # 基本满意
    UNSATISFIED = "unsatisfied"       # 不满意


class VerdictSource(str, Enum):
    CALLBACK = "callback"             # told to the caller on the phone
    RECEIPT = "receipt"               # given by the citizen on the receipt page


class AppealState(str, Enum):
    PENDING = "pending"
    UPHELD = "upheld"
    REJECTED = "rejected"


class ContactOutcome(str, Enum):
    REACHED = "reached"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    SWITCHED_OFF = "switched_off"
    REFUSED = "refused"               # reached, but the citizen declined to talk
    WRONG_NUMBER = "wrong_number"


class EscalationLevel(str, Enum):
    DISTRICT = "district"
    CITY = "city"


class Deadline(str, Enum):
    CONTACT = "contact"
    RECTIFY = "rectify"


class ActorRole(str, Enum):
    """The console's roles by value (centre/console/roles.py Role): `ActorRole(viewer.role.value)`."""

    CITY = "city"
    DISTRICT = "district"
    UNIT = "unit"
    AUDITOR = "auditor"


@dataclass(frozen=True)
class Actor:
    """Who takes a step: a console account, an API token's owner, a CLI operator.

    `scope_ids`: a unit manager's unit ids, a district office's district ids (as text); empty for the city
    and the auditor, who see the whole city."""

    name: str
    role: ActorRole
    scope_ids: tuple[str, ...] = ()


class Party(str, Enum):
    """Who a rule lets take a step; `CALLER` is the configured caller role (CaseSettings.caller_role)."""

    UNIT = "unit"           # the manager of the case's own unit
    DISTRICT = "district"   # the office of the case's unit's district
    CITY = "city"
    CALLER = "caller"
    CENTRE = "centre"       # the centre itself (opening, sweeps, the receipt page): no actor


@dataclass(frozen=True)
class Rule:
    """A step: the states it needs, who may take it, and the state it leads to (None: unchanged)."""

    states: frozenset[CaseState]
    parties: frozenset[Party]
    to: CaseState | None


def _rule(states: frozenset[CaseState] | set[CaseState], parties: set[Party], to: CaseState | None) -> Rule:
    return Rule(frozenset(states), frozenset(parties), to)


_OWNER = {Party.UNIT, Party.CITY}
_OFFICE = {Party.DISTRICT, Party.CITY}
_VERDICT_STATES = {CaseState.RECTIFIED, CaseState.VERIFIED, CaseState.CLOSED}

# Who may take which step from which state. Contact and the call-back verdict are the caller's alone (the
# unit reviewed never calls the citizen: no retaliation). The appeal's decision is the city's alone; a
# pending or decided appeal is further checked by flow.py against `cases.appeal`.
RULES: dict[EventKind, Rule] = {
    EventKind.OPENED: _rule(set(), {Party.CENTRE}, CaseState.NEW),
    EventKind.JOINED: _rule(OPEN_STATES, {Party.CENTRE}, None),
    EventKind.ASSIGNED: _rule({CaseState.NEW}, _OWNER, CaseState.ASSIGNED),
    EventKind.CONTACT_ATTEMPT: _rule(OPEN_STATES, {Party.CALLER}, None),
    EventKind.CONTACTED: _rule(OPEN_STATES, {Party.CALLER}, None),   # assigned → contacted: flow.py
    EventKind.RECTIFIED: _rule(WORKING_STATES, _OWNER, CaseState.RECTIFIED),
    EventKind.SENT_BACK: _rule({CaseState.RECTIFIED}, _OFFICE, None),   # back to the working state: flow.py
    EventKind.VERIFIED: _rule({CaseState.RECTIFIED}, _OFFICE, CaseState.VERIFIED),
    EventKind.VERDICT: _rule(_VERDICT_STATES, {Party.CALLER, Party.CENTRE}, None),
    EventKind.CLOSED: _rule({CaseState.VERIFIED}, _OFFICE, CaseState.CLOSED),
    EventKind.ESCALATED: _rule(OPEN_STATES, {Party.CENTRE}, None),
    EventKind.APPEALED: _rule(OPEN_STATES, _OWNER, None),
    EventKind.APPEAL_UPHELD: _rule(OPEN_STATES, {Party.CITY}, CaseState.CLOSED),
    EventKind.APPEAL_REJECTED: _rule(OPEN_STATES, {Party.CITY}, None),
    EventKind.NUMBER_VIEWED: _rule(frozenset(CaseState), {Party.CALLER}, None),
    EventKind.NUMBERS_ERASED: _rule({CaseState.CLOSED}, {Party.CENTRE}, None),
}


def parties_of(role: ActorRole, caller_role: ActorRole) -> frozenset[Party]:
    """The parties an actor of `role` is, before its scope is checked against the case's unit."""
    found = {Party(role.value)} if role in (ActorRole.UNIT, ActorRole.DISTRICT, ActorRole.CITY) else set()
    if role is caller_role:
        found.add(Party.CALLER)
    return frozenset(found)


def allowed(kind: EventKind, state: CaseState, role: ActorRole, caller_role: ActorRole) -> bool:
    """Whether an actor of `role` may take step `kind` on a case in `state` (scope aside)."""
    rule = RULES[kind]
    return state in rule.states and bool(rule.parties & parties_of(role, caller_role))


def working_state(contacted: bool) -> CaseState:
    """Where the unit works on a case: contacted once the citizen was reached, else assigned."""
    return CaseState.CONTACTED if contacted else CaseState.ASSIGNED


@dataclass(frozen=True)
class OpenedCase:
    """A case just opened (or joined), as ingest and the alerts see it. Never a phone number."""

    case_id: int
    rating_uuid: str
    unit_id: str
    counter_id: str
    staff_id: str | None
    level: int
    reasons: tuple[str, ...]
    opened_at: datetime
    contact_due_at: datetime | None     # None: the citizen left no number
    rectify_due_at: datetime
    origin: Origin = Origin.BAD_REVIEW  # what opened the case
    joined_by: Origin | None = None     # a complaint or call-back that joined the open case just now

    @property
    def news(self) -> Origin:
        """What just happened to the case: what opened it, or what joined it."""
        return self.joined_by or self.origin

    @classmethod
    def of_row(cls, case_id: int, row: Mapping[str, Any], reasons: tuple[str, ...],
               joined_by: Origin | None = None) -> OpenedCase:
        """The case from its `cases` columns as stored (its times as UTC text)."""
        contact = row["contact_due_at"]
        return cls(case_id=case_id, rating_uuid=row["rating_uuid"], unit_id=row["unit_id"],
                   counter_id=row["counter_id"], staff_id=row["staff_id"], level=row["level"], reasons=reasons,
                   opened_at=datetime.fromisoformat(row["opened_at"]),
                   contact_due_at=datetime.fromisoformat(contact) if contact else None,
                   rectify_due_at=datetime.fromisoformat(row["rectify_due_at"]), origin=Origin(row["opened_by"]),
                   joined_by=joined_by)
