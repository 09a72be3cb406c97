"""The tables of the integrity analytics (centre/integrity): signals of dishonest behaviour around a device,
each with its evidence, and the office's review of it. On the centre's one MetaData (centre/db/tables.py
imports this module at its end). Times are fixed-width UTC ISO 8601 text, as in tables.py.

- integrity_flags: one per signal that fired for a subject (unit, counter, staff member or device) over a span
  of the unit's local days; found again by a later analysis, the same `fingerprint` keeps it one row.
- integrity_reviews: the office's decisions on a flag, append-only (dismissed with a reason, or confirmed; a
  confirmation may exclude the ratings the flag names, recorded in rating_exclusions with its flag_id).
"""
from __future__ import annotations

from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, String, Table, Text

from centre.db.tables import metadata

integrity_flags = Table(
    "integrity_flags", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("fingerprint", String(64), nullable=False, unique=True),   # kind, subject and span, hashed
    Column("kind", String(32), nullable=False),        # centre/integrity's SignalKind
    Column("unit_id", String, nullable=False),
    Column("counter_id", String),
    Column("staff_id", String),
    Column("device_id", String),
    Column("day_from", String(10), nullable=False),    # the unit's local days the signal covers
    Column("day_to", String(10), nullable=False),
    Column("figure", String(32), nullable=False),      # the test's statistic, as decimal text
    Column("threshold", String(32), nullable=False),   # what it was judged against
    Column("detail", JSON, nullable=False),            # the test, its parameters, its counts: what the office reads
    Column("evidence", JSON, nullable=False),          # the rating uuids and event ids behind it (bounded)
    Column("state", String(16), nullable=False),       # open, dismissed, confirmed
    Column("detected_at", String(32), nullable=False),
    Column("updated_at", String(32), nullable=False),
    Index("ix_integrity_flags_unit_state", "unit_id", "state"),
    Index("ix_integrity_flags_state_kind", "state", "kind"),
)

integrity_reviews = Table(
    "integrity_reviews", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("flag_id", Integer, ForeignKey("integrity_flags.id"), nullable=False),
    Column("decision", String(16), nullable=False),    # dismissed, confirmed
    Column("reason", Text, nullable=False),
    Column("excluded", Integer, nullable=False),       # ratings the decision excluded from scores (0: none)
    Column("decided_by", String(64), nullable=False),
    Column("decided_at", String(32), nullable=False),
    Index("ix_integrity_reviews_flag", "flag_id"),
)
