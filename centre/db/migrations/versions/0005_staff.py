"""The registry's staff roster: who works at each unit (工号, names, posts, PIN hash, photo).

- staff (unit_id, id, name, name_en, post, post_en, pin_hash, photo, added_at, left_at), primary key
  (unit_id, id); nothing is deleted: a member who left keeps a row with left_at, so the figures of past
  days still name them.
- Backfill, so an installed centre keeps its rosters: every member on a device of a unit (`devices.staff`,
  which `evaluator centre roster` wrote) becomes a member of that unit; where two devices of a unit disagree,
  the device enrolled last wins, a revoked device's word counting only where no live device has one (the
  roster command skipped revoked devices, so theirs may be stale). A member only revoked devices held has
  left (left_at: when the last of them was revoked), so the unit's terminals get no member they did not
  have. added_at is the migration's time. The rosters of a unit's counters are united: a roster is the
  unit's from now on. `devices.staff` keeps its values and is read no more.

Frozen history: add a revision.

Revision ID: 0005
"""
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    staff = op.create_table(
        "staff",
        sa.Column("unit_id", sa.String, sa.ForeignKey("units.id"), nullable=False),
        sa.Column("id", sa.String, nullable=False),
        sa.Column("name", sa.String, nullable=False),
        sa.Column("name_en", sa.String),
        sa.Column("post", sa.String, nullable=False),
        sa.Column("post_en", sa.String),
        sa.Column("pin_hash", sa.String),
        sa.Column("photo", sa.Text),
        sa.Column("added_at", sa.String(32), nullable=False),
        sa.Column("left_at", sa.String(32)),
        sa.PrimaryKeyConstraint("unit_id", "id", name="pk_staff"),
    )
    assert staff is not None
    _backfill(staff)


def _backfill(staff: sa.Table) -> None:
    conn = op.get_bind()
    devices = sa.table("devices", sa.column("id"), sa.column("unit_id"), sa.column("staff", sa.JSON),
                       sa.column("enrolled_at"), sa.column("revoked_at"))
    held = conn.execute(sa.select(devices)).all()
    # revoked devices first, then live ones, each oldest first: the last word on a member wins
    held.sort(key=lambda device: (device.revoked_at is None, device.enrolled_at, device.id))
    at = datetime.now(UTC).isoformat(timespec="microseconds")
    members: dict[tuple[str, str], dict[str, Any]] = {}
    for device in held:
        for entry in device.staff if isinstance(device.staff, list) else []:
            fields = _member(entry)
            if fields is None:
                continue
            key = (device.unit_id, fields["id"])
            left = device.revoked_at
            if left is not None and key in members:
                left = max(left, members[key]["left_at"] or "")
            members[key] = {**fields, "unit_id": device.unit_id, "added_at": at, "left_at": left}
    if members:
        conn.execute(staff.insert(), list(members.values()))


def _member(entry: Any) -> dict[str, Any] | None:
    """A roster entry's columns; None for one a terminal could not have used (no id or name)."""
    if not isinstance(entry, dict) or not isinstance(entry.get("id"), str) or not isinstance(entry.get("name"), str):
        return None

    def text(name: str) -> str | None:
        value = entry.get(name)
        return value if isinstance(value, str) else None

    return {"id": entry["id"], "name": entry["name"], "name_en": text("name_en"), "post": text("post") or "",
            "post_en": text("post_en"), "pin_hash": text("pin_hash"), "photo": text("photo")}


def downgrade() -> None:
    raise RuntimeError("the centre's database is never downgraded: it holds the city's ratings")
