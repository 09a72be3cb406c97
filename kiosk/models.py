"""The device store's tables.

Ratings, their bad-review reasons and events are append-only: SQLite
triggers (created by the migration) refuse a DELETE, and refuse an UPDATE of
anything but the sync columns, whichever program opens the file.

Call-back requests are the one table that is not: they hold a citizen's phone
number, which must be erased once the centre has it or after the retention
period (kiosk.callback_queue). They refer to a rating and never change it.
"""
from __future__ import annotations

import enum

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


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


class Base(DeclarativeBase):
    pass


class Rating(Base):
    __tablename__ = "ratings"
    __table_args__ = (CheckConstraint("level BETWEEN 1 AND 5", name="level_range"),
                      Index("ix_ratings_sync_state_seq", "sync_state", "seq"))   # the outbox (migration 0003)

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    device_id: Mapped[str] = mapped_column(String(40))
    unit_id: Mapped[str] = mapped_column(String(40))
    counter_id: Mapped[str] = mapped_column(String(40))
    staff_id: Mapped[str | None] = mapped_column(String(40))
    case_no: Mapped[str | None] = mapped_column(String(40))
    level: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(16))
    mode: Mapped[str] = mapped_column(String(16))
    recorded_at: Mapped[str] = mapped_column(String(32), index=True)  # UTC ISO 8601, fixed width
    mono_ns: Mapped[int] = mapped_column(BigInteger)
    boot_id: Mapped[str] = mapped_column(String(36))
    clock_suspect: Mapped[bool] = mapped_column(Boolean)
    app_version: Mapped[str] = mapped_column(String(20))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    sync_state: Mapped[str] = mapped_column(String(10), default=SyncState.PENDING.value, index=True)
    sync_note: Mapped[str | None] = mapped_column(Text)


class RatingReason(Base):
    __tablename__ = "rating_reasons"
    __table_args__ = (Index("ix_rating_reasons_sync_state_id", "sync_state", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rating_uuid: Mapped[str] = mapped_column(ForeignKey("ratings.uuid"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    recorded_at: Mapped[str] = mapped_column(String(32))
    sync_state: Mapped[str] = mapped_column(String(10), default=SyncState.PENDING.value, index=True)


class Event(Base):
    __tablename__ = "events"
    # A day's unrated and suppressed counts seek here (migration 0002).
    __table_args__ = (Index("ix_events_kind_recorded_at", "kind", "recorded_at"),
                      Index("ix_events_sync_state_id", "sync_state", "id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    recorded_at: Mapped[str] = mapped_column(String(32), index=True)
    mono_ns: Mapped[int] = mapped_column(BigInteger)
    boot_id: Mapped[str] = mapped_column(String(36))
    detail: Mapped[str] = mapped_column(Text, default="{}")  # canonical JSON
    sync_state: Mapped[str] = mapped_column(String(10), default=SyncState.PENDING.value, index=True)


class CallbackRequest(Base):
    """A phone number left for a call-back about a bad review (migration 0004); deleted, never updated."""

    __tablename__ = "callback_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rating_uuid: Mapped[str] = mapped_column(ForeignKey("ratings.uuid"), index=True)
    phone: Mapped[str] = mapped_column(String(16))
    consent_version: Mapped[str] = mapped_column(String(16))   # fingerprint of the consent text ticked
    created_at: Mapped[str] = mapped_column(String(32), index=True)


ratings = Rating.__table__
rating_reasons = RatingReason.__table__
events = Event.__table__
callback_requests = CallbackRequest.__table__
