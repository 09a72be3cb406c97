"""The integrity analytics: flags of dishonest behaviour with their evidence, and the office's reviews.

- integrity_flags (id, fingerprint unique, kind, unit_id, counter_id, staff_id, device_id, day_from, day_to,
  figure, threshold, detail, evidence, state, detected_at, updated_at)
- integrity_reviews (id, flag_id, decision, reason, excluded, decided_by, decided_at), append-only

All new and empty. Frozen history: add a revision.

Revision ID: 0012
"""
import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "integrity_flags",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("fingerprint", sa.String(64), nullable=False, unique=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("unit_id", sa.String, nullable=False),
        sa.Column("counter_id", sa.String),
        sa.Column("staff_id", sa.String),
        sa.Column("device_id", sa.String),
        sa.Column("day_from", sa.String(10), nullable=False),
        sa.Column("day_to", sa.String(10), nullable=False),
        sa.Column("figure", sa.String(32), nullable=False),
        sa.Column("threshold", sa.String(32), nullable=False),
        sa.Column("detail", sa.JSON, nullable=False),
        sa.Column("evidence", sa.JSON, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("detected_at", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
    )
    op.create_index("ix_integrity_flags_unit_state", "integrity_flags", ["unit_id", "state"])
    op.create_index("ix_integrity_flags_state_kind", "integrity_flags", ["state", "kind"])
    op.create_table(
        "integrity_reviews",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("flag_id", sa.Integer, sa.ForeignKey("integrity_flags.id"), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("excluded", sa.Integer, nullable=False),
        sa.Column("decided_by", sa.String(64), nullable=False),
        sa.Column("decided_at", sa.String(32), nullable=False),
    )
    op.create_index("ix_integrity_reviews_flag", "integrity_reviews", ["flag_id"])
