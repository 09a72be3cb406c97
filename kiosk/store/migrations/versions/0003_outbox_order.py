"""Index the outbox by (sync_state, seq/id): the next batch is a seek, not a scan.

"The oldest pending ratings" is `WHERE sync_state = 'pending' ORDER BY seq
LIMIT 500`. With only the single-column index SQLite either walks the synced
prefix in seq order or sorts every pending row, for every batch: a drain of a
long backlog slowed down as it went (bench/sync_backlog.py).

Revision ID: 0003
"""
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_ratings_sync_state_seq", "ratings", ["sync_state", "seq"])
    op.create_index("ix_rating_reasons_sync_state_id", "rating_reasons", ["sync_state", "id"])
    op.create_index("ix_events_sync_state_id", "events", ["sync_state", "id"])


def downgrade() -> None:
    raise RuntimeError("the device store is never downgraded: ratings are append-only")
