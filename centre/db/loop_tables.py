"""The tables of the bad-review loop (centre/cases) and of its alerts (centre/alerts), on the centre's one
MetaData (centre/db/tables.py imports this module at its end, so `metadata` always holds them).

- cases: one per rating that needs handling (a bad review, a complaint, a call-back request), with its
  current state and deadlines for lists and figures. The truth of what happened is `case_events`.
- case_events: append-only; each step with who, in which role, and when. No row is updated or deleted.
- case_files: the evidence of a rectification or an appeal, type-checked and size-capped before it is kept.
- rating_exclusions: ratings an upheld appeal (or a confirmed integrity flag) took out of the scores. The
  rating itself is never touched: the exclusion is recorded beside it, and the rollups count it as excluded
  instead of at its level.
- calendar_days: the office's corrections to the working-day calendar (holidays, 调休 make-up days).
- unit_duty: who is on duty for a unit's alerts (a unit manager's e-mail address).
- alert_deliveries: the outbox of e-mails and webhook posts; a delivery is retried until it succeeds or its
  attempts run out, and the console shows what failed. Ingest only adds rows here, never waits on delivery.

Times are fixed-width UTC ISO 8601 text, as in tables.py.
"""
from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, ForeignKey, Index, Integer, LargeBinary, String, Table, Text

from centre.db.tables import metadata

cases = Table(
    "cases", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("rating_uuid", String(36), nullable=False, unique=True),   # one case per rating
    Column("unit_id", String, nullable=False),         # where the centre placed the rating (ratings.placed_*)
    Column("counter_id", String, nullable=False),
    Column("staff_id", String),
    Column("level", Integer, nullable=False),
    Column("opened_by", String(16), nullable=False),   # centre/cases/model.py's Origin: what opened it first
    Column("state", String(16), nullable=False),       # centre/cases/model.py's CaseState
    Column("rated_at", String(32), nullable=False),    # the rating's counted_at
    Column("opened_at", String(32), nullable=False),
    Column("contact_due_at", String(32)),              # NULL while the citizen has left no number
    Column("rectify_due_at", String(32), nullable=False),
    Column("contacted_at", String(32)),
    Column("rectified_at", String(32)),
    Column("closed_at", String(32)),
    Column("verdict", String(16)),                     # the citizen's: satisfied, basically, unsatisfied
    Column("appeal", String(16)),                      # NULL, pending, upheld, rejected
    Column("numbers_erased_at", String(32)),
    Index("ix_cases_unit_state", "unit_id", "state"),
    Index("ix_cases_state_rectify_due", "state", "rectify_due_at"),
    Index("ix_cases_opened_at", "opened_at"),
)

case_events = Table(
    "case_events", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", Integer, ForeignKey("cases.id"), nullable=False),
    Column("at", String(32), nullable=False),
    Column("actor", String(64)),                       # the console account; NULL for the centre itself
    Column("role", String(16)),                        # the actor's role then (centre/console/roles.py)
    Column("kind", String(24), nullable=False),        # centre/cases/model.py's EventKind
    Column("detail", JSON, nullable=False),            # never a phone number
    Index("ix_case_events_case", "case_id", "id"),
)

case_files = Table(
    "case_files", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", Integer, ForeignKey("cases.id"), nullable=False),
    Column("event_id", Integer, ForeignKey("case_events.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("media_type", String(64), nullable=False),  # as judged from the content, not as the upload claimed
    Column("size", Integer, nullable=False),           # bytes
    Column("sha256", String(64), nullable=False),
    Column("content", LargeBinary, nullable=False),
    Index("ix_case_files_case", "case_id"),
)

rating_exclusions = Table(
    "rating_exclusions", metadata,
    Column("rating_uuid", String(36), primary_key=True),
    # what decided it: an upheld appeal on the rating's case, or a confirmed integrity flag (centre/integrity)
    Column("case_id", Integer, ForeignKey("cases.id")),
    Column("flag_id", Integer),                        # integrity_flags.id (that table comes in 0012)
    Column("decided_at", String(32), nullable=False),
    Column("decided_by", String(64), nullable=False),
    Column("reason", Text, nullable=False),
)

calendar_days = Table(
    "calendar_days", metadata,
    Column("day", String(10), primary_key=True),       # YYYY-MM-DD
    Column("working", Boolean, nullable=False),        # a make-up working day (调休) or a working weekday: True
    Column("note", String(100), nullable=False),       # e.g. 春节, 国庆节调休
    Column("imported_at", String(32), nullable=False),
    Column("imported_by", String(64), nullable=False),
)

unit_duty = Table(
    "unit_duty", metadata,
    Column("unit_id", String, ForeignKey("units.id"), primary_key=True),
    Column("email", String(254), nullable=False),
    Column("name", String(64), nullable=False),
    Column("updated_at", String(32), nullable=False),
)

alert_deliveries = Table(
    "alert_deliveries", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),        # centre/alerts: bad_review, digest
    Column("channel", String(8), nullable=False),      # email, webhook
    Column("target", String(500), nullable=False),     # the address or the URL
    Column("case_id", Integer, ForeignKey("cases.id")),
    Column("unit_id", String),
    Column("payload", JSON, nullable=False),           # subject and text, or the webhook's JSON; no phone number
    Column("created_at", String(32), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", String(32)),             # NULL once delivered or given up
    Column("delivered_at", String(32)),
    Column("gave_up_at", String(32)),
    Column("last_error", Text),
    Index("ix_alert_deliveries_next", "next_attempt_at"),
)
