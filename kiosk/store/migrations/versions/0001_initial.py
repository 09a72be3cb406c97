"""Initial device store: ratings (hash-chained), reasons, events, append-only triggers, probe.

Revision ID: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Columns that may change after insert: only the outbox status.
_MUTABLE = {"ratings": ("sync_state", "sync_note"), "rating_reasons": ("sync_state",), "events": ("sync_state",)}


def upgrade() -> None:
    op.create_table(
        "ratings",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("uuid", sa.String(36), nullable=False, unique=True),
        sa.Column("device_id", sa.String(40), nullable=False),
        sa.Column("unit_id", sa.String(40), nullable=False),
        sa.Column("counter_id", sa.String(40), nullable=False),
        sa.Column("staff_id", sa.String(40)),
        sa.Column("case_no", sa.String(40)),
        sa.Column("level", sa.Integer, nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("recorded_at", sa.String(32), nullable=False, index=True),
        sa.Column("mono_ns", sa.BigInteger, nullable=False),
        sa.Column("boot_id", sa.String(36), nullable=False),
        sa.Column("clock_suspect", sa.Boolean, nullable=False),
        sa.Column("app_version", sa.String(20), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("sync_state", sa.String(10), nullable=False, server_default="pending", index=True),
        sa.Column("sync_note", sa.Text),
        sa.CheckConstraint("level BETWEEN 1 AND 5", name="level_range"),
    )
    op.create_table(
        "rating_reasons",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("rating_uuid", sa.String(36), sa.ForeignKey("ratings.uuid"), nullable=False, index=True),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("recorded_at", sa.String(32), nullable=False),
        sa.Column("sync_state", sa.String(10), nullable=False, server_default="pending", index=True),
    )
    op.create_table(
        "events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False, index=True),
        sa.Column("recorded_at", sa.String(32), nullable=False, index=True),
        sa.Column("mono_ns", sa.BigInteger, nullable=False),
        sa.Column("boot_id", sa.String(36), nullable=False),
        sa.Column("detail", sa.Text, nullable=False, server_default="{}"),
        sa.Column("sync_state", sa.String(10), nullable=False, server_default="pending", index=True),
    )
    # Scratch space for the out-of-service probe: it proves a few pages can be
    # written before the terminal accepts ratings again. Not append-only.
    op.create_table(
        "storage_probe",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("payload", sa.LargeBinary, nullable=False),
    )
    for table, mutable in _MUTABLE.items():
        _append_only(table, mutable)


def _append_only(table: str, mutable: tuple[str, ...]) -> None:
    columns = [c["name"] for c in sa.inspect(op.get_bind()).get_columns(table) if c["name"] not in mutable]
    changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in columns)
    op.execute(f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
               f"BEGIN SELECT RAISE(ABORT, '{table} are append-only'); END")
    op.execute(f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} WHEN {changed} "
               f"BEGIN SELECT RAISE(ABORT, '{table} are append-only: only the sync state may change'); END")


def downgrade() -> None:
    raise RuntimeError("the device store is never downgraded: ratings are append-only")
