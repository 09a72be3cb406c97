"""The console's tables: accounts, server-side sessions, the audit log, and the model-unit round.

- console_users (id, name, role, scope_id, password_hash, failed_logins, locked_until, disabled, created_at)
- console_sessions (token_hash, user_id, csrf, created_at, expires_at, ended_at)
- audit_log (id, at, actor, role, action, target, detail, address), append-only
- model_rounds (year, target, titles, confirmed_by, confirmed_at), model_applications (year, unit_id, …),
  model_checks (id, year, unit_id, method, result, notes, checked_by, checked_at) and model_titles (year,
  unit_id, awarded_by, awarded_at, withdrawn_in, withdrawn_by, withdrawn_at, withdrawal_reason)

All new and empty: nothing to carry over. Frozen history: add a revision.

Revision ID: 0007
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_users",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("scope_id", sa.String),
        sa.Column("password_hash", sa.String, nullable=False),
        sa.Column("failed_logins", sa.Integer, nullable=False),
        sa.Column("locked_until", sa.String(32)),
        sa.Column("disabled", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "console_sessions",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("console_users.id"), nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("expires_at", sa.String(32), nullable=False),
        sa.Column("ended_at", sa.String(32)),
    )
    op.create_index("ix_console_sessions_user", "console_sessions", ["user_id"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("at", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(64)),
        sa.Column("role", sa.String(16)),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("target", sa.String, nullable=False),
        sa.Column("detail", sa.JSON, nullable=False),
        sa.Column("address", sa.String(64)),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_table(
        "model_rounds",
        sa.Column("year", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("target", sa.String(8), nullable=False),
        sa.Column("titles", sa.Integer, nullable=False),
        sa.Column("confirmed_by", sa.String(64)),
        sa.Column("confirmed_at", sa.String(32)),
    )
    op.create_table(
        "model_applications",
        sa.Column("year", sa.Integer, sa.ForeignKey("model_rounds.year"), nullable=False),
        sa.Column("unit_id", sa.String, sa.ForeignKey("units.id"), nullable=False),
        sa.Column("applied_at", sa.String(32), nullable=False),
        sa.Column("applied_by", sa.String(64), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("year", "unit_id", name="pk_model_applications"),
    )
    op.create_table(
        "model_checks",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("year", sa.Integer, sa.ForeignKey("model_rounds.year"), nullable=False),
        sa.Column("unit_id", sa.String, sa.ForeignKey("units.id"), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("result", sa.String(16), nullable=False),
        sa.Column("notes", sa.Text, nullable=False),
        sa.Column("checked_by", sa.String(64), nullable=False),
        sa.Column("checked_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "model_titles",
        sa.Column("year", sa.Integer, sa.ForeignKey("model_rounds.year"), nullable=False),
        sa.Column("unit_id", sa.String, sa.ForeignKey("units.id"), nullable=False),
        sa.Column("awarded_by", sa.String(64), nullable=False),
        sa.Column("awarded_at", sa.String(32), nullable=False),
        sa.Column("withdrawn_in", sa.Integer),
        sa.Column("withdrawn_by", sa.String(64)),
        sa.Column("withdrawn_at", sa.String(32)),
        sa.Column("withdrawal_reason", sa.Text),
        sa.PrimaryKeyConstraint("year", "unit_id", name="pk_model_titles"),
    )


def downgrade() -> None:
    raise RuntimeError("the centre's database is never downgraded: it holds the city's ratings")
