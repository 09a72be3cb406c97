"""The integrity flags as stored: findings kept one row per thing found, and the reads the console and the
model-unit round make of them.

A finding becomes a flag by its fingerprint (kind, subject, span). Found again by a later analysis:
- the same fingerprint: an open flag takes the new figures; a reviewed one is left as the office decided;
- an open flag of the same kind and subject whose days overlap or touch the finding's: the flag grows to
  cover both spans (its fingerprint follows its new span), so a daily run over a sliding window, or an
  analysis of an overlapping span, never makes a second flag of what one flag already says;
- a reviewed flag of the same kind and subject whose span holds the finding's days: nothing (the office
  has judged those days); a finding that reaches past it is a new flag, for the days after the review.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Connection, func, select, update

from centre.db.integrity_tables import integrity_flags
from centre.db.rows import now_text
from centre.integrity.model import EVIDENCE_LIMIT, Evidence, Finding, FlagState, SignalKind

Subject = tuple[str, str, str | None, str | None, str | None]     # kind, unit, counter, staff, device


@dataclass
class Stored:
    """What storing a set of findings did."""

    created: int = 0
    updated: int = 0          # open flags that took new figures or grew to a wider span
    reviewed: int = 0         # findings the office had already judged: left as they are
    ids: list[int] = field(default_factory=list)


def figure_text(value: float) -> str:
    return f"{value:.6g}"


def store(conn: Connection, findings: list[Finding], analysed: tuple[date, date]) -> Stored:
    """Upsert `findings` as flags, in the caller's transaction."""
    done = Stored()
    if not findings:
        return done
    low, high = min(f.day_from for f in findings), max(f.day_to for f in findings)
    held = _held(conn, _day_before(low), _day_after(high))
    now = now_text()
    for found in findings:
        flag_id = _one(conn, found, held, now, done, analysed)
        if flag_id is not None:
            done.ids.append(flag_id)
    return done


def _one(conn: Connection, found: Finding, held: dict[Subject, list[dict[str, Any]]], now: str, done: Stored,
         analysed: tuple[date, date]) -> int | None:
    subject = _subject(found)
    near = [row for row in held[subject] if row["day_from"] <= _day_after(found.day_to)
            and row["day_to"] >= _day_before(found.day_from)]
    same = next((row for row in near if row["fingerprint"] == found.fingerprint), None)
    if same is not None and same["state"] != FlagState.OPEN.value:
        done.reviewed += 1
        return int(same["id"])
    opened = same or next((row for row in near if row["state"] == FlagState.OPEN.value), None)
    if opened is not None:
        merged = _merged(found, opened)
        values = _values(merged, analysed) | {"updated_at": now}
        if any(row["fingerprint"] == values["fingerprint"] and row["id"] != opened["id"] for row in held[subject]):
            # the grown span is another flag's already: this one keeps its own span, with the new figures
            values |= {key: opened[key] for key in ("fingerprint", "day_from", "day_to")}
        conn.execute(update(integrity_flags).where(integrity_flags.c.id == opened["id"]).values(**values))
        opened.update(values)
        done.updated += 1
        return int(opened["id"])
    if any(row["day_from"] <= found.day_from and found.day_to <= row["day_to"] for row in near):
        done.reviewed += 1
        return None
    values = _values(found, analysed) | {"state": FlagState.OPEN.value, "detected_at": now, "updated_at": now}
    inserted = conn.execute(integrity_flags.insert().values(**values)).inserted_primary_key
    flag_id = int(inserted[0]) if inserted else 0
    held[subject].append({**values, "id": flag_id})
    done.created += 1
    return flag_id


def _merged(found: Finding, row: dict[str, Any]) -> Finding:
    """The finding over the union of its span and the open flag's, its evidence joined to the flag's."""
    before = Evidence.from_json(row["evidence"])
    ratings = list(dict.fromkeys([*found.evidence.rating_uuids, *before.rating_uuids]))
    events = list(dict.fromkeys([*found.evidence.event_ids, *before.event_ids]))
    evidence = Evidence(tuple(ratings[:EVIDENCE_LIMIT]), tuple(events[:EVIDENCE_LIMIT]),
                        max(found.evidence.ratings_total, before.ratings_total, len(ratings)),
                        max(found.evidence.events_total, before.events_total, len(events)))
    return replace(found, day_from=min(found.day_from, row["day_from"]), day_to=max(found.day_to, row["day_to"]),
                   evidence=evidence)


