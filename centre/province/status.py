"""Where the report to the province stands, for the console's Province page and the operator: the records by
state over a span, the ones refused (by the province) or invalid (by our own check) with their reasons, the
ones held after max_attempts failed uploads, and the last upload attempts. Read-only.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, case, func, select

from centre.db.province_tables import province_pushes, province_records
from centre.db.tables import units
from centre.province.records import RecordState
from contract import iso_utc

PUSHES_SHOWN = 20


@dataclass(frozen=True)
class Span:
    """[since, until) in UTC, over the records' evaluated_at."""

    since: datetime
    until: datetime

    def where(self) -> list[ColumnElement[bool]]:
        column = province_records.c.evaluated_at
        return [column >= iso_utc(self.since), column < iso_utc(self.until)]


@dataclass(frozen=True)
class Problem:
    """A record that will not reach the province as it is: refused, invalid, or held after failed uploads."""

    record_id: str
    state: str              # refused, invalid, or "held" (pending, max_attempts spent)
    unit_id: str
    unit_name: str
    case_no: str | None
    evaluated_at: str
    code: str | None        # the province's answer code, or our rule
    reason: str             # the province's words, or our rule's
    attempts: int


@dataclass(frozen=True)
class Push:
    started_at: str
    records: int
    http_status: int | None
    outcome: str
    accepted: int
    refused: int
    error: str | None
    duration_ms: int


def counts(conn: Connection, span: Span) -> dict[RecordState, int]:
    """Every state's number of records in the span (0 for a state with none)."""
    table = province_records
    rows = conn.execute(select(table.c.state, func.count()).where(*span.where()).group_by(table.c.state))
    found = dict.fromkeys(RecordState, 0)
    for state, n in rows:
        if state in {s.value for s in RecordState}:
            found[RecordState(state)] = int(n)
    return found


def held(conn: Connection, span: Span, max_attempts: int) -> int:
    """Pending records of the span that spent max_attempts: they wait for the operator."""
    table = province_records
    return int(conn.execute(select(func.count()).where(
        *span.where(), table.c.state == RecordState.PENDING.value, table.c.attempts >= max_attempts)).scalar_one())


def _problematic(max_attempts: int) -> ColumnElement[bool]:
    """Refused, invalid, or pending after max_attempts (held for the operator)."""
    table = province_records
    ended = table.c.state.in_([RecordState.REFUSED.value, RecordState.INVALID.value])
    return ended | and_(table.c.state == RecordState.PENDING.value, table.c.attempts >= max_attempts)


def problem_count(conn: Connection, span: Span, max_attempts: int) -> int:
    return int(conn.execute(select(func.count()).select_from(province_records)
                            .where(*span.where(), _problematic(max_attempts))).scalar_one())


def problems(conn: Connection, span: Span, max_attempts: int, limit: int | None = None,
             offset: int = 0) -> list[Problem]:
    """The span's refused, invalid and held records, newest first; `limit` of them from `offset` (a page: a city's
    month can hold hundreds of thousands)."""
    table = province_records
    query = (select(table.c.record_id, table.c.state, table.c.unit_id, units.c.name, table.c.case_no,
                    table.c.evaluated_at, table.c.rule, table.c.problem, table.c.answer_code, table.c.answer_text,
                    table.c.attempts)
             .select_from(table.outerjoin(units, units.c.id == table.c.unit_id))
             .where(*span.where(), _problematic(max_attempts))
             .order_by(table.c.evaluated_at.desc(), table.c.record_id).limit(limit).offset(offset))
    return [_problem(row) for row in conn.execute(query)]


@dataclass(frozen=True)
class Cause:
    """What holds records back, summed: a state, its rule or the province's code, how many records and units."""

    state: str            # refused, invalid, held
    code: str             # the rule (invalid), the province's answer code (refused), "" (held)
    example: str          # one record's words for it
    records: int
    units: int


def causes(conn: Connection, span: Span, max_attempts: int) -> list[Cause]:
    """The span's refused, invalid and held records by cause, the largest first: what the office mends first."""
    table = province_records
    held_state = case((table.c.state == RecordState.PENDING.value, "held"), else_=table.c.state)
    code = func.coalesce(table.c.rule, table.c.answer_code, "")
    words = func.min(func.coalesce(table.c.problem, table.c.answer_text, ""))
    rows = conn.execute(select(held_state, code, words, func.count(), func.count(table.c.unit_id.distinct()))
                        .where(*span.where(), _problematic(max_attempts))
                        .group_by(held_state, code).order_by(func.count().desc()))
    return [Cause(str(state), str(rule), str(example), int(n), int(n_units))
            for state, rule, example, n, n_units in rows]


def _problem(row: Any) -> Problem:
    state = str(row.state)
    if state == RecordState.INVALID.value:
        code, reason = row.rule, row.problem or ""
    else:
        code, reason = row.answer_code, row.answer_text or ""
    if state == RecordState.PENDING.value:
        state = "held"
    return Problem(row.record_id, state, row.unit_id, row.name or row.unit_id, row.case_no, row.evaluated_at,
                   code, reason, row.attempts)


def last_pushes(conn: Connection, limit: int = PUSHES_SHOWN) -> list[Push]:
    """The latest upload attempts, newest first."""
    table = province_pushes
    rows = conn.execute(select(table).order_by(table.c.started_at.desc(), table.c.id.desc()).limit(limit))
    return [Push(row.started_at, row.records, row.http_status, row.outcome, row.accepted, row.refused, row.error,
                 row.duration_ms) for row in rows]
