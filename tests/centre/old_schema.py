"""The collector's tables as last released before migrations (sync/collector/db.py at commit f6b554c), frozen.

History, not product: the migration tests build a database of that release with these definitions, fill it
and migrate it. Never edit them to follow today's tables (centre/db/tables.py).
"""
from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
)

metadata = MetaData()

enroll_codes = Table(
    "enroll_codes", metadata,
    Column("code", String(64), primary_key=True),
    Column("unit_id", String, nullable=False),
    Column("unit_name", String, nullable=False),
    Column("unit_timezone", String, nullable=False),
    Column("counter_id", String, nullable=False),
    Column("counter_name", String, nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("expires_at", String(32), nullable=False),
    Column("used_at", String(32)),
    Column("device_id", String),
)

devices = Table(
    "devices", metadata,
    Column("id", String, primary_key=True),
    Column("secret", String, nullable=False),
    Column("unit_id", String, nullable=False, index=True),
    Column("unit_name", String, nullable=False),
    Column("unit_timezone", String, nullable=False),
    Column("counter_id", String, nullable=False),
    Column("counter_name", String, nullable=False),
    Column("staff", JSON, nullable=False, default=list),
    Column("app_version", String),
    Column("enrolled_at", String(32), nullable=False),
    Column("revoked_at", String(32)),
    Column("last_heartbeat", JSON),
    Column("last_seen", String(32)),
)

ratings = Table(
    "ratings", metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    # every field of sync.protocol.RatingRecord, exactly as sent
    Column("uuid", String(36), nullable=False, unique=True),
    Column("seq", BigInteger, nullable=False),
    Column("device_id", String, nullable=False),
    Column("unit_id", String, nullable=False),
    Column("counter_id", String, nullable=False),
    Column("staff_id", String),
    Column("case_no", String(40)),
    Column("level", Integer, nullable=False),
    Column("channel", String, nullable=False),
    Column("mode", String, nullable=False),
    Column("recorded_at", String, nullable=False),
    Column("mono_ns", BigInteger, nullable=False),
    Column("boot_id", String, nullable=False),
    Column("clock_suspect", Boolean, nullable=False),
    Column("app_version", String, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    # the centre's own view
    Column("received_at", String(32), nullable=False),
    Column("sent_at", String, nullable=False),
    Column("corrected_at", String(32)),
    Column("counted_at", String(32), nullable=False),   # corrected_at or recorded_at, in UTC: what reports use
    Column("clock_corrected", Boolean, nullable=False, default=False),
    Column("conflict", Boolean, nullable=False, default=False),
    Index("ix_ratings_device_seq", "device_id", "seq"),
    Index("ix_ratings_unit_counted", "unit_id", "counted_at"),
)

reasons = Table(
    "reasons", metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("device_id", String, ForeignKey("devices.id"), nullable=False),
    Column("id", BigInteger, nullable=False),          # the device's row id
    Column("rating_uuid", String, nullable=False, index=True),
    Column("code", String, nullable=False),
    Column("recorded_at", String, nullable=False),
    Column("received_at", String(32), nullable=False),
    UniqueConstraint("device_id", "id", name="uq_reasons_device_row"),
)

events = Table(
    "events", metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("device_id", String, ForeignKey("devices.id"), nullable=False),
    Column("id", BigInteger, nullable=False),          # the device's row id
    Column("kind", String, nullable=False),
    Column("recorded_at", String, nullable=False),
    Column("mono_ns", BigInteger, nullable=False),
    Column("boot_id", String, nullable=False),
    Column("detail", JSON, nullable=False),
    Column("received_at", String(32), nullable=False),
    Column("counted_at", String(32), nullable=False),   # recorded_at corrected by the batch's clock skew
    UniqueConstraint("device_id", "id", name="uq_events_device_row"),
    Index("ix_events_device_kind_counted", "device_id", "kind", "counted_at"),
)

# Call-back requests: a citizen's phone number, left with consent after a bad review. Kept apart
# from the ratings (the city may restrict and expire this table on its own) and joined by rating_uuid.
callbacks = Table(
    "callbacks", metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("device_id", String, ForeignKey("devices.id"), nullable=False),
    Column("id", BigInteger, nullable=False),          # the device's row id
    Column("rating_uuid", String(36), nullable=False, index=True),
    Column("phone", String(16), nullable=False),
    Column("consent_version", String(16), nullable=False),
    Column("requested_at", String, nullable=False),
    Column("received_at", String(32), nullable=False),
    UniqueConstraint("device_id", "id", name="uq_callbacks_device_row"),
)

nonces = Table(
    "nonces", metadata,
    Column("device_id", String, nullable=False),
    Column("nonce", String(64), nullable=False),
    Column("seen_at", BigInteger, nullable=False, index=True),   # Unix seconds, server clock
    UniqueConstraint("device_id", "nonce", name="uq_nonces_device_nonce"),
)

conflicts = Table(
    "conflicts", metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("device_id", String, nullable=False, index=True),   # the device that sent the conflicting copy
    Column("rating_uuid", String(36), nullable=False, index=True),
    Column("received_at", String(32), nullable=False),
    Column("sent", JSON, nullable=False),
    Column("held", JSON, nullable=False),
)