def _values(found: Finding, analysed: tuple[date, date]) -> dict[str, Any]:
    return {"fingerprint": found.fingerprint, "kind": found.kind.value, "unit_id": found.unit_id,
            "counter_id": found.counter_id, "staff_id": found.staff_id, "device_id": found.device_id,
            "day_from": found.day_from, "day_to": found.day_to, "figure": figure_text(found.figure),
            "threshold": figure_text(found.threshold),
            "detail": {**found.detail, "analysed": [analysed[0].isoformat(), analysed[1].isoformat()]},
            "evidence": found.evidence.as_json()}


def _held(conn: Connection, low: str, high: str) -> dict[Subject, list[dict[str, Any]]]:
    """The flags whose days meet [low, high], by subject."""
    found: dict[Subject, list[dict[str, Any]]] = defaultdict(list)
    query = select(integrity_flags).where(integrity_flags.c.day_to >= low, integrity_flags.c.day_from <= high)
    for row in conn.execute(query).mappings():
        item = dict(row)
        found[(item["kind"], item["unit_id"], item["counter_id"], item["staff_id"], item["device_id"])].append(item)
    return found


def _subject(found: Finding) -> Subject:
    return found.kind.value, found.unit_id, found.counter_id, found.staff_id, found.device_id


def _day_before(day: str) -> str:
    return (date.fromisoformat(day) - timedelta(days=1)).isoformat()


def _day_after(day: str) -> str:
    return (date.fromisoformat(day) + timedelta(days=1)).isoformat()


# -- reads ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Flag:
    id: int
    kind: SignalKind
    unit_id: str
    counter_id: str | None
    staff_id: str | None
    device_id: str | None
    day_from: str
    day_to: str
    figure: str
    threshold: str
    detail: dict[str, Any]
    evidence: Evidence
    state: FlagState
    detected_at: str
    updated_at: str


def flag_of(row: Any) -> Flag:
    return Flag(id=row.id, kind=SignalKind(row.kind), unit_id=row.unit_id, counter_id=row.counter_id,
                staff_id=row.staff_id, device_id=row.device_id, day_from=row.day_from, day_to=row.day_to,
                figure=row.figure, threshold=row.threshold, detail=row.detail if isinstance(row.detail, dict) else {},
                evidence=Evidence.from_json(row.evidence if isinstance(row.evidence, dict) else {}),
                state=FlagState(row.state), detected_at=row.detected_at, updated_at=row.updated_at)


def flags(conn: Connection, *, state: FlagState | None = None, unit_ids: list[str] | None = None,
          kind: SignalKind | None = None, limit: int | None = None, offset: int = 0) -> list[Flag]:
    """Flags, the newest days first; `unit_ids` narrows to those units (None: all)."""
    query = select(integrity_flags).order_by(integrity_flags.c.day_to.desc(), integrity_flags.c.id.desc())
    query = _narrowed(query, state, unit_ids, kind)
    if limit is not None:
        query = query.limit(limit).offset(offset)
    return [flag_of(row) for row in conn.execute(query)]


def count(conn: Connection, *, state: FlagState | None = None, unit_ids: list[str] | None = None,
          kind: SignalKind | None = None) -> int:
    query = _narrowed(select(func.count()).select_from(integrity_flags), state, unit_ids, kind)
    return int(conn.execute(query).scalar_one())


def _narrowed(query: Any, state: FlagState | None, unit_ids: list[str] | None, kind: SignalKind | None) -> Any:
    if state is not None:
        query = query.where(integrity_flags.c.state == state.value)
    if unit_ids is not None:
        query = query.where(integrity_flags.c.unit_id.in_(unit_ids))
    if kind is not None:
        query = query.where(integrity_flags.c.kind == kind.value)
    return query


def flag(conn: Connection, flag_id: int) -> Flag | None:
    row = conn.execute(select(integrity_flags).where(integrity_flags.c.id == flag_id)).first()
    return flag_of(row) if row is not None else None


def holding_units(conn: Connection, year: int | None) -> dict[str, int]:
    """Units with open or confirmed flags (whose days meet the year, when given), and how many: what holds a
    model-unit candidacy."""
    query = (select(integrity_flags.c.unit_id, func.count())
             .where(integrity_flags.c.state.in_([FlagState.OPEN.value, FlagState.CONFIRMED.value]))
             .group_by(integrity_flags.c.unit_id))
    if year is not None:
        query = query.where(integrity_flags.c.day_to >= f"{year}-01-01", integrity_flags.c.day_from <= f"{year}-12-31")
    return {unit_id: int(n) for unit_id, n in conn.execute(query)}
