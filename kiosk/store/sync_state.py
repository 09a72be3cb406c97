"""What the terminal keeps of its sync beside the outbox: the outcome of the attempts, and the anchor.

Two small files in `sync.state_dir`, each replaced atomically (kiosk.files.write_private: write, fsync,
rename) under one lock, since the worker, `evaluator sync --once` and the technician's upload button may
run at once in different processes:

- `sync-status.json`: the last attempt, the last success (kept across failures) and the last error
  (cleared by a success), and the clock offset the heartbeat measured. `record_attempt` is the one
  writer, whichever path synced; `evaluator status`, the technician screen and the heartbeat read it.
- `anchor.json`: the highest seq the centre has acknowledged, with its hash. It is only ever raised.
  It lives in a file, not a table, so that what cuts or replaces the rating store (`sqlite3` as root,
  an older copy of the database file put back) leaves it alone; being outside the store's transaction
  costs nothing, since it is written after the marks commit and can at worst lag behind them, which
  makes it less strict, never wrong. `verify` holds the store against it: ratings the centre holds
  cannot vanish from the device unseen. Root who also rewrites this file is out of its reach: there the
  centre's own chain check (a missing tail) and the citizen's receipt (DESIGN.md) are the answer.
"""
from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from contract import canonical_json, iso_utc
from kiosk.files import write_private
from kiosk.store.outbox import Outbox
from kiosk.store.ratings import RatingStore
from kiosk.store.tables import ratings
from kiosk.store.verify import VerifyResult

SYNC_STATUS_FILE = "sync-status.json"
CREDENTIALS_FILE = "device.json"        # the device key, written by provisioning (sync.client.Credentials)
ANCHOR_FILE = "anchor.json"
_LOCK_FILE = ".sync-state.lock"


@contextmanager
def _locked(state_dir: Path) -> Iterator[None]:
    """One writer of the state files at a time, across processes (a read-modify-write must not interleave)."""
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(state_dir / _LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _read_json(path: Path) -> dict[str, Any]:
    """The file's object; {} when it is missing or unreadable (a file from another release, say)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def read_sync_status(state_dir: Path) -> dict[str, Any]:
    return _read_json(state_dir / SYNC_STATUS_FILE)


def record_attempt(state_dir: Path, attempted_at: datetime, *, succeeded: bool, error: str | None,
                   clock_offset_s: float | None = None) -> dict[str, Any]:
    """The one place a sync attempt's outcome is written, whichever path made it; returns what was written.

    `succeeded`: the attempt went through (its drain and heartbeat); `error` may still be set then (a
    config from the centre that was refused). A failure keeps the last success; a success clears the error
    unless it carries one. `clock_offset_s` None keeps the last one measured.
    """
    with _locked(state_dir):
        before = read_sync_status(state_dir)
        state = {"last_attempt_at": iso_utc(attempted_at),
                 "last_success_at": iso_utc(attempted_at) if succeeded else before.get("last_success_at"),
                 "last_error": error,
                 "clock_offset_s": clock_offset_s if clock_offset_s is not None else before.get("clock_offset_s")}
        write_private(state_dir / SYNC_STATUS_FILE, canonical_json(state))
    return state


def enrolled_server(state_dir: Path) -> str | None:
    """The centre the device key names now (so a terminal enrolled on its screen shows it without a restart)."""
    server = _read_json(state_dir / CREDENTIALS_FILE).get("server")
    return server if isinstance(server, str) else None


def rejected_text(reasons: dict[str, int]) -> str:
    """`{reason: count}` as one line, the most frequent first: 'device_id is not the signing device (2); …'."""
    return "; ".join(f"{reason} ({count})" for reason, count in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])))


@dataclass(frozen=True)
class Anchor:
    """The highest seq the centre acknowledged, and that rating's hash as it was sent."""

    seq: int
    hash: str
    acknowledged_at: str


class AnchorUnreadable(Exception):
    """The anchor file is there but not an anchor: never a power cut (it is replaced atomically)."""


def read_anchor(state_dir: Path) -> Anchor | None:
    """None before the centre first acknowledged a rating; raises AnchorUnreadable for a damaged file."""
    path = state_dir / ANCHOR_FILE
    if not path.exists():
        return None
    data = _read_json(path)
    try:
        return Anchor(seq=int(data["seq"]), hash=str(data["hash"]), acknowledged_at=str(data["acknowledged_at"]))
    except (KeyError, TypeError, ValueError):
        raise AnchorUnreadable(f"{path} is not an anchor (damaged or edited)") from None


def raise_anchor(store: RatingStore, state_dir: Path, now: datetime | None = None) -> Anchor | None:
    """Move the anchor up to the highest rating the centre has acknowledged (marked synced); never down."""
    tip = Outbox(store).acknowledged_tip()
    with _locked(state_dir):
        try:
            current = read_anchor(state_dir)
        except AnchorUnreadable:
            current = None          # `verify` names it; a newer acknowledgement may replace it
        if tip is None or (current is not None and current.seq >= tip[0]):
            return current
        anchor = Anchor(seq=tip[0], hash=tip[1], acknowledged_at=iso_utc(now or datetime.now(UTC)))
        write_private(state_dir / ANCHOR_FILE, canonical_json(vars(anchor)))
    return anchor


def check_anchor(store: RatingStore, anchor: Anchor, checked: int) -> VerifyResult | None:
    """What the store lacks of what the centre acknowledged; None when it still holds it as it was sent.

    `checked`: the ratings the chain check found intact (all of them, when this is asked)."""
    with store.transaction(write=False) as conn:
        last = conn.execute(select(ratings.c.seq).order_by(ratings.c.seq.desc()).limit(1)).scalar()
        held = conn.execute(select(ratings.c.hash).where(ratings.c.seq == anchor.seq)).scalar()
    last = last or 0
    if last < anchor.seq:
        return VerifyResult(checked=checked, first_broken_seq=last + 1,
                            problem=f"ratings after seq {last} were removed: the centre acknowledged seq {anchor.seq}")
    if held != anchor.hash:
        return VerifyResult(checked=anchor.seq - 1, first_broken_seq=anchor.seq,
                            problem=f"seq {anchor.seq} is not the rating the centre acknowledged (another hash): "
                                    "the chain was rewritten up to it")
    return None


def verify_store(store: RatingStore, state_dir: Path) -> VerifyResult:
    """The chain check, then the store against the anchor: a cut tail of synced ratings is found too."""
    result = store.verify()
    if not result.ok:
        return result
    try:
        anchor = read_anchor(state_dir)
    except AnchorUnreadable as exc:
        # seq 0: no rating is at fault; what the centre acknowledged is what cannot be checked
        return VerifyResult(checked=result.checked, first_broken_seq=0, problem=str(exc))
    if anchor is None:
        return result
    return check_anchor(store, anchor, result.checked) or result
