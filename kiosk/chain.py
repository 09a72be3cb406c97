"""The tamper-evident encoding of a rating: canonical bytes and the hash chain.

Pure and dependency-free on purpose: the centre's collector recomputes the
same hashes from what it receives, so this encoding is part of the wire
contract and must never change for rows already written.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from typing import Any, Mapping

GENESIS_HASH = "0" * 64

# Every field that says what the citizen did, where and when. Sync status is
# deliberately absent: it is the one thing that may change after the press.
HASHED_FIELDS = (
    "uuid", "seq", "device_id", "unit_id", "counter_id", "staff_id", "case_no",
    "level", "channel", "mode", "recorded_at", "mono_ns", "boot_id",
    "clock_suspect", "app_version", "prev_hash",
)


def canonical_json(value: Any) -> bytes:
    """One byte string per value: sorted keys, no spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def rating_hash(fields: Mapping[str, Any]) -> str:
    """SHA-256 over the canonical encoding of the hashed fields (prev_hash included)."""
    missing = [name for name in HASHED_FIELDS if name not in fields]
    if missing:
        raise KeyError(f"rating lacks hashed fields {missing}")
    return hashlib.sha256(canonical_json({name: fields[name] for name in HASHED_FIELDS})).hexdigest()


def iso_utc(moment: datetime) -> str:
    """Fixed-width UTC ISO 8601, so stored times sort and compare as text."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: times are always timezone-aware")
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds")
