"""The alerts' small vocabulary: what an outbox row is for and how it goes."""
from __future__ import annotations

from enum import StrEnum


class AlertKind(StrEnum):
    """alert_deliveries.kind."""

    # At once, to the unit's duty manager: a case that needs the unit (its kind is the case's Origin's value).
    BAD_REVIEW = "bad_review"   # a bad review opened a case
    COMPLAINT = "complaint"     # a citizen's complaint opened a case, or joined the rating's open case
    CALLBACK = "callback"       # a call-back request opened a case, or started an open case's contact deadline
    DIGEST = "digest"           # the day's cases near or past their deadlines


class Channel(StrEnum):
    """alert_deliveries.channel."""

    EMAIL = "email"
    WEBHOOK = "webhook"


class DeliveryState(StrEnum):
    """Where a row stands, read from its times (the table keeps no state column)."""

    PENDING = "pending"         # not tried yet
    RETRYING = "retrying"       # failed at least once, will be tried again
    DELIVERED = "delivered"
    GAVE_UP = "gave_up"         # its attempts ran out
