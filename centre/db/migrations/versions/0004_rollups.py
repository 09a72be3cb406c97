"""Rollups: the counts the indicators read, per unit-local day (centre/rollups.py).

- rollups (unit_id, day, counter_id, staff_id, channel, measure, code, n), primary key all but n, and an
  index on day (a city-wide period).
- Built here from the raw ratings, reasons and events (a rebuild, as `evaluator centre rollup rebuild`
  does), so a migrated database reads the same figures as one that kept its rollups from the start.

The rebuild is centre.rollups' own, on purpose: the rollups must be counted exactly as the ingest keeps
them. It reads only columns that exist from 0002 on (and the unit's zone as the summary reads it).
Frozen history: add a revision.

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
        "rollups",
        sa.Column("unit_id", sa.String, nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("counter_id", sa.String, nullable=False),
        sa.Column("staff_id", sa.String, nullable=False),
        sa.Column("channel", sa.String, nullable=False),
        sa.Column("measure", sa.String(24), nullable=False),
        sa.Column("code", sa.String, nullable=False),
        sa.Column("n", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("unit_id", "day", "counter_id", "staff_id", "channel", "measure", "code",
                                name="pk_rollups"),
    )
    op.create_index("ix_rollups_day", "rollups", ["day"])
    from centre.rollups import rebuild_in

    rebuild_in(op.get_bind(), fine_only=True)   # the day and month sums come with 0008


def downgrade() -> None:
    raise RuntimeError("the centre's database is never downgraded: it holds the city's ratings")
