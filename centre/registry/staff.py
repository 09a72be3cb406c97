"""The staff roster of each unit (the `staff` table): set from the office's file, listed, sent, named.

One truth: a terminal's config carries its unit's current members (those without left_at), read from this
table at each config pull (`roster`, called by centre/enroll.py's device_config), so every terminal of the
unit, wherever it moves, has the roster the office set last. `devices.staff`, where each device kept a copy
before schema 0005, is neither read nor written for it any more (migration 0005 carried its members here).

Nothing is deleted: a member missing from a new roster file gets left_at, so the figures of past days still
name them (`names`); one who is back in a later file has it cleared. Members are listed, and sent, by 工号.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, RowMapping, func, select, update

from centre.db.rows import now_text
from centre.db.tables import devices, staff, units
from centre.errors import NotFound
from contract import StaffRecord, check_secret, hash_secret

# The member's columns a roster file sets (the key and the dates are the table's own).
FIELDS = ("name", "name_en", "post", "post_en", "pin_hash", "photo")


@dataclass(frozen=True)
class Entry:
    """One member as a roster file gives them. A plain PIN is kept apart from the record: a salted hash
    differs each time it is made, so it is hashed only when it is not the PIN already held; re-hashing
    an unchanged PIN would report every member as changed on every run of the same file."""

    record: StaffRecord
    pin: str | None = None


@dataclass(frozen=True)
class RosterSet:
    """What setting a roster did: the members on it now, the changes in words, the devices it reaches."""

    unit_id: str
    members: int
    changes: list[str]
    devices: int


def require_unit(conn: Connection, unit_id: str, *, lock: bool = False) -> None:
    """NotFound naming the unit unless the registry holds it; `lock` makes two rosters of one unit set at
    once take turns (PostgreSQL; SQLite has one writer anyway) instead of both inserting a new member."""
    query = select(units.c.id).where(units.c.id == unit_id)
    if conn.execute(query.with_for_update() if lock else query).first() is None:
        raise NotFound(f"unknown unit {unit_id!r}: register it first (`evaluator centre unit add` or "
                       "`evaluator centre unit import`)")


def set_roster(engine: Engine, unit_id: str, entries: list[Entry]) -> RosterSet:
    """Make `entries` the unit's roster, in one transaction: new members added, changed ones updated, those
    missing left (left_at), those back returned; the unit's terminals take it at their next config pull."""
    at = now_text()
    with engine.begin() as conn:
        require_unit(conn, unit_id, lock=True)
        held = {row["id"]: row for row in conn.execute(select(staff).where(staff.c.unit_id == unit_id)).mappings()}
        changes: list[str] = []
        for entry in entries:
            changes.extend(_save(conn, unit_id, entry, held.get(entry.record.id), at))
        given = {entry.record.id for entry in entries}
        for member_id, row in sorted(held.items()):
            if member_id not in given and row["left_at"] is None:
                conn.execute(update(staff).where(staff.c.unit_id == unit_id, staff.c.id == member_id)
                             .values(left_at=at))
                changes.append(f"left staff {unit_id}/{member_id} ({row['name']})")
        reached = conn.execute(select(func.count()).select_from(devices).where(
            devices.c.unit_id == unit_id, devices.c.revoked_at.is_(None))).scalar_one()
    return RosterSet(unit_id, len(entries), changes, int(reached))


def _save(conn: Connection, unit_id: str, entry: Entry, row: RowMapping | None, at: str) -> list[str]:
    label = f"staff {unit_id}/{entry.record.id}"
    values = _values(entry, row)
    if row is None:
        conn.execute(staff.insert().values(unit_id=unit_id, id=entry.record.id, **values, added_at=at, left_at=None))
        return [f"added {label} ({values['name']})"]
    changed = {name: value for name, value in values.items() if row[name] != value}
    back = row["left_at"] is not None
    if not changed and not back:
        return []
    conn.execute(update(staff).where(staff.c.unit_id == unit_id, staff.c.id == entry.record.id)
                 .values(**changed, left_at=None))
    said = ", ".join(_said(name, row[name], value) for name, value in changed.items())
    if back:
        return [f"returned {label} ({values['name']})" + (f": {said}" if said else "")]
    return [f"updated {label}: {said}"]


def _values(entry: Entry, row: RowMapping | None) -> dict[str, Any]:
    record = entry.record
    pin_hash = record.pin_hash
    if entry.pin is not None:
        held = row["pin_hash"] if row is not None else None
        pin_hash = held if held and check_secret(entry.pin, held) else hash_secret(entry.pin)
    return {"name": record.name, "name_en": record.name_en, "post": record.post, "post_en": record.post_en,
            "pin_hash": pin_hash, "photo": record.photo}


def _said(name: str, old: Any, new: Any) -> str:
    """A change in words; a PIN hash or a photo is never printed, only whether it was set, changed or removed."""
    if name in ("pin_hash", "photo"):
        what = "PIN" if name == "pin_hash" else "photo"
        return f"{what} {'set' if old is None else 'removed' if new is None else 'changed'}"
    return f"{name} {old!r} → {new!r}"


def roster(conn: Connection, unit_id: str) -> list[dict[str, Any]]:
    """The unit's current members as a terminal's config carries them (contract.StaffRecord's keys; a key
    without a value left out), by 工号. Empty for a unit without a roster, or one the registry lacks."""
    rows = conn.execute(select(staff.c.id, *(staff.c[name] for name in FIELDS))
                        .where(staff.c.unit_id == unit_id, staff.c.left_at.is_(None)).order_by(staff.c.id))
    return [{key: value for key, value in row.items() if value is not None} for row in rows.mappings()]


def listing(conn: Connection, unit_id: str) -> list[dict[str, Any]]:
    """Every member the unit has had, by 工号, with whether a PIN and a photo are set, never the hash or the
    image: what `evaluator centre staff list` shows."""
    require_unit(conn, unit_id)
    rows = conn.execute(select(staff).where(staff.c.unit_id == unit_id).order_by(staff.c.id)).mappings()
    return [{"id": row["id"], "name": row["name"], "name_en": row["name_en"], "post": row["post"],
             "post_en": row["post_en"], "pin_set": row["pin_hash"] is not None, "photo": row["photo"] is not None,
             "added_at": row["added_at"], "left_at": row["left_at"]} for row in rows]


def names(conn: Connection, unit_id: str) -> dict[str, str]:
    """工号 → name of everyone the unit has had, those who left included: a report of past days names them."""
    rows = conn.execute(select(staff.c.id, staff.c.name).where(staff.c.unit_id == unit_id))
    return {row.id: row.name for row in rows}
