"""Call-back requests: a phone number left with consent after a bad review, apart from the rating.

Not append-only, unlike every other table: the number is personal data and
is deleted once the centre acknowledges it, or after `citizen.callback.
retention_days` (kiosk.store.callbacks). No trigger guards it, and the
ratings' triggers are untouched: a call-back refers to a rating, never changes it.

Revision ID: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "callback_requests",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("rating_uuid", sa.String(36), sa.ForeignKey("ratings.uuid"), nullable=False, index=True),
        sa.Column("phone", sa.String(16), nullable=False),
        sa.Column("consent_version", sa.String(16), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False, index=True),
    )


def downgrade() -> None:
    raise RuntimeError("the device store is never downgraded: ratings are append-only")
