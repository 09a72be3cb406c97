"""Coarser rollups: the same counts without counter, staff and channel, per unit-local day and per month.

- rollup_days (unit_id, day, measure, code, n), primary key all but n, and an index on day;
- rollup_months (unit_id, month, measure, code, n), month the YYYY-MM of the unit's local days, primary key
  all but n, and an index on month.
- Backfill: summed from `rollups` (which 0004 built and the ingest kept), by INSERT … SELECT … GROUP BY in
  the database: no row leaves it (a city year's ten million rollup rows: about a minute on PostgreSQL).

From here on centre.rollups keeps all three in the ingest's transaction, and its rebuild recounts all three.
The sums are written here in SQL, not by centre.rollups, on purpose: this revision stays what it is when the
live code moves on. Frozen history: add a revision.

Revision ID: 0008
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _counts() -> list[sa.Column]:
    return [sa.Column("measure", sa.String(24), nullable=False), sa.Column("code", sa.String, nullable=False),
            sa.Column("n", sa.BigInteger, nullable=False)]


def upgrade() -> None:
    days = op.create_table(
        "rollup_days", sa.Column("unit_id", sa.String, nullable=False),
        sa.Column("day", sa.String(10), nullable=False), *_counts(),
        sa.PrimaryKeyConstraint("unit_id", "day", "measure", "code", name="pk_rollup_days"))
    months = op.create_table(
        "rollup_months", sa.Column("unit_id", sa.String, nullable=False),
        sa.Column("month", sa.String(7), nullable=False), *_counts(),
        sa.PrimaryKeyConstraint("unit_id", "month", "measure", "code", name="pk_rollup_months"))
    assert days is not None and months is not None
    rollups = sa.table("rollups", sa.column("unit_id"), sa.column("day"), sa.column("measure"), sa.column("code"),
                       sa.column("n"))
    keys = (rollups.c.unit_id, rollups.c.day, rollups.c.measure, rollups.c.code)
    op.execute(days.insert().from_select(["unit_id", "day", "measure", "code", "n"],
                                         sa.select(*keys, sa.func.sum(rollups.c.n)).group_by(*keys)))
    month = sa.func.substr(days.c.day, sa.literal_column("1"), sa.literal_column("7"))   # one text in GROUP BY
    by_month = (days.c.unit_id, month, days.c.measure, days.c.code)
    op.execute(months.insert().from_select(["unit_id", "month", "measure", "code", "n"],
                                           sa.select(*by_month, sa.func.sum(days.c.n)).group_by(*by_month)))
    # Built after the backfill: one sort each instead of an index kept row by row.
    op.create_index("ix_rollup_days_day", "rollup_days", ["day"])
    op.create_index("ix_rollup_months_month", "rollup_months", ["month"])
    if op.get_bind().dialect.name == "postgresql":
        # Statistics now, not at autovacuum's next pass: the first reports after the upgrade are planned on them.
        op.execute("ANALYZE rollup_days, rollup_months")


def downgrade() -> None:
    raise RuntimeError("the centre's database is never downgraded: it holds the city's ratings")
