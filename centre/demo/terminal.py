"""A simulated terminal's store: what kiosk/store writes for a press, a reason and an event, kept in memory.

Each rating is appended to the device's hash chain exactly as the terminal's store does it (every field of
`contract.HASHED_FIELDS`, `contract.rating_hash`, seq from 1, `prev_hash` the previous hash), with a UUID
version 7 of the press time; reasons and events get the device's row ids. All times are the device's own
clock, which may be off (`clock_offset`): the centre corrects them. Random parts come from the seeded
generator, so the same seed writes the same rows. The centre may not import the terminal (.importlinter),
so this module is written against the contract alone.
"""
from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from contract import GENESIS_HASH, PROTOCOL_VERSION, canonical_json, iso_utc, rating_hash

APP_VERSION = "0.1.0"       # the terminal release the demo's devices say they run
BATCH_SIZE = 500            # the terminal's default sync.batch_size: rows of each kind in one batch
_MAX_MS = (1 << 48) - 1


class EventKind(str, Enum):
    """The terminal's event kinds the demo records (kiosk/store/tables.py's EventKind spells them all)."""

    SOLICITED = "solicited"              # a rating request opened (the staff's key, the counter PC)
    UNRATED = "unrated"                  # a request closed with no press: never a default rating
    SUPPRESSED = "suppressed"            # a press that did not count, and why
    REASONS_TIMEOUT = "reasons_timeout"  # the reason step closed untouched
    STAFF_SIGN_IN = "staff_sign_in"
    STAFF_SIGN_OUT = "staff_sign_out"
    ACCESS_GRANTED = "access_granted"        # a sign-in on the screen (detail.role: staff, technician)
    TECHNICIAN_ACTION = "technician_action"  # what a technician did on the screen (detail.action)
    PANEL_CONNECTED = "panel_connected"
    PANEL_DISCONNECTED = "panel_disconnected"


class Suppression(str, Enum):
    """Why a press did not count, as a `suppressed` event's `why` says it (kiosk/rating/session.py)."""

    COOLDOWN = "cooldown"            # open mode: too soon after the last rating
    NOT_REQUESTED = "not_requested"  # solicited mode: nobody asked for a rating
    ALREADY_RATED = "already_rated"  # this service has its one rating


class Source(str, Enum):
    """Where a request or a sign-in came from, as the events' `source` says it (kiosk/devices/panel_link.py)."""

    COUNTER = "counter"              # the counter PC: a service ended (case number, staff), staff in and out
    PANEL = "panel"                  # the staff's 请评价 key on the key panel


@dataclass(frozen=True)
class Identity:
    device_id: str
    unit_id: str
    counter_id: str


@dataclass
class Pending:
    ratings: list[dict[str, Any]] = field(default_factory=list)
    reasons: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)


class SimTerminal:
    def __init__(self, identity: Identity, mode: str, channel: str, clock_offset: timedelta,
                 rng: random.Random) -> None:
        self.identity = identity
        self.mode, self.channel, self.clock_offset = mode, channel, clock_offset
        self._rng = rng
        self._seq, self._last_hash = 0, GENESIS_HASH
        self._reason_id = self._event_id = 0
        self._boot_id, self._booted = "", datetime.min
        self._pending = Pending()

    def device_time(self, at: datetime) -> datetime:
        """What the device's clock says at the true time `at`."""
        return at + self.clock_offset

    def boot(self, at: datetime) -> None:
        """A start of the terminal: a new boot id, the monotonic clock from zero."""
        self._boot_id, self._booted = str(uuid.UUID(int=self._rng.getrandbits(128), version=4)), at

    def rate(self, at: datetime, level: int, staff_id: str | None, case_no: str | None,
             item_code: str | None = None) -> str:
        """Append a rating to the chain (kiosk/store/ratings.py's append_rating); its uuid. `item_code` is a
        member only when given, as the terminal's outbox sends it (and the hash covers it only then)."""
        self._seq += 1
        row: dict[str, Any] = {
            "uuid": self._uuid(at), "seq": self._seq, "device_id": self.identity.device_id,
            "unit_id": self.identity.unit_id, "counter_id": self.identity.counter_id, "staff_id": staff_id,
            "case_no": case_no, "level": level, "channel": self.channel, "mode": self.mode,
            "recorded_at": iso_utc(self.device_time(at)), "mono_ns": self._mono_ns(at), "boot_id": self._boot_id,
            # The terminal doubts its clock only when it reads before the release's build date: a clock a few
            # minutes off is not suspect to it, and the centre finds it by the batch's sent_at.
            "clock_suspect": False, "app_version": APP_VERSION, "prev_hash": self._last_hash,
        }
        if item_code is not None:
            row["item_code"] = item_code
        row["hash"] = self._last_hash = rating_hash(row)
        self._pending.ratings.append(row)
        return str(row["uuid"])

    def add_reasons(self, at: datetime, rating_uuid: str, codes: list[str]) -> None:
        for code in codes:
            self._reason_id += 1
            self._pending.reasons.append({"id": self._reason_id, "rating_uuid": rating_uuid, "code": code,
                                          "recorded_at": iso_utc(self.device_time(at))})

    def record(self, at: datetime, kind: EventKind, **detail: Any) -> None:
        self._event_id += 1
        self._pending.events.append({"id": self._event_id, "kind": kind.value,
                                     "recorded_at": iso_utc(self.device_time(at)), "mono_ns": self._mono_ns(at),
                                     "boot_id": self._boot_id, "detail": detail})

    def take_batches(self, at: datetime) -> list[bytes]:
        """The unsent rows as batches sent at the true time `at` (each the canonical JSON the sync client
        gzips and signs), oldest first, at most BATCH_SIZE rows of each kind in one; nothing stays pending."""
        pending, self._pending = self._outgoing(self._pending, at), Pending()
        sent_at = iso_utc(self.device_time(at))
        count = max(len(pending.ratings), len(pending.reasons), len(pending.events))
        return [canonical_json({"protocol": PROTOCOL_VERSION, "device_id": self.identity.device_id,
                                "sent_at": sent_at, "ratings": pending.ratings[start:start + BATCH_SIZE],
                                "reasons": pending.reasons[start:start + BATCH_SIZE],
                                "events": pending.events[start:start + BATCH_SIZE]})
                for start in range(0, count, BATCH_SIZE)]

    def _outgoing(self, pending: Pending, at: datetime) -> Pending:
        """The unsent rows that leave the store at the true time `at`: all of them (a tampered store, in
        centre/demo/tampered.py, keeps some back)."""
        return pending

    def _uuid(self, at: datetime) -> str:
        """UUID version 7 (kiosk/store/ids.py): the press's time by the device's clock, then random bits."""
        ms = min(max(int(self.device_time(at).timestamp() * 1000), 0), _MAX_MS)
        rand_a, rand_b = self._rng.getrandbits(12), self._rng.getrandbits(62)
        return str(uuid.UUID(int=(ms << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b))

    def _mono_ns(self, at: datetime) -> int:
        return (at - self._booted) // timedelta(microseconds=1) * 1000
