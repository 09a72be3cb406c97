"""The registry's staff roster: who works at each unit (工号, names, posts, PIN hash, photo).

- staff (unit_id, id, name, name_en, post, post_en, pin_hash, photo, added_at, left_at), primary key
  (unit_id, id); nothing is deleted: a member who left keeps a row with left_at, so the figures of past
  days still name them.
- Backfill, so an installed centre keeps its rosters: every member on a device of a unit (`devices.staff`,
  which `evaluator centre roster` wrote) becomes a member of that unit; where two devices of a unit disagree,
  the device enrolled last wins.

Frozen history: add a revision.

Revision ID: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staff",
        sa.Column("unit_id", sa.String, sa.ForeignKey("units.id"), nullable=False),
        sa.Column("id", sa.String, nullable=False),
        sa.Column("name", sa.String, nullable=False),
        sa.Column("name_en", sa.String),
        sa.Column("post", sa.String, nullable=False),
        sa.Column("post_en", sa.String),
        sa.Column("pin_hash", sa.String),
        sa.Column("photo", sa.Text),
        sa.Column("added_at", sa.String(32), nullable=False),
        sa.Column("left_at", sa.String(32)),
        sa.PrimaryKeyConstraint("unit_id", "id", name="pk_staff"),
    )
    # BACKFILL (the roster's owner writes it): devices.staff → staff, as the docstring says.


def downgrade() -> None:
    raise RuntimeError("the centre's database is never downgraded: it holds the city's ratings")
