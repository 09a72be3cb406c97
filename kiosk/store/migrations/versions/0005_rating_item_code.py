"""A rating's service item (事项编码): the counter link's `C <case_no> [<staff_id> [<item_code>]]`.

One nullable column, `ratings.item_code`, added in place (ALTER TABLE ADD COLUMN: no row is copied
or rewritten, so every rating keeps its seq, hash and sync state). A rating without an item code holds
NULL there and hashes as it always did: contract.rating_hash covers item_code only when it holds a value
(contract.chain.OPTIONAL_HASHED), so the chain of a store migrated here still verifies.

The append-only guard is rebuilt, not loosened: ratings_no_update named the columns that existed when
migration 0001 made it, so it is made again over every column but the sync ones, item_code included;
ratings_no_delete does not name columns and stays as it is.

The previous release (schema 0004) can still read and write a store migrated here, and that is why
SCHEMA_COMPATIBLE_FROM stays "0004" (the file's user_version says so, and a rollback opens it as it is):

- it names its own columns in every statement: the INSERT of a rating lists its WIRE_COLUMNS, its reads
  are `select(ratings)` of its own Table (which lacks the column), and the outbox's json_object lists its
  columns too; nothing in kiosk/store reads `SELECT *`. The extra column is invisible to it;
- a rating it stores leaves item_code NULL, which hashes exactly as that release computes it;
- its only UPDATE (sync_state, sync_note) is one the rebuilt trigger allows, as the old one did.

The one thing it cannot do is check a rating that this release stored *with* an item code: it recomputes
the hash without the column, so its chain check reports such a rating as altered, and its uploader sends it
without the code, so the centre records a chain break there. A rollback is therefore clean for every rating
without an item code and flags those with one (none exist until a counter PC sends codes). That limit is
accepted rather than moving SCHEMA_COMPATIBLE_FROM, which would make the previous release refuse the store
outright and leave a terminal whose upgrade failed its health check with no release able to open it.

Revision ID: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_MUTABLE = ("sync_state", "sync_note")      # as in 0001: only the outbox status changes after insert


def upgrade() -> None:
    op.add_column("ratings", sa.Column("item_code", sa.String(64)))
    columns = [c["name"] for c in sa.inspect(op.get_bind()).get_columns("ratings") if c["name"] not in _MUTABLE]
    changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in columns)
    op.execute("DROP TRIGGER ratings_no_update")
    op.execute(f"CREATE TRIGGER ratings_no_update BEFORE UPDATE ON ratings WHEN {changed} "
               "BEGIN SELECT RAISE(ABORT, 'ratings are append-only: only the sync state may change'); END")


def downgrade() -> None:
    raise RuntimeError("the device store is never downgraded: ratings are append-only")
