"""What the centre added to the collector's release: where a rating counts, names in English, API tokens.

- ratings: `delivered_by` (the enrolled device that signed the batch), `placed_unit_id` and
  `placed_counter_id` (its placement from enrollment, what reports group by), `before_enrollment` and
  `placement_differs`. The released collector refused a rating whose device_id was not the signing
  device's and grouped its reports by the row's own unit, so a rating it took was delivered by the device
  it names and counts where it says: the backfill is device_id, unit_id, counter_id, false, false, before
  the columns become NOT NULL. The indexes follow the queries: (delivered_by, seq) for the chain check and
  (placed_unit_id, counted_at) for the reports replace (device_id, seq) and (unit_id, counted_at).
- enroll_codes and devices: `unit_name_en`, `counter_name_en` (NULL: the terminal shows the Chinese name).
- api_tokens: the read API's client tokens (centre/tokens.py); only a token's SHA-256 is kept.

SQLite cannot make a column NOT NULL in place: batch mode copies `ratings` into a new table there (rows,
primary keys and the uuid's UNIQUE kept); PostgreSQL alters it in place. Frozen history: add a revision.

Revision ID: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_PLACEMENT = (("delivered_by", "device_id"), ("placed_unit_id", "unit_id"), ("placed_counter_id", "counter_id"))
_FLAGS = ("before_enrollment", "placement_differs")


def upgrade() -> None:
    _ratings_provenance()
    for table in ("enroll_codes", "devices"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("unit_name_en", sa.String))
            batch.add_column(sa.Column("counter_name_en", sa.String))
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("scope_kind", sa.String(16), nullable=False),
        sa.Column("scope_ids", sa.JSON, nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("last_used_at", sa.String(32)),
        sa.Column("revoked_at", sa.String(32)),
    )


def _ratings_provenance() -> None:
    with op.batch_alter_table("ratings") as batch:
        for new, _ in _PLACEMENT:
            batch.add_column(sa.Column(new, sa.String, nullable=True))
        for flag in _FLAGS:
            batch.add_column(sa.Column(flag, sa.Boolean, nullable=True))
    ratings = sa.table("ratings", *(sa.column(name, sa.String) for pair in _PLACEMENT for name in pair),
                       *(sa.column(flag, sa.Boolean) for flag in _FLAGS))
    op.execute(ratings.update().values({**{ratings.c[new]: ratings.c[old] for new, old in _PLACEMENT},
                                        **{ratings.c[flag]: sa.false() for flag in _FLAGS}}))
    with op.batch_alter_table("ratings") as batch:
        for new, _ in _PLACEMENT:
            batch.alter_column(new, existing_type=sa.String, nullable=False)
        for flag in _FLAGS:
            batch.alter_column(flag, existing_type=sa.Boolean, nullable=False)
        batch.drop_index("ix_ratings_device_seq")
        batch.drop_index("ix_ratings_unit_counted")
        batch.create_index("ix_ratings_delivered_seq", ["delivered_by", "seq"])
        batch.create_index("ix_ratings_placed_unit_counted", ["placed_unit_id", "counted_at"])


def downgrade() -> None:
    raise RuntimeError("the centre's database is never downgraded: it holds the city's ratings")
