"""The one byte encoding both ends hash and sign, and the one text form of a time.

Nothing here may change for data already written or sent: a rating's hash is over these bytes.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

# json.dumps with these options builds a new encoder at each call, a tenth of hashing a rating: one serves all
# (an encoder keeps no state between calls).
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_json(value: Any) -> bytes:
    """One byte string per value: sorted keys, no spaces, UTF-8."""
    return _ENCODER.encode(value).encode("utf-8")


def canonical_object(members: Mapping[str, bytes]) -> bytes:
    """A JSON object of members already encoded, keys sorted as canonical_json sorts them: canonical
    itself when each member is. For a batch whose ratings the store encoded (kiosk.store.outbox)."""
    return b"{" + b",".join(canonical_json(key) + b":" + members[key] for key in sorted(members)) + b"}"


def iso_utc(moment: datetime) -> str:
    """Fixed-width UTC ISO 8601, so stored times sort and compare as text."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: times are always timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")
