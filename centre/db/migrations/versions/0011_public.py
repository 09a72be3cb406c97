"""The citizen's side: the centre's signing keys, web questionnaire ratings, complaints, numbers left online,
receipts looked up and not found, published daily digests and shared rate limits.

- centre_keys (id, purpose, secret, created_at, retired_at)
- web_ratings (pk, uuid unique, unit_id, counter_id, level, reasons, text, flag, token_id, form_id unique,
  submitted_at), index (unit_id, submitted_at)
- complaints (pk, rating_uuid, device_id, text, flag, form_id unique, submitted_at)
- citizen_contacts (pk, rating_uuid, source, phone, consent_version, given_at, erased_at)
- receipt_misses (rating_uuid, device_id, first_at, last_at, lookups, found_at)
- public_digests (unit_id, day, root, ratings, device_tails, published_at, superseded)
- public_limits (key, slot, hits)

All new and empty. Frozen history: add a revision.

Revision ID: 0011
"""
import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "centre_keys",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("secret", sa.String(128), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("retired_at", sa.String(32)),
    )
    op.create_table(
        "web_ratings",
        sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("uuid", sa.String(36), nullable=False, unique=True),
        sa.Column("unit_id", sa.String, nullable=False),
        sa.Column("counter_id", sa.String),
        sa.Column("level", sa.Integer, nullable=False),
        sa.Column("reasons", sa.JSON, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("flag", sa.String(32)),
        sa.Column("token_id", sa.String(32), nullable=False),
        sa.Column("form_id", sa.String(32), nullable=False, unique=True),
        sa.Column("submitted_at", sa.String(32), nullable=False),
    )
    op.create_index("ix_web_ratings_unit_submitted", "web_ratings", ["unit_id", "submitted_at"])
    op.create_table(
        "complaints",
        sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("rating_uuid", sa.String(36), nullable=False, index=True),
        sa.Column("device_id", sa.String, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("flag", sa.String(32)),
        sa.Column("form_id", sa.String(32), nullable=False, unique=True),
        sa.Column("submitted_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "citizen_contacts",
        sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("rating_uuid", sa.String(36), nullable=False, index=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("phone", sa.String(16), nullable=False),
        sa.Column("consent_version", sa.String(16), nullable=False),
        sa.Column("given_at", sa.String(32), nullable=False),
        sa.Column("erased_at", sa.String(32)),
    )
    _receipts_and_digests()


def _receipts_and_digests() -> None:
    op.create_table(
        "receipt_misses",
        sa.Column("rating_uuid", sa.String(36), primary_key=True),
        sa.Column("device_id", sa.String, nullable=False),
        sa.Column("first_at", sa.String(32), nullable=False),
        sa.Column("last_at", sa.String(32), nullable=False),
        sa.Column("lookups", sa.Integer, nullable=False),
        sa.Column("found_at", sa.String(32)),
    )
    op.create_table(
        "public_digests",
        sa.Column("unit_id", sa.String, nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("root", sa.String(64), nullable=False),
        sa.Column("ratings", sa.Integer, nullable=False),
        sa.Column("device_tails", sa.JSON, nullable=False),
        sa.Column("published_at", sa.String(32), nullable=False),
        sa.Column("superseded", sa.Boolean, nullable=False),
        sa.PrimaryKeyConstraint("unit_id", "day", "published_at", name="pk_public_digests"),
    )
    op.create_table(
        "public_limits",
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("slot", sa.String(20), nullable=False),
        sa.Column("hits", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("key", "slot", name="pk_public_limits"),
    )
