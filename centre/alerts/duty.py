"""Who is on duty for a unit's alerts: one e-mail address (and a name) per unit, set by the office.

`evaluator centre duty set|list|remove` (centre/alerts/commands.py). A unit without one gets no e-mail of its
bad reviews (the webhook and the offices' digests still tell of them).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, delete, select

from centre.alerts.settings import check_address
from centre.db.loop_tables import unit_duty
from centre.db.rows import utcnow
from centre.db.tables import units
from centre.errors import BadInput, NotFound
from contract import iso_utc

MAX_NAME = 64


@dataclass(frozen=True)
class Duty:
    unit_id: str
    unit_name: str
    email: str
    name: str
    updated_at: str


def set_duty(engine: Engine, unit_id: str, email: str, name: str, now: datetime | None = None) -> bool:
    """Make `email` (`name`'s) the unit's duty address; True if the unit had none before."""
    try:
        email = check_address(email.strip())
    except ValueError as exc:
        raise BadInput(f"--email: {exc}") from None
    name = name.strip()
    if not name or len(name) > MAX_NAME:
        raise BadInput(f"--name: the duty manager's name, 1–{MAX_NAME} characters")
    values = {"email": email, "name": name, "updated_at": iso_utc(now or utcnow())}
    with engine.begin() as conn:
        if conn.execute(select(units.c.id).where(units.c.id == unit_id)).first() is None:
            raise NotFound(f"unit {unit_id!r} is not registered (`evaluator centre unit list`)")
        held = conn.execute(select(unit_duty.c.unit_id).where(unit_duty.c.unit_id == unit_id)).first()
        if held is None:
            conn.execute(unit_duty.insert().values(unit_id=unit_id, **values))
        else:
            conn.execute(unit_duty.update().where(unit_duty.c.unit_id == unit_id).values(**values))
    return held is None


def remove_duty(engine: Engine, unit_id: str) -> bool:
    """The unit gets no more e-mail alerts; True if it had a duty address."""
    with engine.begin() as conn:
        return bool(conn.execute(delete(unit_duty).where(unit_duty.c.unit_id == unit_id)).rowcount)


def list_duty(engine: Engine) -> list[Duty]:
    with engine.connect() as conn:
        rows = conn.execute(select(unit_duty, units.c.name.label("unit_name"))
                            .join(units, units.c.id == unit_duty.c.unit_id).order_by(unit_duty.c.unit_id))
        return [Duty(row.unit_id, row.unit_name, row.email, row.name, row.updated_at) for row in rows]
