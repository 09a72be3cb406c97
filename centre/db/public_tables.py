"""The tables of the citizen's side (centre/public): web questionnaires, complaints, the numbers citizens leave
online, receipts looked up and not found, the published daily digests, the rate limits shared by every
worker, and the centre's own signing keys. On the centre's one MetaData (centre/db/tables.py imports this
module at its end). Times are fixed-width UTC ISO 8601 text, as in tables.py.
"""
from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, Index, Integer, PrimaryKeyConstraint, String, Table, Text

from centre.db.tables import metadata

# The centre's secrets for what it signs itself (the questionnaire QR's tokens), made on first use; a rotation
# adds a row and keeps the old one for the tokens still valid. Never shown, never exported.
centre_keys = Table(
    "centre_keys", metadata,
    Column("id", String(32), primary_key=True),
    Column("purpose", String(32), nullable=False),     # questionnaire
    Column("secret", String(128), nullable=False),     # hex
    Column("created_at", String(32), nullable=False),
    Column("retired_at", String(32)),
)

# A rating given on the unit's online questionnaire (channel `web`): never a device's, so never in a device's
# chain; counted apart from the presses unless the city's config says otherwise (centre/public).
web_ratings = Table(
    "web_ratings", metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("uuid", String(36), nullable=False, unique=True),
    Column("unit_id", String, nullable=False),
    Column("counter_id", String),                      # NULL: the unit's questionnaire, no counter named
    Column("level", Integer, nullable=False),
    Column("reasons", JSON, nullable=False),           # reason codes
    Column("text", Text, nullable=False),              # ≤ 500 characters; "" for none
    Column("flag", String(32)),                        # spam, abuse, …: kept and shown flagged, never dropped
    Column("token_id", String(32), nullable=False),    # the QR token's id: one submission per token and form
    Column("form_id", String(32), nullable=False, unique=True),   # the form's one-time id: no double submission
    Column("submitted_at", String(32), nullable=False),
    Index("ix_web_ratings_unit_submitted", "unit_id", "submitted_at"),
)

# A complaint filed from the terminal's signed complaint link (contract/complaint.py): joined to its rating.
complaints = Table(
    "complaints", metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("rating_uuid", String(36), nullable=False, index=True),
    Column("device_id", String, nullable=False),
    Column("text", Text, nullable=False),
    Column("flag", String(32)),
    Column("form_id", String(32), nullable=False, unique=True),
    Column("submitted_at", String(32), nullable=False),
)

# Numbers citizens leave online for a call-back (questionnaire, complaint), with consent; kept apart like the
# terminals' `callbacks`, seen only by the caller role, erased on schedule (phone "" and erased_at set).
citizen_contacts = Table(
    "citizen_contacts", metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("rating_uuid", String(36), nullable=False, index=True),   # a web rating's or a device rating's uuid
    Column("source", String(16), nullable=False),      # questionnaire, complaint
    Column("phone", String(16), nullable=False),
    Column("consent_version", String(16), nullable=False),
    Column("given_at", String(32), nullable=False),
    Column("erased_at", String(32)),
)

# A receipt looked up for a rating the centre does not hold: the office's signal that a rating never arrived.
receipt_misses = Table(
    "receipt_misses", metadata,
    Column("rating_uuid", String(36), primary_key=True),
    Column("device_id", String, nullable=False),
    Column("first_at", String(32), nullable=False),
    Column("last_at", String(32), nullable=False),
    Column("lookups", Integer, nullable=False),
    Column("found_at", String(32)),                    # when the rating then arrived
)

# Each unit's published day: a Merkle root over the day's rating hashes (in seq order per device), with each
# device's last chain hash that day; published once, never changed (a correction would be a new row of its own).
public_digests = Table(
    "public_digests", metadata,
    Column("unit_id", String, nullable=False),
    Column("day", String(10), nullable=False),         # the unit's local day
    Column("root", String(64), nullable=False),
    Column("ratings", Integer, nullable=False),
    Column("device_tails", JSON, nullable=False),      # {device_id: last chain hash of the day}
    Column("published_at", String(32), nullable=False),
    Column("superseded", Boolean, nullable=False),     # a late rating made a newer digest of the same day
    PrimaryKeyConstraint("unit_id", "day", "published_at", name="pk_public_digests"),
)

# Rate limits shared by every worker: hits per key (an address's hash, a token) and time slot.
public_limits = Table(
    "public_limits", metadata,
    Column("key", String(100), nullable=False),
    Column("slot", String(20), nullable=False),        # the minute or hour it counts in, as text
    Column("hits", Integer, nullable=False),
    PrimaryKeyConstraint("key", "slot", name="pk_public_limits"),
)
