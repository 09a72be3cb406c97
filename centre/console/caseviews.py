"""The console's side of the cases (centre/cases): the viewer as the case domain's Actor, the list's filters
read from the query, and the words and local times the case pages show.

The domain decides everything that matters (who may see a case, who may take which step, what a unit
manager may read of it: centre/cases/views.py); this module only translates between it and the pages, so a
rule lives in one place and the API and the CLI keep it too.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any

from fastapi import Request
from sqlalchemy import Connection, select

from centre import cityconfig
from centre.cases.deadlines import DueState
from centre.cases.evidence import FileInfo
from centre.cases.model import Actor, ActorRole, CaseState, EventKind, Origin
from centre.cases.settings import CaseSettings
from centre.cases.views import CaseDetail, CaseFilters, CaseSummary, case_list
from centre.console.paging import Paging
from centre.console.roles import Viewer
from centre.console.texts import catalogue
from centre.db.tables import counters, units
from centre.enroll import DEFAULT_TIMEZONE, check_timezone
from centre.errors import BadInput, Forbidden

PAGE_ROWS = 50
# The form each step of the domain is taken with (pages/cases_actions.py's routes are /cases/{id}/{form}).
FORMS: dict[EventKind, str] = {
    EventKind.ASSIGNED: "assign", EventKind.CONTACT_ATTEMPT: "contact", EventKind.RECTIFIED: "rectify",
    EventKind.SENT_BACK: "send_back", EventKind.VERIFIED: "verify", EventKind.VERDICT: "verdict",
    EventKind.CLOSED: "close", EventKind.APPEALED: "appeal", EventKind.APPEAL_UPHELD: "decide",
    EventKind.NUMBER_VIEWED: "number",
}
# Event details whose values are one of the domain's words (an enum's value), and the texts' prefix for them.
WORDED = {"origin": "cases.origin_", "outcome": "cases.outcome_", "verdict": "cases.verdict_",
          "source": "cases.source_", "to": "cases.to_", "deadline": "cases.deadline_"}


def actor_of(viewer: Viewer) -> Actor:
    """The signed-in account as the domain's actor: its role by value, its unit or district as its scope."""
    return Actor(viewer.name, ActorRole(viewer.role.value), (viewer.scope_id,) if viewer.scope_id else ())


def case_settings(request: Request) -> CaseSettings:
    """The city's case settings: the config `serve` installed (app.state.city), else this process's."""
    city = getattr(request.app.state, "city", None)
    found: CaseSettings = city.cases if isinstance(city, cityconfig.CityConfig) else cityconfig.current().cases
    return found


def word(t: Callable[..., str], prefix: str, value: object) -> str:
    """A domain value in words; one the texts do not know yet (a newer domain's) shows as it is."""
    key = f"{prefix}{value}"
    return t(key) if key in catalogue() else str(value)


def reason_words(t: Callable[..., str], codes: Iterable[str]) -> str:
    """A rating's reasons in words, as the drill-down names them (an office's own codes as they are)."""
    return t("cases.sep").join(word(t, "drill.reason_", code) for code in codes)


# -- times -----------------------------------------------------------------------------------------------------

def local_time(stored: str | None, zone: str = DEFAULT_TIMEZONE) -> str:
    """A stored UTC time on the unit's clock, to the minute."""
    if not stored:
        return ""
    return datetime.fromisoformat(stored).astimezone(check_timezone(zone)).strftime("%Y-%m-%d %H:%M")


def due_day(stored: str | None, zone: str = DEFAULT_TIMEZONE) -> str:
    """A deadline as the last local day it allows: it is stored as the local midnight that ends that day."""
    if not stored:
        return ""
    last = datetime.fromisoformat(stored) - timedelta(microseconds=1)
    return last.astimezone(check_timezone(zone)).date().isoformat()


# -- the list --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ListQuery:
    """The list's filters as the query names them, and as the domain takes them."""

    state: CaseState | None
    unit: str | None
    origin: Origin | None
    overdue: bool
    escalated: bool
    opened_from: date | None
    opened_to: date | None
    filters: CaseFilters


def _enum_param(request: Request, name: str, kind: type[CaseState] | type[Origin]) -> Any:
    raw = request.query_params.get(name) or None
    if raw is None:
        return None
    try:
        return kind(raw)
    except ValueError:
        raise BadInput(f"{name}: one of {', '.join(item.value for item in kind)}, got {raw!r}") from None


def _date_param(request: Request, name: str) -> date | None:
    raw = request.query_params.get(name) or None
    if raw is None:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise BadInput(f"{name}: a date as YYYY-MM-DD, got {raw!r}") from None


def _flag(request: Request, name: str) -> bool:
    return request.query_params.get(name) in ("1", "on", "true")


def list_query(request: Request, reach: Sequence[str] | None) -> ListQuery:
    """The filters of ?state=&unit=&origin=&overdue=1&escalated=1&from=&to= (opened, the city's days);
    Forbidden for a unit outside `reach` (None: the city)."""
    unit = request.query_params.get("unit") or None
    if unit is not None and reach is not None and unit not in reach:
        raise Forbidden(f"unit {unit!r} is outside your reach")
    start, end = _date_param(request, "from"), _date_param(request, "to")
    if start and end and end < start:
        raise BadInput(f"to: {end} is before from: {start}")
    zone = check_timezone(DEFAULT_TIMEZONE)
    state, origin = _enum_param(request, "state", CaseState), _enum_param(request, "origin", Origin)
    overdue, escalated = _flag(request, "overdue"), _flag(request, "escalated")
    filters = CaseFilters(
        states=(state,) if state else (), unit_id=unit, origin=origin, overdue_only=overdue,
        escalated_only=escalated,
        opened_since=datetime.combine(start, time(0), zone) if start else None,
        opened_until=datetime.combine(end + timedelta(days=1), time(0), zone) if end else None)
    return ListQuery(state, unit, origin, overdue, escalated, start, end, filters)


