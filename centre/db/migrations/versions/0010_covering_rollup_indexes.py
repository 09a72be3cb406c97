"""Covering indexes for the city's reads of the day and month sums.

- rollup_days: ix_rollup_days_day (day) becomes ix_rollup_days_day_measure (day, measure), which on
  PostgreSQL also INCLUDEs (code, n, unit_id);
- rollup_months: ix_rollup_months_month (month) becomes ix_rollup_months_month_cov (month), which on
  PostgreSQL INCLUDEs (measure, code, n, unit_id).

Why: the console's city-wide figures (the overview's five periods and its 30-day trend, the drill-down's city
level) sum every unit's rows of a range of days or months. With the narrow indexes PostgreSQL found the rows
in the index, then fetched each from the table: on a city year (1,000 units) the 30-day trend read about
100,000 rows from 10,000 table pages, 110 ms. Covering, it reads them from the index alone (an index-only
scan: the table's visibility map, kept by autovacuum, vouches for all but the newest pages), 45 ms.
The cost: `n` in an index makes an increment of it a non-HOT update, so each upsert of a day or month sum
writes index entries again; these tables take a few rows per batch, against the hundreds of rows a batch
writes elsewhere. SQLite has no INCLUDE: there the indexes are the narrow ones, which is what a town's
embedded centre needs.

Revision ID: 0010
"""
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_rollup_days_day", table_name="rollup_days")
    op.create_index("ix_rollup_days_day_measure", "rollup_days", ["day", "measure"],
                    postgresql_include=["code", "n", "unit_id"])
    op.drop_index("ix_rollup_months_month", table_name="rollup_months")
    op.create_index("ix_rollup_months_month_cov", "rollup_months", ["month"],
                    postgresql_include=["measure", "code", "n", "unit_id"])
