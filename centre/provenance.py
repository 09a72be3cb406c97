"""Whose rows an enrolled device may deliver, and where they count (docs/sync-protocol.md, "Whose rows").

The signature proves which enrolled device delivered a batch; the rows' content only claims things.
The centre keeps the content as sent (its hash must verify) and decides from its own knowledge:

- where a rating counts: the delivering device's placement (enrollment, then each move) at the time the
  rating was recorded, whatever unit and counter the row names (a differing claim is kept and flagged,
  not believed);
- a rating naming another device id is one the terminal recorded before it was enrolled, under its
  default identity, provided it comes before the first rating carrying the device's own id in its
  chain (seq order) and the id it names is no enrolled device's: stored as delivered by the signer,
  marked before enrollment, counted in no unit's score. Any other foreign id is refused;
- a reason, event or call-back attaches only to a rating its own device delivered.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, bindparam, func, select
from sqlalchemy.exc import NoResultFound

from centre.db.lookup import among
from centre.db.tables import device_placements, devices, ratings
from contract import Rejected, iso_utc


@dataclass(frozen=True)
class Placement:
    """Where the centre placed a device: the only unit and counter its ratings count for. `earlier` holds
    the placements it has left, (until_at, unit_id, counter_id) oldest first: a rating recorded before one
    ended counts there (centre/registry/placements.py)."""

    unit_id: str
    counter_id: str
    earlier: tuple[tuple[str, str, str], ...] = ()

    def at(self, recorded: datetime) -> Placement:
        if self.earlier:
            when = iso_utc(recorded)
            for until, unit_id, counter_id in self.earlier:
                if when < until:
                    return Placement(unit_id, counter_id)
        return self


class Judged(NamedTuple):
    """A well-formed rating, its recorded time, and whether it precedes the device's enrollment (a tuple: one
    is made for every rating ingested)."""

    sent: dict[str, Any]
    recorded: datetime
    before_enrollment: bool


# The device's row and the placements it has left, in one statement (every batch asks): a device never moved
# comes as one row with no placement.
_LEFT = device_placements.alias("left_placement")
_PLACEMENT = (select(devices.c.unit_id, devices.c.counter_id, _LEFT.c.until_at, _LEFT.c.unit_id.label("left_unit"),
                     _LEFT.c.counter_id.label("left_counter"))
              .select_from(devices.outerjoin(_LEFT, (_LEFT.c.device_id == devices.c.id) & _LEFT.c.until_at.isnot(None)))
              .where(devices.c.id == bindparam("device")).order_by(_LEFT.c.until_at))


def placement(conn: Connection, device_id: str) -> Placement:
    rows = conn.execute(_PLACEMENT, {"device": device_id}).all()
    if not rows:
        raise NoResultFound(f"no device {device_id!r}")
    return Placement(rows[0].unit_id, rows[0].counter_id,
                     tuple((r.until_at, r.left_unit, r.left_counter) for r in rows if r.until_at is not None))


def centre_view(signer_id: str, where: Placement, item: Judged) -> dict[str, Any]:
    """The centre's own columns of a new rating: who delivered it, where it counts, what it claimed."""
    sent, where = item.sent, where.at(item.recorded)
    claimed_elsewhere = (sent["unit_id"], sent["counter_id"]) != (where.unit_id, where.counter_id)
    return {"delivered_by": signer_id, "placed_unit_id": where.unit_id, "placed_counter_id": where.counter_id,
            "before_enrollment": item.before_enrollment,
            "placement_differs": claimed_elsewhere and not item.before_enrollment}


def by_sender(conn: Connection, signer_id: str, valid: list[tuple[dict[str, Any], datetime]],
              rejected: list[Rejected]) -> list[Judged]:
    """The ratings the signer may deliver (each marked before enrollment or not); the others go to
    `rejected` with the reason. Without a foreign device id in the batch (the common case): no query."""
    foreign = {sent["device_id"] for sent, _ in valid if sent["device_id"] != signer_id}
    if not foreign:
        return [Judged(sent, recorded, False) for sent, recorded in valid]
    enrolled = set(conn.execute(select(devices.c.id).where(devices.c.id.in_(sorted(foreign)))).scalars())
    first_own = _first_own_seq(conn, signer_id, [sent["seq"] for sent, _ in valid if sent["device_id"] == signer_id])
    kept: list[Judged] = []
    for sent, recorded in valid:
        if sent["device_id"] == signer_id:
            kept.append(Judged(sent, recorded, False))
        elif sent["device_id"] in enrolled:
            rejected.append(Rejected(id=sent["uuid"], reason="device_id names another enrolled device, "
                                                             "not the signing device"))
        elif first_own is not None and sent["seq"] >= first_own:
            rejected.append(Rejected(id=sent["uuid"], reason=f"device_id is not the signing device, whose own id "
                                                             f"the chain carries from seq {first_own}"))
        else:
            kept.append(Judged(sent, recorded, True))
    return kept


def _first_own_seq(conn: Connection, signer_id: str, in_batch: list[int]) -> int | None:
    """The lowest seq of a rating carrying the signer's own id, held or in this batch: where enrollment shows."""
    held = conn.execute(select(func.min(ratings.c.seq)).where(ratings.c.delivered_by == signer_id,
                                                              ratings.c.device_id == signer_id)).scalar()
    found = [*in_batch, *([held] if held is not None else [])]
    return min(found) if found else None


_DELIVERED_ELSEWHERE = select(ratings.c.uuid).where(ratings.c.delivered_by != bindparam("signer"))


def delivered_elsewhere(conn: Connection, signer_id: str, uuids: Iterable[str]) -> set[str]:
    """Those of `uuids` the centre holds as delivered by another device than the signer.

    A uuid held from nobody yet is not among them: a reason may travel before its rating (the outbox
    sends reasons by id, ratings by seq), and reports join a reason to a rating only when one device
    delivered both.
    """
    return {uuid for uuid, in among(conn, _DELIVERED_ELSEWHERE, ratings.c.uuid, sorted(set(uuids)),
                                    {"signer": signer_id})}


def refuse_foreign_references(conn: Connection, signer_id: str, kind: str, refs: dict[int, str],
                              rejected: list[Rejected]) -> set[int]:
    """The row ids (of `kind`) whose rating reference, `refs[id]`, is another device's; each refused."""
    elsewhere = delivered_elsewhere(conn, signer_id, refs.values()) if refs else set()
    refused = {row_id for row_id, uuid in refs.items() if uuid in elsewhere}
    for row_id in sorted(refused):
        rejected.append(Rejected(id=f"{kind}:{row_id}",
                                 reason=f"rating {refs[row_id]} was delivered by another device"))
    return refused
