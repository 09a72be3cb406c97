"""Tampered devices: what a dishonest hand does to a terminal's store and clock.

`TamperedTerminal` is the simulated store (centre/demo/terminal.py) with its tampering: a clock set off for a
while and back before the next sync (the ratings in between carry the false time; the monotonic clock does
not move with it); ratings deleted from the store before they are sent (the chain's seqs skip: a gap); a
rating's level edited in place (its hash no longer recomputes: a break); the store's last ratings deleted
after they were sent (a cut tail: the device's heartbeat then gives a lower last seq than the centre holds);
bad presses swallowed, the citizen shown a receipt for a rating never stored. Every device of a city built
with `--manipulate` is one (untampered for honest units), so that each also keeps the look-ups of its
receipts that came before its rows reached the centre; they become `receipt_misses` rows as the citizen
pages write them (centre/public/receipt.py).

The batches are still signed and checked by the ingest's own functions (centre/demo/sender.py): the chain
check at ingest, and the heartbeat's last seq, are what see the damage.
"""
from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, insert

from centre.api.auth import check_signature
from centre.db.public_tables import receipt_misses
from centre.demo.sender import Device
from centre.demo.terminal import APP_VERSION, Pending, SimTerminal
from centre.enroll import record_heartbeat
from contract import Heartbeat, iso_utc, sign

HEARTBEAT_PATH = "/v1/heartbeat"
BAD_LEVELS = (1, 2)
EARLY_LOOKUP_SHARE = 0.002   # receipts looked up before their terminal's batch reached the centre
SWALLOWED_LOOKUP_SHARE = 0.6  # citizens shown a receipt for a swallowed rating who check it


@dataclass
class Tamper:
    """What is done to one device (nothing, for an honest one)."""

    zone: ZoneInfo
    jumps: dict[date, tuple[datetime, datetime, timedelta]] = field(default_factory=dict)
    deleted_days: frozenset[date] = frozenset()
    edited_days: frozenset[date] = frozenset()
    cut: int = 0                 # ratings deleted from the store's end after the last sync
    swallow_days: frozenset[date] = frozenset()


@dataclass(frozen=True)
class Lookup:
    """A receipt looked up while the centre did not hold its rating."""

    rating_uuid: str
    first_at: datetime
    last_at: datetime
    lookups: int
    found_at: datetime | None