def page_of(request: Request, total: int, rows: int = PAGE_ROWS) -> Paging:
    """The page ?page= names of a list of `total` rows (the last one past the end: a list may have shrunk)."""
    raw = request.query_params.get("page") or "1"
    if not raw.isdigit() or int(raw) < 1:
        raise BadInput(f"page: a page number from 1, got {raw!r}")
    pages = max(1, -(-total // rows))
    page = min(int(raw), pages)
    first = (page - 1) * rows
    shown = max(0, min(rows, total - first))
    return Paging(page, pages, first + 1 if shown else 0, first + shown, total)


@dataclass(frozen=True)
class Counts:
    """How many cases of the list's scope, unit, origin and period are in each state, overdue, escalated: the
    quick filters above the list, each of which replaces the others."""

    by_state: dict[CaseState, int]
    overdue: int
    escalated: int


def counts(conn: Connection, reach: tuple[str, ...] | None, filters: CaseFilters) -> Counts:
    def count(chosen: CaseFilters) -> int:
        return case_list(conn, reach, chosen, limit=0)[1]

    rest = replace(filters, states=(), overdue_only=False, escalated_only=False)
    return Counts({state: count(replace(rest, states=(state,))) for state in CaseState},
                  count(replace(rest, overdue_only=True)), count(replace(rest, escalated_only=True)))


def unit_names(conn: Connection, unit_ids: Iterable[str] | None, english: bool) -> dict[str, str]:
    """Units by id with their names in the page's language (the Chinese one where no English is kept)."""
    query = select(units.c.id, units.c.name, units.c.name_en).order_by(units.c.id)
    if unit_ids is not None:
        query = query.where(units.c.id.in_(sorted(set(unit_ids))))
    return {row.id: (row.name_en if english and row.name_en else row.name) for row in conn.execute(query)}


def counter_name(conn: Connection, unit_id: str, counter_id: str, english: bool) -> str:
    row = conn.execute(select(counters.c.name, counters.c.name_en)
                       .where(counters.c.unit_id == unit_id, counters.c.id == counter_id)).first()
    if row is None:
        return counter_id
    return str(row.name_en if english and row.name_en else row.name)


@dataclass(frozen=True)
class Row:
    """A case as a line of the list: the domain's summary, and what the line shows of it in words."""

    case: CaseSummary
    unit: str
    opened: str
    contact_due: str
    rectify_due: str

    @property
    def escalated(self) -> bool:
        return self.case.escalated_to is not None


def rows(found: Sequence[CaseSummary], names: dict[str, str], zones: dict[str, str]) -> list[Row]:
    return [Row(case, names.get(case.unit_id, case.unit_id), local_time(case.opened_at, zones[case.unit_id]),
                due_day(case.contact_due_at, zones[case.unit_id]), due_day(case.rectify_due_at, zones[case.unit_id]))
            for case in found]


# -- one case ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Deadline:
    """One deadline as the case page shows it: the last day, and how it stands (met: when)."""

    key: str                    # contact, rectify
    day: str
    due: DueState | None        # None: met, or no longer running
    met_at: str


def deadlines(case: CaseSummary, zone: str) -> list[Deadline]:
    found = []
    if case.contact_due_at:
        found.append(Deadline("contact", due_day(case.contact_due_at, zone), case.contact_due,
                              local_time(case.contacted_at, zone)))
    found.append(Deadline("rectify", due_day(case.rectify_due_at, zone), case.rectify_due,
                          local_time(case.rectified_at, zone)))
    return found


@dataclass(frozen=True)
class EventLine:
    """One step of the timeline: who, in which role, when, what (its details in words), and its files."""

    kind: str
    what: str
    actor: str
    role: str
    at: str
    facts: list[tuple[str, str]]
    files: list[FileInfo]


def _facts(t: Callable[..., str], detail: dict[str, Any], zone: str) -> list[tuple[str, str]]:
    found = []
    for key, value in detail.items():
        if key == "files" or value in ("", None, []):
            continue    # files are listed with their links; an empty note says nothing
        label = word(t, "cases.field_", key)
        if key in WORDED:
            shown = word(t, WORDED[key], value)
        elif key == "level":
            shown = word(t, "base.level_", value)
        elif key == "reasons" and isinstance(value, list):
            shown = reason_words(t, value)
        elif key == "due_at" and isinstance(value, str):
            shown = due_day(value, zone)
        else:
            shown = str(value)
        found.append((label, shown))
    return found


def timeline(t: Callable[..., str], detail: CaseDetail, zone: str) -> list[EventLine]:
    files: dict[int, list[FileInfo]] = {}
    for item in detail.files:
        files.setdefault(item.event_id, []).append(item)
    return [EventLine(kind=event.kind.value, what=word(t, "cases.event_", event.kind.value),
                      actor=event.actor or t("cases.the_centre"),
                      role=word(t, "base.role_", event.role) if event.role else "",
                      at=local_time(event.at, zone), facts=_facts(t, event.detail, zone), files=files.get(event.id, []))
            for event in detail.events]


def forms(detail: CaseDetail) -> list[str]:
    """The forms of the steps this viewer may take on the case now (the domain's `may`)."""
    return [FORMS[kind] for kind in detail.may if kind in FORMS]
