"""The bad-review loop and its alerts: cases, their events and files, exclusions, the office's calendar
corrections, units' duty contacts and the alerts' outbox.

- cases (id, rating_uuid unique, unit_id, counter_id, staff_id, level, opened_by, state, rated_at, opened_at,
  contact_due_at, rectify_due_at, contacted_at, rectified_at, closed_at, verdict, appeal, numbers_erased_at)
- case_events (id, case_id, at, actor, role, kind, detail), append-only
- case_files (id, case_id, event_id, name, media_type, size, sha256, content)
- rating_exclusions (rating_uuid, case_id, flag_id, decided_at, decided_by, reason): one of case_id, flag_id
- calendar_days (day, working, note, imported_at, imported_by)
- unit_duty (unit_id, email, name, updated_at)
- alert_deliveries (id, kind, channel, target, case_id, unit_id, payload, created_at, attempts,
  next_attempt_at, delivered_at, gave_up_at, last_error)

All new and empty. Bad reviews already held are not turned into cases here: a case's deadlines run from
when the centre learns of the review, and a city's past year of them would all open overdue at once.
Frozen history: add a revision.

Revision ID: 0009
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    _cases()
    op.create_table(
        "rating_exclusions",
        sa.Column("rating_uuid", sa.String(36), primary_key=True),
        sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id")),
        sa.Column("flag_id", sa.Integer),
        sa.Column("decided_at", sa.String(32), nullable=False),
        sa.Column("decided_by", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
    )
    op.create_table(
        "calendar_days",
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("working", sa.Boolean, nullable=False),
        sa.Column("note", sa.String(100), nullable=False),
        sa.Column("imported_at", sa.String(32), nullable=False),
        sa.Column("imported_by", sa.String(64), nullable=False),
    )
    op.create_table(
        "unit_duty",
        sa.Column("unit_id", sa.String, sa.ForeignKey("units.id"), primary_key=True),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "alert_deliveries",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("target", sa.String(500), nullable=False),
        sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id")),
        sa.Column("unit_id", sa.String),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.String(32)),
        sa.Column("delivered_at", sa.String(32)),
        sa.Column("gave_up_at", sa.String(32)),
        sa.Column("last_error", sa.Text),
    )
    op.create_index("ix_alert_deliveries_next", "alert_deliveries", ["next_attempt_at"])


def _cases() -> None:
    op.create_table(
        "cases",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("rating_uuid", sa.String(36), nullable=False, unique=True),
        sa.Column("unit_id", sa.String, nullable=False),
        sa.Column("counter_id", sa.String, nullable=False),
        sa.Column("staff_id", sa.String),
        sa.Column("level", sa.Integer, nullable=False),
        sa.Column("opened_by", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("rated_at", sa.String(32), nullable=False),
        sa.Column("opened_at", sa.String(32), nullable=False),
        sa.Column("contact_due_at", sa.String(32)),
        sa.Column("rectify_due_at", sa.String(32), nullable=False),
        sa.Column("contacted_at", sa.String(32)),
        sa.Column("rectified_at", sa.String(32)),
        sa.Column("closed_at", sa.String(32)),
        sa.Column("verdict", sa.String(16)),
        sa.Column("appeal", sa.String(16)),
        sa.Column("numbers_erased_at", sa.String(32)),
    )
    op.create_index("ix_cases_unit_state", "cases", ["unit_id", "state"])
    op.create_index("ix_cases_state_rectify_due", "cases", ["state", "rectify_due_at"])
    op.create_index("ix_cases_opened_at", "cases", ["opened_at"])
    op.create_table(
        "case_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("at", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(64)),
        sa.Column("role", sa.String(16)),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("detail", sa.JSON, nullable=False),
    )
    op.create_index("ix_case_events_case", "case_events", ["case_id", "id"])
    op.create_table(
        "case_files",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("event_id", sa.Integer, sa.ForeignKey("case_events.id"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("media_type", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("content", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_case_files_case", "case_files", ["case_id"])