class TamperedTerminal(SimTerminal):
    def __init__(self, *args: Any, tamper: Tamper, seed: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tamper = tamper
        self.lookups: list[Lookup] = []
        self.withheld = 0                       # ratings recorded (or shown) that never reach the centre
        self._own = random.Random(seed)         # never the station's stream: honest devices live as without it
        self._pressed_at: dict[str, datetime] = {}
        self._swallowed: set[str] = set()
        self._hashes: list[str] = []            # the chain's hashes by seq, kept only to cut its tail

    def device_time(self, at: datetime) -> datetime:
        if not self.tamper.jumps:
            return at + self.clock_offset
        jump = self.tamper.jumps.get(at.astimezone(self.tamper.zone).date())
        if jump is not None and jump[0] <= at < jump[1]:
            return at + self.clock_offset + jump[2]
        return at + self.clock_offset

    def rate(self, at: datetime, level: int, staff_id: str | None, case_no: str | None,
             item_code: str | None = None) -> str:
        if level in BAD_LEVELS and self._day(at) in self.tamper.swallow_days and self._own.random() < 0.7:
            uuid = self._uuid(at)           # the receipt the citizen is shown; the store keeps nothing
            self._swallowed.add(uuid)
            self.withheld += 1
            if self._own.random() < SWALLOWED_LOOKUP_SHARE:
                first = at + timedelta(hours=self._own.uniform(0.5, 30))
                again = self._own.random() < 0.4
                last = first + timedelta(hours=self._own.uniform(2, 72)) if again else first
                self.lookups.append(Lookup(uuid, first, last, 2 if again else 1, None))
            return uuid
        uuid = super().rate(at, level, staff_id, case_no, item_code)
        self._pressed_at[uuid] = at
        if self.tamper.cut:
            self._hashes.append(self._last_hash)
        return uuid

    def cut_tail(self) -> None:
        """Delete the store's last `tamper.cut` ratings (all sent already): its seq and last hash go back."""
        cut = min(self.tamper.cut, self._seq - 1)
        if cut <= 0:
            return
        self._seq -= cut
        self._last_hash = self._hashes[self._seq - 1]
        del self._hashes[self._seq:]

    def add_reasons(self, at: datetime, rating_uuid: str, codes: list[str]) -> None:
        if rating_uuid not in self._swallowed:
            super().add_reasons(at, rating_uuid, codes)

    def record(self, at: datetime, kind: Any, **detail: Any) -> None:
        if detail.get("rating_uuid") not in self._swallowed:
            super().record(at, kind, **detail)

    @property
    def last_seq(self) -> int:
        return self._seq

    @property
    def last_hash(self) -> str:
        return self._last_hash

    def _day(self, at: datetime) -> date:
        return at.astimezone(self.tamper.zone).date()

    def _outgoing(self, pending: Pending, at: datetime) -> Pending:
        dropped: set[str] = self._deleted(pending) if self.tamper.deleted_days else set()
        if self.tamper.edited_days:
            self._edit(pending)
        self._early_lookups(pending, dropped, at)
        self.withheld += len(dropped)
        for row in pending.ratings:
            del self._pressed_at[row["uuid"]]
        if not dropped:
            return pending
        return Pending([row for row in pending.ratings if row["uuid"] not in dropped],
                       [row for row in pending.reasons if row["rating_uuid"] not in dropped],
                       [row for row in pending.events if row["detail"].get("rating_uuid") not in dropped])

    def _deleted(self, pending: Pending) -> set[str]:
        """On each deletion day, a few of its ratings, the bad ones first."""
        found: set[str] = set()
        for day in sorted(self.tamper.deleted_days):
            rows = [row for row in pending.ratings if self._day(self._pressed_at[row["uuid"]]) == day]
            rows.sort(key=lambda row: (row["level"], row["seq"]))
            found.update(row["uuid"] for row in rows[:self._own.randint(2, 6)])
        return found

    def _edit(self, pending: Pending) -> None:
        """On each edit day, one or two ratings' level raised to the top in place: their hash is now wrong.
        Their reasons go too, as a clean edit would have it."""
        for day in sorted(self.tamper.edited_days):
            rows = sorted((row for row in pending.ratings
                           if self._day(self._pressed_at[row["uuid"]]) == day and row["level"] < 5),
                          key=lambda row: (row["level"], row["seq"]))
            for row in rows[:self._own.randint(1, 2)]:
                row["level"] = 5
                pending.reasons[:] = [reason for reason in pending.reasons if reason["rating_uuid"] != row["uuid"]]
                pending.events[:] = [event for event in pending.events
                                     if event["detail"].get("rating_uuid") != row["uuid"]]

    def _early_lookups(self, pending: Pending, dropped: set[str], sent: datetime) -> None:
        """Receipts of this batch's ratings looked up before it was sent: misses the centre finds later."""
        for row in pending.ratings:
            if row["uuid"] in dropped or self._own.random() >= EARLY_LOOKUP_SHARE:
                continue
            first = self._pressed_at[row["uuid"]] + timedelta(minutes=self._own.uniform(10, 360))
            if first < sent:
                self.lookups.append(Lookup(row["uuid"], first, first, 1, sent + timedelta(seconds=1)))


def heartbeat(engine: Engine, device: Device, terminal: TamperedTerminal, at: datetime, rng: random.Random) -> None:
    """The device's heartbeat at the true time `at`, signed and checked as the route does, then recorded: its
    last seq and hash are the store's own, whatever reached the centre."""
    beat = Heartbeat(device_id=device.device_id, sent_at=iso_utc(terminal.device_time(at)), app_version=APP_VERSION,
                     queue_depth=0, oldest_unsynced_at=None, last_seq=terminal.last_seq,
                     last_hash=terminal.last_hash, verify_ok=True)
    body = json.dumps(beat.model_dump(mode="json")).encode("utf-8")
    headers = {**sign(device.secret, "POST", HEARTBEAT_PATH, device.device_id, body,
                      now=terminal.device_time(at), nonce=f"{rng.getrandbits(128):032x}"),
               "Content-Type": "application/json"}
    received = at + timedelta(seconds=0.3)
    check_signature(engine, "POST", HEARTBEAT_PATH, headers, body, now=received)
    record_heartbeat(engine, device.device_id, beat.model_dump(mode="json"), seen=iso_utc(received))


def write_lookups(engine: Engine, device_id: str, lookups: list[Lookup]) -> None:
    """The device's receipt misses, as the citizen pages record them (first and last look-up, how many, and
    when the rating arrived, if it did)."""
    if not lookups:
        return
    with engine.begin() as conn:
        conn.execute(insert(receipt_misses), [
            {"rating_uuid": lookup.rating_uuid, "device_id": device_id, "first_at": iso_utc(lookup.first_at),
             "last_at": iso_utc(lookup.last_at), "lookups": lookup.lookups,
             "found_at": iso_utc(lookup.found_at) if lookup.found_at else None} for lookup in lookups])
