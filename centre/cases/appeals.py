"""Appeals (申诉复核): a unit claims a review was mistaken or malicious; only the city office decides.

One appeal per case, made while the case is open, with grounds and evidence. Upheld: the rating is recorded
in `rating_exclusions` and the rollups count it as excluded instead of at its level (centre.rollups.exclude,
in the same transaction); the rating itself stays as it was, visible and marked excluded, and the case
closes. Rejected: recorded, and the case goes on where it was. Nothing is deleted either way.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection

from centre import rollups
from centre.cases import evidence
from centre.cases.evidence import Evidence
from centre.cases.model import Actor, AppealState, CaseState, EventKind
from centre.cases.settings import CaseSettings, current
from centre.cases.store import append, check_step, load, move, text
from centre.db.loop_tables import rating_exclusions
from centre.db.rows import utcnow
from centre.errors import BadInput
from contract import iso_utc


def appeal(conn: Connection, case_id: int, actor: Actor, *, grounds: str, files: Sequence[Evidence] = (),
           now: datetime | None = None, settings: CaseSettings | None = None) -> int:
    """The unit (or the city office) appeals an open case's review, once, with grounds and evidence."""
    settings, now = settings or current(), now or utcnow()
    detail = {"grounds": text("grounds", grounds)}
    checked = evidence.check(files, settings)
    case = load(conn, case_id)
    check_step(conn, case, EventKind.APPEALED, actor, settings)
    if case["appeal"] is not None:
        raise BadInput(f"case {case_id} already has an appeal ({case['appeal']}): one appeal per case")
    move(conn, case, {"appeal": AppealState.PENDING.value})
    event_id = append(conn, case_id, EventKind.APPEALED, actor, now,
                      {**detail, "files": [{"name": item.name, "sha256": item.sha256} for item in checked]})
    evidence.keep(conn, case_id, event_id, checked)
    return event_id


def decide_appeal(conn: Connection, case_id: int, actor: Actor, *, upheld: bool, reason: str,
                  now: datetime | None = None, settings: CaseSettings | None = None) -> int:
    """The city office's decision on a pending appeal, with its reason. Upheld: the rating is excluded from
    the scores (kept and shown as excluded) and the case closes."""
    settings, now = settings or current(), now or utcnow()
    reason = text("reason", reason)
    kind = EventKind.APPEAL_UPHELD if upheld else EventKind.APPEAL_REJECTED
    case = load(conn, case_id)
    check_step(conn, case, kind, actor, settings)
    if case["appeal"] != AppealState.PENDING.value:
        raise BadInput(f"case {case_id} has no pending appeal to decide"
                       + (f" (it was {case['appeal']})" if case["appeal"] else ""))
    if not upheld:
        move(conn, case, {"appeal": AppealState.REJECTED.value})
        return append(conn, case_id, kind, actor, now, {"reason": reason})
    decided = iso_utc(now)
    move(conn, case, {"appeal": AppealState.UPHELD.value, "state": CaseState.CLOSED.value, "closed_at": decided})
    event_id = append(conn, case_id, kind, actor, now, {"reason": reason})
    conn.execute(rating_exclusions.insert().values(rating_uuid=case["rating_uuid"], case_id=case_id,
                                                   decided_at=decided, decided_by=actor.name, reason=reason))
    rollups.exclude(conn, case["rating_uuid"])
    return event_id
