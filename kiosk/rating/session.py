"""The values of a rating session: its states, the outcomes of its inputs, and the view screens draw from.

Kept apart from `RatingService` because every screen, device and test reads
them while only the composition root builds a service.
"""
from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field

from kiosk.config import Mode
from kiosk.store import StoredRating


class State(enum.Enum):
    IDLE = "idle"                      # solicited mode: waiting for staff or the counter PC to ask
    AWAITING = "awaiting"              # a press counts (after any cooldown)
    REASONS = "reasons"                # a bad rating is stored; the citizen may say why
    CALLBACK = "callback"              # after the reasons: the citizen may leave a number for a call-back
    THANKS = "thanks"                  # the rating is stored and acknowledged
    OUT_OF_SERVICE = "out_of_service"  # storage failed: nothing is acknowledged


class PressOutcome(enum.Enum):
    COUNTED = "counted"
    SUPPRESSED = "suppressed"
    OUT_OF_SERVICE = "out_of_service"


class CallbackOutcome(enum.Enum):
    STORED = "stored"                  # committed (fsync) before the thanks
    NO_CONSENT = "no_consent"          # refused: nothing stored
    INVALID = "invalid"                # not a phone number: nothing stored
    NOT_OPEN = "not_open"              # the step had ended (timeout) before the submit
    OUT_OF_SERVICE = "out_of_service"  # storage failed: nothing acknowledged


class SuppressReason(str, enum.Enum):
    COOLDOWN = "cooldown"            # open mode: too soon after the last rating
    NOT_REQUESTED = "not_requested"  # solicited mode: nobody asked for a rating
    ALREADY_RATED = "already_rated"  # this service has its one rating


@dataclass(frozen=True)
class Request:
    """One solicited service (一次一评), open until its one press or its window closes."""

    case_no: str | None
    staff_id: str | None
    source: str
    item_code: str | None = None       # the service item (事项编码) the counter PC named with the case

    def credited(self, signed_in: str | None) -> str | None:
        """Who this service's rating (or its unrated) counts for: the case's staff, else whoever is signed in."""
        return self.staff_id or signed_in


@dataclass(frozen=True)
class View:
    """Everything a screen needs to draw the current moment; replaced, never mutated."""

    state: State
    mode: Mode
    accepting: bool                       # a press now would count
    staff_id: str | None = None
    request: Request | None = None
    rating: StoredRating | None = None    # the rating being thanked for / asked reasons of
    selected_reasons: frozenset[str] = field(default_factory=frozenset)
    error: str | None = None
    callback_left: bool = False           # thanks: this citizen left a number for a call-back


ViewListener = Callable[[View], None]
RatingListener = Callable[[StoredRating], None]
