"""Who may leave the citizen's screens: staff by 工号 + PIN, technicians by password.

Secrets are kept only as salted scrypt hashes, in `access.yaml` beside the
device key in `sync.state_dir` (0600), never in config.yaml. Too many wrong
tries lock sign-in for a while; every grant, refusal and lock is an event,
and a restart picks the count and the lock up from those events: pulling
the plug does not buy a fresh set of tries.
No Kivy here: the sign-in screen only relays what is typed.
"""
from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from contract import check_secret, hash_secret
from kiosk.config import Settings
from kiosk.files import write_private
from kiosk.store import RatingStore, StorageError
from kiosk.store.tables import EventKind

log = logging.getLogger(__name__)

ACCESS_FILE = "access.yaml"
MIN_SECRET = 4           # digits; the screen's keypad types nothing else


class Role(str, enum.Enum):
    STAFF = "staff"
    TECHNICIAN = "technician"


class Outcome(str, enum.Enum):
    GRANTED = "granted"
    WRONG = "wrong"          # unknown id or wrong secret: the screen does not say which
    LOCKED = "locked"
    # No PIN (or technician password) was ever set for whoever was chosen: nothing to guess, so no try is spent.
    NOT_SET = "not_set"


@dataclass(frozen=True)
class Attempt:
    outcome: Outcome
    role: Role | None = None
    user_id: str | None = None
    locked_for_s: float = 0.0
    tries_left: int = 0


class AccessFile:
    """access.yaml: {staff: {工号: hash}, technician: hash, centre_staff: {工号: hash}}.

    `staff` and `technician` are set on this terminal (`evaluator set-pin`); `centre_staff`
    comes with the centre's roster and is replaced whole on every config pull. A PIN set
    on the terminal wins over the centre's for the same 工号.
    """

    def __init__(self, state_dir: Path):
        self.path = state_dir / ACCESS_FILE

    def load(self) -> dict[str, Any]:
        try:
            data = yaml.safe_load(self.path.read_text(encoding="utf-8")) or {}
        except FileNotFoundError:
            return {}
        return data if isinstance(data, dict) else {}

    def set_staff_pin(self, staff_id: str, pin: str) -> None:
        data = self.load()
        data.setdefault("staff", {})[staff_id] = hash_secret(pin)
        self._save(data)

    def set_technician_password(self, password: str) -> None:
        data = self.load()
        data["technician"] = hash_secret(password)
        self._save(data)

    def set_centre_pins(self, hashes: dict[str, str]) -> None:
        data = self.load()
        if data.get("centre_staff") != hashes:
            data["centre_staff"] = hashes
            self._save(data)

    def staff_hash(self, data: dict[str, Any], staff_id: str | None) -> str | None:
        for source in ("staff", "centre_staff"):
            found = (data.get(source) or {}).get(staff_id)
            if isinstance(found, str):
                return found
        return None

    def _save(self, data: dict[str, Any]) -> None:
        write_private(self.path, yaml.safe_dump(data, sort_keys=True).encode("utf-8"))


class AccessControl:
    """Checks sign-ins and keeps the lockout; thread-safe, time from `monotonic`."""

    def __init__(self, settings: Settings, store: RatingStore | None, access: AccessFile,
                 monotonic: Callable[[], float] = time.monotonic):
        self._settings = settings.access
        self._roster = {member.id for member in settings.staff}
        self._store = store
        self._access = access
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._failures = 0
        self._locked_until = float("-inf")
        self._restore()

    def _restore(self) -> None:
        """Wrong tries since the last grant or lock, and a lock still running, from the recorded events.
        Its remaining time comes from the wall clock (the only clock that spans a restart), capped at
        the configured lockout so that a clock set back cannot lock sign-in for longer."""
        if self._store is None:
            return
        kinds = (EventKind.ACCESS_GRANTED, EventKind.ACCESS_DENIED, EventKind.ACCESS_LOCKED)
        try:
            latest = self._store.latest_events(kinds, self._settings.max_tries)
            now = self._store.now()
        except StorageError as exc:
            log.warning("sign-in starts with no lockout history: %s", exc)
            return
        for event in latest:
            if event["kind"] == EventKind.ACCESS_DENIED.value:
                self._failures += 1
                continue
            if event["kind"] == EventKind.ACCESS_LOCKED.value:
                ends = datetime.fromisoformat(event["recorded_at"]).timestamp() + float(event["detail"]["seconds"])
                left = min(ends - now.timestamp(), self._settings.lockout_s)
                if left > 0:
                    self._locked_until = self._monotonic() + left
                    log.info("sign-in locked for another %.0f s (locked before the restart)", left)
            break
        # A full count with no lock after it: the lock's own event was lost (disk full at that moment).
        self._failures = min(self._failures, self._settings.max_tries - 1)

    def locked_for(self) -> float:
        """Seconds until sign-in opens again; 0 when open."""
        return max(0.0, self._locked_until - self._monotonic())

    def sign_in(self, role: Role, user_id: str | None, secret: str) -> Attempt:
        with self._lock:
            if self.locked_for() > 0:
                return Attempt(Outcome.LOCKED, locked_for_s=self.locked_for())
            on_roster = role is Role.TECHNICIAN or user_id in self._roster
            stored = self._stored_secret(role, user_id) if on_roster else None
            if on_roster and stored is None:
                log.info("sign-in as %s %s: no secret set (evaluator set-pin)", role.value, user_id or "")
                return Attempt(Outcome.NOT_SET, role=role, user_id=user_id)
            if self._matches(stored, secret):
                self._failures = 0
                self._record(EventKind.ACCESS_GRANTED, role=role.value, user_id=user_id)
                return Attempt(Outcome.GRANTED, role=role, user_id=user_id)
            self._failures += 1
            self._record(EventKind.ACCESS_DENIED, role=role.value, user_id=user_id, tries=self._failures)
            if self._failures >= self._settings.max_tries:
                self._failures = 0
                self._locked_until = self._monotonic() + self._settings.lockout_s
                self._record(EventKind.ACCESS_LOCKED, seconds=self._settings.lockout_s)
                return Attempt(Outcome.LOCKED, locked_for_s=self._settings.lockout_s)
            return Attempt(Outcome.WRONG, tries_left=self._settings.max_tries - self._failures)

    def _stored_secret(self, role: Role, user_id: str | None) -> str | None:
        """The hash set for the technician or for a staff member (called only for one on this counter's roster:
        a PIN left behind for someone who moved on opens nothing)."""
        data = self._access.load()
        stored = data.get("technician") if role is Role.TECHNICIAN else self._access.staff_hash(data, user_id)
        return stored if isinstance(stored, str) else None

    @staticmethod
    def _matches(stored: str | None, secret: str) -> bool:
        if stored is None:
            check_secret(secret, hash_secret("-"))   # same time whether or not the id exists
            return False
        return check_secret(secret, stored)

    def _record(self, kind: EventKind, **detail: object) -> None:
        if self._store is None:
            return
        try:
            self._store.record_event(kind, **detail)
        except StorageError:
            pass    # the out-of-service screen already tells; sign-in still works for the technician
