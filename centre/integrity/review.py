"""The city office's review of an integrity flag: dismissed with a reason, or confirmed.

Only the city office decides; the caller (the console's flag page) checks the role, as it does for appeals.
A flag is reviewed once, while it is open: each decision appends an integrity_reviews row, moves the flag's
state, and writes an audit_log row, all in the caller's transaction. A confirmation may exclude the ratings
the flag names as its evidence: each gets a rating_exclusions row (naming the flag) and
centre.rollups.exclude moves its count from its level to `excluded`; a rating already excluded (by an appeal
or another flag) is skipped. Nothing is deleted: an excluded rating stays held and shown, marked excluded.

A confirmed (or open) flag holds the unit's model-unit candidacy for the years its days fall in
(`holding_units`, read by centre/modelround.py).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select, update

from centre import rollups
from centre.db.integrity_tables import integrity_flags, integrity_reviews
from centre.db.loop_tables import rating_exclusions
from centre.db.rows import utcnow
from centre.db.tables import audit_log, ratings
from centre.errors import BadInput, CentreError, NotFound
from centre.integrity import flags
from centre.integrity.model import Decision, FlagState
from contract import iso_utc

MAX_REASON = 2000
# The audit log's action for a review. centre/console/audit.py's Action holds the same value; a domain module
# may not import the console (.importlinter: the console is a face), so the row is written here directly.
INTEGRITY_REVIEWED = "integrity_reviewed"
CITY_ROLE = "city"


class ReviewConflict(CentreError):
    """The flag is no longer open: it was reviewed already."""

    status = 409


def dismiss(conn: Connection, flag_id: int, actor_name: str, reason: str, *, address: str | None = None,
            now: datetime | None = None) -> int:
    """The office finds the flag explained: recorded with its reason; the review's id."""
    return _decide(conn, flag_id, actor_name, reason, Decision.DISMISSED, False, address, now)


def confirm(conn: Connection, flag_id: int, actor_name: str, reason: str, exclude: bool, *,
            address: str | None = None, now: datetime | None = None) -> int:
    """The office confirms the manipulation: recorded with its reason; with `exclude`, the flag's evidence
    ratings are excluded from the scores. The review's id."""
    return _decide(conn, flag_id, actor_name, reason, Decision.CONFIRMED, exclude, address, now)


def _decide(conn: Connection, flag_id: int, actor_name: str, reason: str, decision: Decision, exclude: bool,
            address: str | None, now: datetime | None) -> int:
    reason = reason.strip()
    if not reason or len(reason) > MAX_REASON:
        raise BadInput(f"reason: say why, 1 to {MAX_REASON} characters")
    found = flags.flag(conn, flag_id)
    if found is None:
        raise NotFound(f"no integrity flag {flag_id}")
    # The state is checked and moved in one statement: two reviews racing, only one finds the flag open.
    decided = iso_utc(now or utcnow())
    moved = conn.execute(update(integrity_flags).where(integrity_flags.c.id == flag_id,
                                                       integrity_flags.c.state == FlagState.OPEN.value)
                         .values(state=decision.state.value, updated_at=decided)).rowcount
    if moved != 1:
        raise ReviewConflict(f"integrity flag {flag_id} was {found.state.value} already")
    excluded = _exclude(conn, flag_id, list(found.evidence.rating_uuids), actor_name, reason, decided) \
        if exclude else 0
    review_id = conn.execute(integrity_reviews.insert().values(
        flag_id=flag_id, decision=decision.value, reason=reason, excluded=excluded, decided_by=actor_name,
        decided_at=decided)).inserted_primary_key
    conn.execute(audit_log.insert().values(
        at=decided, actor=actor_name, role=CITY_ROLE, action=INTEGRITY_REVIEWED, target=f"integrity_flag:{flag_id}",
        detail={"flag_id": flag_id, "decision": decision.value, "kind": found.kind.value, "unit_id": found.unit_id,
                "excluded": excluded}, address=address))
    return int(review_id[0]) if review_id else 0


def _exclude(conn: Connection, flag_id: int, uuids: list[str], actor_name: str, reason: str, decided: str) -> int:
    """Exclude the held ratings among `uuids` not excluded already; how many were."""
    if not uuids:
        return 0
    held = set(conn.execute(select(ratings.c.uuid).where(ratings.c.uuid.in_(uuids),
                                                         ratings.c.before_enrollment.is_(False))).scalars())
    done = set(conn.execute(select(rating_exclusions.c.rating_uuid)
                            .where(rating_exclusions.c.rating_uuid.in_(uuids))).scalars())
    count = 0
    for uuid in uuids:
        if uuid in held and uuid not in done:
            conn.execute(rating_exclusions.insert().values(rating_uuid=uuid, case_id=None, flag_id=flag_id,
                                                           decided_at=decided, decided_by=actor_name, reason=reason))
            rollups.exclude(conn, uuid)
            done.add(uuid)
            count += 1
    return count


def reviews(conn: Connection, flag_id: int) -> list[dict[str, object]]:
    """The flag's reviews, oldest first."""
    query = select(integrity_reviews).where(integrity_reviews.c.flag_id == flag_id).order_by(integrity_reviews.c.id)
    return [dict(row) for row in conn.execute(query).mappings()]


def open_flags_by_unit(conn: Connection, year: int | None = None) -> dict[str, int]:
    """Units with open or confirmed flags (over the year's days, when given): what holds a model-unit
    candidacy. Dismissed flags hold nothing."""
    return flags.holding_units(conn, year)
