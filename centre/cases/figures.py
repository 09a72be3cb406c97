"""The loop's indicators (docs/indicators.md, "The bad-review loop"): per unit, district or city and period.

A case belongs to the period of its rating's local day in its unit's zone (`cases.rated_at`), as the rating
itself counts in the rollups, so a month's 差评回复率 speaks of that month's bad reviews. A case whose appeal
was upheld is in no figure (its rating is excluded from the scores too); `excluded` says how many.

    差评回复率   reply_rate       = answered / bad            (bad: cases of a rating of level 1–2;
                                                                answered: contacted, or rectified, verified or closed)
    回访率       callback_rate    = contacted / with_number   (cases whose citizen left a number)
    整改率       rectified_rate   = verified / rectify_owed   (owed: rectified, or the rectification due by now)
    回访整改满意率 satisfied_rate  = (satisfied + basically) / verdicts
    overdue = open cases past a deadline they have not met, now; late = cases that met a deadline late or not
    at all; median hours from opening to the first contact, and to closing.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from statistics import median
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Connection, or_, select

from centre.cases.model import AppealState, CaseState
from centre.cases.store import FALLBACK_ZONE
from centre.db.loop_tables import cases
from centre.db.rows import utcnow
from centre.db.tables import units
from centre.registry.model import check_timezone
from contract import iso_utc

BAD_LEVELS = (1, 2)
_DONE = (CaseState.RECTIFIED.value, CaseState.VERIFIED.value, CaseState.CLOSED.value)
_ACCEPTED = (CaseState.VERIFIED.value, CaseState.CLOSED.value)
_PLEASED = ("satisfied", "basically")


class LoopFigures(BaseModel):
    """The loop's figures of one scope and period; a rate is None without anything to divide by."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cases: int
    bad: int
    answered: int
    reply_rate: float | None                 # 差评回复率
    with_number: int
    contacted: int
    callback_rate: float | None              # 回访率
    rectify_owed: int
    verified: int
    rectified_rate: float | None             # 整改率
    verdicts: int
    satisfied: int                           # satisfied + basically satisfied
    satisfied_rate: float | None             # 回访整改满意率
    overdue: int
    late: int
    median_hours_to_contact: float | None
    median_hours_to_close: float | None
    excluded: int                            # cases whose appeal was upheld: in no figure above


@dataclass
class _Tally:
    counts: dict[str, int] = field(default_factory=dict)
    to_contact: list[float] = field(default_factory=list)
    to_close: list[float] = field(default_factory=list)

    def bump(self, name: str, yes: bool = True) -> None:
        self.counts[name] = self.counts.get(name, 0) + int(yes)

    def add(self, row: Mapping[Any, Any], now_text: str) -> None:
        if row["appeal"] == AppealState.UPHELD.value:
            self.bump("excluded")
            return
        self.bump("cases")
        state, opened = row["state"], _at(row["opened_at"])
        contacted = row["contacted_at"] is not None
        if row["level"] in BAD_LEVELS:
            self.bump("bad")
            self.bump("answered", contacted or state in _DONE)
        if row["contact_due_at"] is not None:
            self.bump("with_number")
            self.bump("contacted", contacted)
        owed = state in _DONE or row["rectify_due_at"] <= now_text
        self.bump("rectify_owed", owed)
        self.bump("verified", state in _ACCEPTED)
        if row["verdict"] is not None:
            self.bump("verdicts")
            self.bump("satisfied", row["verdict"] in _PLEASED)
        self.bump("overdue", missed_at(row, now_text))
        self.bump("late", _late(row, now_text))
        if contacted:
            self.to_contact.append(_hours(opened, _at(row["contacted_at"])))
        if row["closed_at"] is not None:
            self.to_close.append(_hours(opened, _at(row["closed_at"])))

    def figures(self) -> LoopFigures:
        n = self.counts.get
        return LoopFigures(
            cases=n("cases", 0), bad=n("bad", 0), answered=n("answered", 0),
            reply_rate=_share(n("answered", 0), n("bad", 0)), with_number=n("with_number", 0),
            contacted=n("contacted", 0), callback_rate=_share(n("contacted", 0), n("with_number", 0)),
            rectify_owed=n("rectify_owed", 0), verified=n("verified", 0),
            rectified_rate=_share(n("verified", 0), n("rectify_owed", 0)), verdicts=n("verdicts", 0),
            satisfied=n("satisfied", 0), satisfied_rate=_share(n("satisfied", 0), n("verdicts", 0)),
            overdue=n("overdue", 0), late=n("late", 0),
            median_hours_to_contact=round(median(self.to_contact), 2) if self.to_contact else None,
            median_hours_to_close=round(median(self.to_close), 2) if self.to_close else None,
            excluded=n("excluded", 0))


