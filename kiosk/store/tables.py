"""The device store's tables.

Ratings, their bad-review reasons and events are append-only: SQLite
triggers (created by the migration) refuse a DELETE, and refuse an UPDATE of
anything but the sync columns, whichever program opens the file.

Call-back requests are the one table that is not: they hold a citizen's phone
number, which must be erased once the centre has it or after the retention
period (kiosk.store.callbacks). They refer to a rating and never change it.
"""
from __future__ import annotations

import enum

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

from contract import HASHED_FIELDS


class Channel(str, enum.Enum):
    TOUCH = "touch"
    PANEL = "panel"
    KEYBOARD = "keyboard"


class SyncState(str, enum.Enum):
    PENDING = "pending"
    SYNCED = "synced"
    REJECTED = "rejected"


class EventKind(str, enum.Enum):
    STARTED = "started"
    STOPPED = "stopped"
    SUPPRESSED = "suppressed"          # a press that did not count, and why
    SOLICITED = "solicited"            # a rating request opened (staff key, counter PC)
    UNRATED = "unrated"                # a request closed with no press: never a default rating
    REASONS_TIMEOUT = "reasons_timeout"
    STAFF_SIGN_IN = "staff_sign_in"
    STAFF_SIGN_OUT = "staff_sign_out"
    MODE_CHANGED = "mode_changed"
    CONFIG_CHANGED = "config_changed"
    PANEL_HELLO = "panel_hello"
    PANEL_CONNECTED = "panel_connected"
    PANEL_DISCONNECTED = "panel_disconnected"
    STORAGE_FAILED = "storage_failed"  # written once storage works again, with the time it failed
    STORAGE_RECOVERED = "storage_recovered"
    ACCESS_GRANTED = "access_granted"  # staff or technician signed in on the screen
    ACCESS_DENIED = "access_denied"    # a wrong PIN or password
    ACCESS_LOCKED = "access_locked"    # too many wrong tries: sign-in closed for a while
    TECHNICIAN_ACTION = "technician_action"  # what a technician did on the screen (detail.action)
    CALLBACK_REQUESTED = "callback_requested"  # a call-back number was stored, with consent (never the number)
    CALLBACK_DELIVERED = "callback_delivered"  # the centre holds it; the number is erased from the terminal
    CALLBACK_DROPPED = "callback_dropped"      # never reached the centre in time; erased unsent


# Plain Core tables, not ORM classes: the store speaks SQL expressions only, and the ORM's import
# alone was a sixth of the terminal's start-up. tests/kiosk/store/test_store.py compares them with the
# schema the migrations build.
metadata = MetaData()

ratings = Table(
    "ratings", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("uuid", String(36), nullable=False, unique=True),
    Column("device_id", String(40), nullable=False),
    Column("unit_id", String(40), nullable=False),
    Column("counter_id", String(40), nullable=False),
    Column("staff_id", String(40)),
    Column("case_no", String(40)),
    Column("item_code", String(64)),   # the service item (事项编码) of the C frame; migration 0005
    Column("level", Integer, nullable=False),
    Column("channel", String(16), nullable=False),
    Column("mode", String(16), nullable=False),
    Column("recorded_at", String(32), nullable=False, index=True),   # UTC ISO 8601, fixed width
    Column("mono_ns", BigInteger, nullable=False),
    Column("boot_id", String(36), nullable=False),
    Column("clock_suspect", Boolean, nullable=False),
    Column("app_version", String(20), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Column("sync_state", String(10), nullable=False, default=SyncState.PENDING.value, index=True),
    Column("sync_note", Text),
    CheckConstraint("level BETWEEN 1 AND 5", name="level_range"),
    Index("ix_ratings_sync_state_seq", "sync_state", "seq"),          # the outbox (migration 0003)
)

rating_reasons = Table(
    "rating_reasons", metadata,
    Column("id", Integer, primary_key=True),
    Column("rating_uuid", String(36), ForeignKey("ratings.uuid"), nullable=False, index=True),
    Column("code", String(32), nullable=False),
    Column("recorded_at", String(32), nullable=False),
    Column("sync_state", String(10), nullable=False, default=SyncState.PENDING.value, index=True),
    Index("ix_rating_reasons_sync_state_id", "sync_state", "id"),
)

events = Table(
    "events", metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(32), nullable=False, index=True),
    Column("recorded_at", String(32), nullable=False, index=True),
    Column("mono_ns", BigInteger, nullable=False),
    Column("boot_id", String(36), nullable=False),
    Column("detail", Text, nullable=False, default="{}"),              # canonical JSON
    Column("sync_state", String(10), nullable=False, default=SyncState.PENDING.value, index=True),
    # A day's unrated and suppressed counts seek here (migration 0002).
    Index("ix_events_kind_recorded_at", "kind", "recorded_at"),
    Index("ix_events_sync_state_id", "sync_state", "id"),
)

# The ratings columns the wire record carries and the hash chain covers: all but the sync columns.
WIRE_COLUMNS: tuple[str, ...] = (*HASHED_FIELDS, "hash")

# A phone number left for a call-back about a bad review (migration 0004); deleted, never updated.
callback_requests = Table(
    "callback_requests", metadata,
    Column("id", Integer, primary_key=True),
    Column("rating_uuid", String(36), ForeignKey("ratings.uuid"), nullable=False, index=True),
    Column("phone", String(16), nullable=False),
    Column("consent_version", String(16), nullable=False),             # fingerprint of the consent text ticked
    Column("created_at", String(32), nullable=False, index=True),
)

# Scratch space for the out-of-service probe (RatingStore.probe_writable): a few pages written and freed
# prove the disk takes writes again before ratings are accepted. Not append-only.
storage_probe = Table(
    "storage_probe", metadata,
    Column("id", Integer, primary_key=True),
    Column("payload", LargeBinary, nullable=False),
)
