"""The report to the provincial 好差评 platform, and the service item a rating belongs to.

- ratings.item_code (the service item, 事项编码, from the counter link's C frame; None before it and where the
  counter sends none): added, nullable, so every row held stays as it was
- units.credit_code (the unit's 统一社会信用代码) and units.region_code (its 行政区划 code): added, nullable
- province_records (record_id, source, rating_uuid unique, device_id, event_id, unit_id, case_no, item_code,
  evaluated_at, state, rule, problem, fields, made_at, attempts, last_attempt_at, next_attempt_at,
  answered_at, answer_code, answer_text, answer)
- province_pushes (id, started_at, records, http_status, outcome, accepted, refused, error, duration_ms)
- province_progress (name, value)
- housekeeping_marks (name, value, updated_at): what the centre's background work has done (the integrity
  signals' last daily run)

Frozen history: add a revision.

Revision ID: 0013
"""
import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("ratings", sa.Column("item_code", sa.String(64)))
    op.add_column("units", sa.Column("credit_code", sa.String(18)))
    op.add_column("units", sa.Column("region_code", sa.String(12)))
    op.create_table(
        "province_records",
        sa.Column("record_id", sa.String(96), primary_key=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("rating_uuid", sa.String(36), unique=True),
        sa.Column("device_id", sa.String, nullable=False),
        sa.Column("event_id", sa.BigInteger),
        sa.Column("unit_id", sa.String, nullable=False),
        sa.Column("case_no", sa.String(40)),
        sa.Column("item_code", sa.String(64)),
        sa.Column("evaluated_at", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("rule", sa.String(32)),
        sa.Column("problem", sa.Text),
        sa.Column("fields", sa.JSON, nullable=False),
        sa.Column("made_at", sa.String(32), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_attempt_at", sa.String(32)),
        sa.Column("next_attempt_at", sa.String(32)),
        sa.Column("answered_at", sa.String(32)),
        sa.Column("answer_code", sa.String(32)),
        sa.Column("answer_text", sa.Text),
        sa.Column("answer", sa.JSON),
    )
    op.create_index("ix_province_records_state_due", "province_records", ["state", "next_attempt_at"])
    op.create_index("ix_province_records_unit_state", "province_records", ["unit_id", "state"])
    op.create_index("ix_province_records_evaluated", "province_records", ["evaluated_at"])
    op.create_index("ix_province_records_case", "province_records", ["case_no"])
    op.create_table(
        "province_pushes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("started_at", sa.String(32), nullable=False),
        sa.Column("records", sa.Integer, nullable=False),
        sa.Column("http_status", sa.Integer),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("accepted", sa.Integer, nullable=False),
        sa.Column("refused", sa.Integer, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("duration_ms", sa.Integer, nullable=False),
    )
    op.create_index("ix_province_pushes_started", "province_pushes", ["started_at"])
    op.create_table(
        "province_progress",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.String, nullable=False),
    )
    op.create_table(
        "housekeeping_marks",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.String, nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
    )