def missed_at(row: Mapping[Any, Any], at_text: str) -> bool:
    """Whether the case stood past a deadline it had not met at `at_text` (a UTC ISO text), as far as its
    summary tells: contact where a number was left, and the rectification; never once closed."""
    if row["appeal"] == AppealState.UPHELD.value or row["opened_at"] > at_text:
        return False
    if row["closed_at"] is not None and row["closed_at"] <= at_text:
        return False
    contact_due = row["contact_due_at"]
    erased = row["numbers_erased_at"]
    if (contact_due is not None and contact_due <= at_text and not _by(row["contacted_at"], at_text)
            and not _by(erased, at_text)):
        return True
    return bool(row["rectify_due_at"] <= at_text and not _by(row["rectified_at"], at_text))


def _late(row: Mapping[Any, Any], now_text: str) -> bool:
    """A deadline that passed before it was met, whether met since or not."""
    contact_due, rectify_due = row["contact_due_at"], row["rectify_due_at"]
    contact_late = contact_due is not None and contact_due <= now_text and not _by(row["contacted_at"], contact_due)
    return contact_late or (rectify_due <= now_text and not _by(row["rectified_at"], rectify_due))


def _by(moment: str | None, at_text: str) -> bool:
    return moment is not None and moment <= at_text


def loop_figures(conn: Connection, unit_ids: tuple[str, ...] | None, start: date, end: date,
                 now: datetime | None = None) -> LoopFigures:
    """The figures of the cases of `unit_ids` (None: the city) rated from `start` to `end` (local days, both
    included)."""
    tally = _Tally()
    now_text = iso_utc(now or utcnow())
    for row in _rows(conn, unit_ids, start, end):
        tally.add(row, now_text)
    return tally.figures()


def loop_by(conn: Connection, unit_ids: tuple[str, ...] | None, start: date, end: date, by: str = "unit",
            now: datetime | None = None) -> dict[str, LoopFigures]:
    """`loop_figures` per unit (`by` "unit") or per district id as text (`by` "district"; "" for a unit that
    has none), of the units that have cases."""
    tallies: dict[str, _Tally] = {}
    now_text = iso_utc(now or utcnow())
    for row in _rows(conn, unit_ids, start, end):
        key = row["unit_id"] if by == "unit" else str(row["district_id"] or "")
        tallies.setdefault(key, _Tally()).add(row, now_text)
    return {key: tally.figures() for key, tally in sorted(tallies.items())}


def overdue_units(conn: Connection, start: date, end: date, now: datetime | None = None) -> set[str]:
    """The units with a case rated from `start` to `end` that stood overdue at the period's end (or now, if
    the period has not ended): what takes a unit out of the model-unit round's candidates."""
    now = now or utcnow()
    latest = iso_utc(min(now, datetime.combine(end + timedelta(days=2), time(0), UTC)))
    # Only a case with a deadline before the period's last possible end can have stood past it.
    could = or_(cases.c.contact_due_at <= latest, cases.c.rectify_due_at <= latest)
    found = set()
    for row in _rows(conn, None, start, end, could):
        ends = datetime.combine(end + timedelta(days=1), time(0), check_timezone(row["timezone"] or FALLBACK_ZONE))
        if row["unit_id"] not in found and missed_at(row, iso_utc(min(now, ends.astimezone(UTC)))):
            found.add(row["unit_id"])
    return found


def _rows(conn: Connection, unit_ids: tuple[str, ...] | None, start: date, end: date,
          *where: Any) -> Iterable[Mapping[Any, Any]]:
    """The cases rated in the period, each unit's local days: a UTC window a day wider on each side is read,
    then each case is kept by its local day."""
    low = iso_utc(datetime.combine(start - timedelta(days=1), time(0), UTC))
    high = iso_utc(datetime.combine(end + timedelta(days=2), time(0), UTC))
    # A case opens when the centre learns of its rating, never before it counted: the indexed opened_at
    # leaves out every earlier period's cases (a device offline for a week opens its cases late, not early).
    query = (select(cases, units.c.timezone, units.c.district_id).outerjoin(units, units.c.id == cases.c.unit_id)
             .where(cases.c.opened_at >= low, cases.c.rated_at >= low, cases.c.rated_at < high, *where))
    if unit_ids is not None:
        query = query.where(cases.c.unit_id.in_(unit_ids))
    for row in conn.execute(query).mappings():
        zone = check_timezone(row["timezone"] or FALLBACK_ZONE)
        if start <= _at(row["rated_at"]).astimezone(zone).date() <= end:
            yield row


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _hours(since: datetime, until: datetime) -> float:
    return max((until - since).total_seconds(), 0.0) / 3600


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None
