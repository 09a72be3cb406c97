"""Each delivering device's chain, checked once at ingest: the integrity report reads it instead of
re-hashing every rating on each call.

- device_chains (device_id, ratings_held, last_seq, last_hash, gaps, chain_breaks, conflicts,
  before_enrollment, placement_mismatches, updated_at), one row per device that delivered ratings
  (ratings.delivered_by).
- Backfill: every device's chain is checked once here from the raw ratings, as the report used to on
  each call, so a migrated database reports exactly what it reported before.

The check is centre.chains' own (`rebuild_in`, as `evaluator centre integrity --recheck` recounts), on
purpose: the stored chains must be counted exactly as the ingest keeps them. It reads only columns that
exist from 0002 on. A long history takes about as long as one call of the old report did (tens of seconds
a million ratings).

Frozen history: add a revision.

Revision ID: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "device_chains",
        sa.Column("device_id", sa.String, primary_key=True),
        sa.Column("ratings_held", sa.BigInteger, nullable=False),
        sa.Column("last_seq", sa.BigInteger),
        sa.Column("last_hash", sa.String(64)),
        sa.Column("gaps", sa.JSON, nullable=False),
        sa.Column("chain_breaks", sa.JSON, nullable=False),
        sa.Column("conflicts", sa.BigInteger, nullable=False),
        sa.Column("before_enrollment", sa.BigInteger, nullable=False),
        sa.Column("placement_mismatches", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
    )
    from centre.chains import rebuild_in

    rebuild_in(op.get_bind())


def downgrade() -> None:
    raise RuntimeError("the centre's database is never downgraded: it holds the city's ratings")
