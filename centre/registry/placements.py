"""Where a device stood when: its placements, [from_at, until_at), opened at enrollment and at each move.

The device's row (devices.unit_id, counter_id and names) is where it stands now, what the config route
sends; a move changes both in one transaction. A rating counts at the placement of its recorded time
(centre/provenance.py), so a device moved to another counter leaves its earlier ratings, even those it
delivers only after the move, under the counter it served when they were given.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, Engine, select, update

from centre.db.rows import now_text
from centre.db.tables import device_placements, devices
from centre.errors import BadInput, NotFound
from centre.registry.queries import place


@dataclass(frozen=True)
class Moved:
    device_id: str
    before: tuple[str, str]
    after: tuple[str, str]
    at: str


def open_placement(conn: Connection, device_id: str, unit_id: str, counter_id: str, at: str) -> None:
    conn.execute(device_placements.insert().values(device_id=device_id, unit_id=unit_id, counter_id=counter_id,
                                                   from_at=at, until_at=None))


def move(engine: Engine, device_id: str, unit_id: str, counter_id: str, at: str | None = None) -> Moved:
    """Close the device's open placement and open one at the registered unit and counter, from now (`at`: the
    demo city's simulated now).

    A move to another unit gives the device that unit's roster at its next config pull (the staff table,
    centre/registry/staff.py, which the config route reads)."""
    at = at or now_text()
    with engine.begin() as conn:
        device = conn.execute(select(devices).where(devices.c.id == device_id)).mappings().first()
        if device is None:
            raise NotFound(f"unknown device {device_id!r}")
        if device["revoked_at"] is not None:
            raise BadInput(f"device {device_id} is revoked: enroll a new one at the counter instead")
        before = (device["unit_id"], device["counter_id"])
        if before == (unit_id, counter_id):
            raise BadInput(f"device {device_id} already stands at {unit_id}/{counter_id}")
        target = place(conn, unit_id, counter_id)
        conn.execute(update(device_placements).where(device_placements.c.device_id == device_id,
                                                     device_placements.c.until_at.is_(None)).values(until_at=at))
        open_placement(conn, device_id, unit_id, counter_id, at)
        values = {"unit_id": unit_id, "unit_name": target.unit["name"], "unit_name_en": target.unit["name_en"],
                  "unit_timezone": target.unit["timezone"], "counter_id": counter_id,
                  "counter_name": target.counter["name"], "counter_name_en": target.counter["name_en"]}
        conn.execute(update(devices).where(devices.c.id == device_id).values(**values))
    return Moved(device_id, before, (unit_id, counter_id), at)


def history(conn: Connection, device_id: str) -> list[tuple[str, str, str, str | None]]:
    """(unit_id, counter_id, from_at, until_at) of every placement of the device, oldest first."""
    rows = conn.execute(select(device_placements.c.unit_id, device_placements.c.counter_id,
                               device_placements.c.from_at, device_placements.c.until_at)
                        .where(device_placements.c.device_id == device_id)
                        .order_by(device_placements.c.from_at, device_placements.c.pk))
    return [(row.unit_id, row.counter_id, row.from_at, row.until_at) for row in rows]
