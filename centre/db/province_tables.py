"""The tables of the report to the provincial 好差评 platform (centre/province), on the centre's one MetaData
(centre/db/tables.py imports this module at its end). Times are fixed-width UTC ISO 8601 text, as in tables.py.

- province_records: one per rating (or unrated request) the centre has mapped to the province's record, keyed
  by a record id that never changes, so an upload is idempotent and an accepted record is never sent again.
  Its state says where it stands: pending (valid, to be sent), accepted or refused (the province's answer,
  kept as it came), invalid (refused by the centre's own check before upload: never sent), skipped (the
  mapping says not to report it, e.g. an unrated request or a case's second rating). The rating itself is
  never touched: the record is made beside it.
- province_pushes: each upload attempt (a batch of records), with its outcome: what the console and the
  operator read when the province's platform is down or refusing.
- province_progress: small named values the worker keeps (how far the ratings have been mapped).
"""
from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, Index, Integer, String, Table, Text

from centre.db.tables import metadata

province_records = Table(
    "province_records", metadata,
    Column("record_id", String(96), primary_key=True),   # "rating:<uuid>", "unrated:<device>:<event id>"
    Column("source", String(16), nullable=False),        # rating, unrated
    Column("rating_uuid", String(36), unique=True),      # the rating it maps (None for an unrated request)
    Column("device_id", String, nullable=False),
    Column("event_id", BigInteger),                      # the unrated request's event (None for a rating)
    Column("unit_id", String, nullable=False),
    Column("case_no", String(40)),
    Column("item_code", String(64)),
    Column("evaluated_at", String(32), nullable=False),  # the rating's counted_at (the request's, if unrated)
    Column("state", String(16), nullable=False),         # centre/province's RecordState
    Column("rule", String(32)),                          # the check rule that made it invalid or skipped
    Column("problem", Text),                             # that rule's words for this record
    Column("fields", JSON, nullable=False),              # the record as the mapping makes it: what is sent
    Column("made_at", String(32), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_attempt_at", String(32)),
    Column("next_attempt_at", String(32)),               # None: due now (pending) or never again (ended)
    Column("answered_at", String(32)),
    Column("answer_code", String(32)),                   # the province's code for this record
    Column("answer_text", Text),                         # its words (a refusal's reason)
    Column("answer", JSON),                              # its whole per-record answer, as it came
    Index("ix_province_records_state_due", "state", "next_attempt_at"),
    Index("ix_province_records_unit_state", "unit_id", "state"),
    Index("ix_province_records_evaluated", "evaluated_at"),
    Index("ix_province_records_case", "case_no"),
)

province_pushes = Table(
    "province_pushes", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("started_at", String(32), nullable=False),
    Column("records", Integer, nullable=False),
    Column("http_status", Integer),                      # None: no answer (timeout, connection refused)
    Column("outcome", String(16), nullable=False),       # answered, failed
    Column("accepted", Integer, nullable=False, default=0),
    Column("refused", Integer, nullable=False, default=0),
    Column("error", Text),
    Column("duration_ms", Integer, nullable=False),
    Index("ix_province_pushes_started", "started_at"),
)

province_progress = Table(
    "province_progress", metadata,
    Column("name", String(64), primary_key=True),
    Column("value", String, nullable=False),
)
