"""The registry: districts, sectors, units, counters, and where each device stood when.

- districts (id, name, name_en), sectors (code, name, name_en), units (id, name, name_en, district_id,
  sector_code, timezone, opening_hours, address), counters (unit_id, id, name, name_en),
  device_placements (device_id, unit_id, counter_id, from_at, until_at).
- Backfill, so an installed centre keeps working: every unit and counter its devices and enrollment codes
  name becomes a registered unit (no district or sector yet: the office assigns them with
  `evaluator centre unit import`) and counter, with the names of its latest device or code; every device
  gets one open placement, from its enrollment, where it stands. The sector list itself is not written
  here: centre/registry/sectors.yaml is loaded at first use, so a release may add sectors without a migration.

Frozen history: add a revision.

Revision ID: 0003
"""
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    tables = _create()
    _backfill(*tables)


def _create() -> tuple[sa.Table, sa.Table, sa.Table]:
    op.create_table("districts", sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
                    sa.Column("name", sa.String, nullable=False), sa.Column("name_en", sa.String),
                    sa.UniqueConstraint("name", name="uq_districts_name"))
    op.create_table("sectors", sa.Column("code", sa.String, primary_key=True),
                    sa.Column("name", sa.String, nullable=False), sa.Column("name_en", sa.String))
    units = op.create_table(
        "units", sa.Column("id", sa.String, primary_key=True),
        sa.Column("name", sa.String, nullable=False), sa.Column("name_en", sa.String),
        sa.Column("district_id", sa.Integer, sa.ForeignKey("districts.id")),
        sa.Column("sector_code", sa.String, sa.ForeignKey("sectors.code")),
        sa.Column("timezone", sa.String, nullable=False), sa.Column("opening_hours", sa.String, nullable=False),
        sa.Column("address", sa.String))
    counters = op.create_table(
        "counters", sa.Column("unit_id", sa.String, sa.ForeignKey("units.id"), primary_key=True),
        sa.Column("id", sa.String, primary_key=True), sa.Column("name", sa.String, nullable=False),
        sa.Column("name_en", sa.String))
    placements = op.create_table(
        "device_placements", sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("device_id", sa.String, sa.ForeignKey("devices.id"), nullable=False),
        sa.Column("unit_id", sa.String, nullable=False), sa.Column("counter_id", sa.String, nullable=False),
        sa.Column("from_at", sa.String(32), nullable=False), sa.Column("until_at", sa.String(32)),
        sa.ForeignKeyConstraint(["unit_id", "counter_id"], ["counters.unit_id", "counters.id"],
                                name="fk_device_placements_counter"))
    op.create_index("ix_device_placements_device_from", "device_placements", ["device_id", "from_at"])
    assert units is not None and counters is not None and placements is not None
    return units, counters, placements


def _backfill(units: sa.Table, counters: sa.Table, placements: sa.Table) -> None:
    conn = op.get_bind()
    names = ("unit_id", "unit_name", "unit_name_en", "unit_timezone", "counter_id", "counter_name",
             "counter_name_en")
    codes = sa.table("enroll_codes", *(sa.column(n) for n in (*names, "created_at")))
    devices = sa.table("devices", *(sa.column(n) for n in (*names, "id", "enrolled_at")))
    # oldest first, devices after codes: the latest word on a name wins
    rows: list[Any] = [*conn.execute(sa.select(codes).order_by(codes.c.created_at)).mappings(),
                       *conn.execute(sa.select(devices).order_by(devices.c.enrolled_at)).mappings()]
    found_units: dict[str, dict[str, Any]] = {}
    found_counters: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        found_units[row["unit_id"]] = {"id": row["unit_id"], "name": row["unit_name"], "name_en": row["unit_name_en"],
                                       "timezone": row["unit_timezone"], "opening_hours": ""}
        found_counters[(row["unit_id"], row["counter_id"])] = {
            "unit_id": row["unit_id"], "id": row["counter_id"], "name": row["counter_name"],
            "name_en": row["counter_name_en"]}
    if found_units:
        conn.execute(units.insert(), list(found_units.values()))
        conn.execute(counters.insert(), list(found_counters.values()))
    placed = [{"device_id": row["id"], "unit_id": row["unit_id"], "counter_id": row["counter_id"],
               "from_at": row["enrolled_at"], "until_at": None} for row in rows if "enrolled_at" in row]
    if placed:
        conn.execute(placements.insert(), placed)


def downgrade() -> None:
    raise RuntimeError("the centre's database is never downgraded: it holds the city's ratings")
