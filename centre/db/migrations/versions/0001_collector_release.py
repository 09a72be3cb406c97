"""The collector's schema as last released before migrations (sync/collector/db.py at f6b554c): eight tables.

A database of that release carries no version: centre.db.schema takes one that has the centre's tables and
no alembic_version to be at this revision's base and upgrades it from here. That release made its tables
with `metadata.create_all()`, which creates only the missing ones, so this revision does the same: on the
release's database it creates nothing, on an empty database everything. Frozen history: never edit it,
add a revision.

Revision ID: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _tables() -> list[tuple[str, list[object]]]:
    """Each table's name and its columns and constraints, parents before the tables that refer to them."""
    return [
        ("enroll_codes", [
            sa.Column("code", sa.String(64), primary_key=True),
            sa.Column("unit_id", sa.String, nullable=False),
            sa.Column("unit_name", sa.String, nullable=False),
            sa.Column("unit_timezone", sa.String, nullable=False),
            sa.Column("counter_id", sa.String, nullable=False),
            sa.Column("counter_name", sa.String, nullable=False),
            sa.Column("created_at", sa.String(32), nullable=False),
            sa.Column("expires_at", sa.String(32), nullable=False),
            sa.Column("used_at", sa.String(32)),
            sa.Column("device_id", sa.String),
        ]),
        ("devices", [
            sa.Column("id", sa.String, primary_key=True),
            sa.Column("secret", sa.String, nullable=False),
            sa.Column("unit_id", sa.String, nullable=False, index=True),
            sa.Column("unit_name", sa.String, nullable=False),
            sa.Column("unit_timezone", sa.String, nullable=False),
            sa.Column("counter_id", sa.String, nullable=False),
            sa.Column("counter_name", sa.String, nullable=False),
            sa.Column("staff", sa.JSON, nullable=False),
            sa.Column("app_version", sa.String),
            sa.Column("enrolled_at", sa.String(32), nullable=False),
            sa.Column("revoked_at", sa.String(32)),
            sa.Column("last_heartbeat", sa.JSON),
            sa.Column("last_seen", sa.String(32)),
        ]),
        ("ratings", [
            sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("uuid", sa.String(36), nullable=False, unique=True),
            sa.Column("seq", sa.BigInteger, nullable=False),
            sa.Column("device_id", sa.String, nullable=False),
            sa.Column("unit_id", sa.String, nullable=False),
            sa.Column("counter_id", sa.String, nullable=False),
            sa.Column("staff_id", sa.String),
            sa.Column("case_no", sa.String(40)),
            sa.Column("level", sa.Integer, nullable=False),
            sa.Column("channel", sa.String, nullable=False),
            sa.Column("mode", sa.String, nullable=False),
            sa.Column("recorded_at", sa.String, nullable=False),
            sa.Column("mono_ns", sa.BigInteger, nullable=False),
            sa.Column("boot_id", sa.String, nullable=False),
            sa.Column("clock_suspect", sa.Boolean, nullable=False),
            sa.Column("app_version", sa.String, nullable=False),
            sa.Column("prev_hash", sa.String(64), nullable=False),
            sa.Column("hash", sa.String(64), nullable=False),
            sa.Column("received_at", sa.String(32), nullable=False),
            sa.Column("sent_at", sa.String, nullable=False),
            sa.Column("corrected_at", sa.String(32)),
            sa.Column("counted_at", sa.String(32), nullable=False),
            sa.Column("clock_corrected", sa.Boolean, nullable=False),
            sa.Column("conflict", sa.Boolean, nullable=False),
            sa.Index("ix_ratings_device_seq", "device_id", "seq"),
            sa.Index("ix_ratings_unit_counted", "unit_id", "counted_at"),
        ]),
        ("reasons", [
            sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("device_id", sa.String, sa.ForeignKey("devices.id"), nullable=False),
            sa.Column("id", sa.BigInteger, nullable=False),
            sa.Column("rating_uuid", sa.String, nullable=False, index=True),
            sa.Column("code", sa.String, nullable=False),
            sa.Column("recorded_at", sa.String, nullable=False),
            sa.Column("received_at", sa.String(32), nullable=False),
            sa.UniqueConstraint("device_id", "id", name="uq_reasons_device_row"),
        ]),
        ("events", [
            sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("device_id", sa.String, sa.ForeignKey("devices.id"), nullable=False),
            sa.Column("id", sa.BigInteger, nullable=False),
            sa.Column("kind", sa.String, nullable=False),
            sa.Column("recorded_at", sa.String, nullable=False),
            sa.Column("mono_ns", sa.BigInteger, nullable=False),
            sa.Column("boot_id", sa.String, nullable=False),
            sa.Column("detail", sa.JSON, nullable=False),
            sa.Column("received_at", sa.String(32), nullable=False),
            sa.Column("counted_at", sa.String(32), nullable=False),
            sa.UniqueConstraint("device_id", "id", name="uq_events_device_row"),
            sa.Index("ix_events_device_kind_counted", "device_id", "kind", "counted_at"),
        ]),
        ("callbacks", [
            sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("device_id", sa.String, sa.ForeignKey("devices.id"), nullable=False),
            sa.Column("id", sa.BigInteger, nullable=False),
            sa.Column("rating_uuid", sa.String(36), nullable=False, index=True),
            sa.Column("phone", sa.String(16), nullable=False),
            sa.Column("consent_version", sa.String(16), nullable=False),
            sa.Column("requested_at", sa.String, nullable=False),
            sa.Column("received_at", sa.String(32), nullable=False),
            sa.UniqueConstraint("device_id", "id", name="uq_callbacks_device_row"),
        ]),
        ("nonces", [
            sa.Column("device_id", sa.String, nullable=False),
            sa.Column("nonce", sa.String(64), nullable=False),
            sa.Column("seen_at", sa.BigInteger, nullable=False, index=True),
            sa.UniqueConstraint("device_id", "nonce", name="uq_nonces_device_nonce"),
        ]),
        ("conflicts", [
            sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("device_id", sa.String, nullable=False, index=True),
            sa.Column("rating_uuid", sa.String(36), nullable=False, index=True),
            sa.Column("received_at", sa.String(32), nullable=False),
            sa.Column("sent", sa.JSON, nullable=False),
            sa.Column("held", sa.JSON, nullable=False),
        ]),
    ]


def upgrade() -> None:
    present = set(sa.inspect(op.get_bind()).get_table_names())
    for name, items in _tables():
        if name not in present:
            op.create_table(name, *items)


def downgrade() -> None:
    raise RuntimeError("the centre's database is never downgraded: it holds the city's ratings")
