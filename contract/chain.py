"""The tamper-evident hash chain of a device's ratings: each rating's hash covers its fields and the
hash before it, so a changed, removed or inserted rating shows (docs/sync-protocol.md, "Hash chain").
"""
from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from contract.canonical import canonical_json
from contract.wire import RatingRecord

GENESIS_HASH = "0" * 64

# Every field of the wire record but the hash itself, in the record's order: the record is the one
# spelling of the field list (a field added there is hashed, and must be stored by both ends).
RATING_FIELDS: tuple[str, ...] = tuple(RatingRecord.model_fields)
HASHED_FIELDS: tuple[str, ...] = tuple(name for name in RATING_FIELDS if name != "hash")
# Fields added after the first release: hashed when they hold a value, left out of the hashed object when
# absent or None, so every rating stored before them hashes as it always did (its chain still verifies).
OPTIONAL_HASHED: frozenset[str] = frozenset({"item_code"})


_REQUIRED_HASHED = frozenset(HASHED_FIELDS) - OPTIONAL_HASHED


def rating_hash(fields: Mapping[str, Any]) -> str:
    """SHA-256 over the canonical encoding of the hashed fields (prev_hash included)."""
    if not _REQUIRED_HASHED.issubset(fields.keys()):   # one set operation: the centre hashes every rating it takes
        missing = [name for name in HASHED_FIELDS if name not in fields and name not in OPTIONAL_HASHED]
        raise KeyError(f"rating lacks hashed fields {missing}")
    hashed = {name: fields[name] for name in HASHED_FIELDS if name in fields}
    for name in OPTIONAL_HASHED:
        if hashed.get(name) is None:
            hashed.pop(name, None)
    return hashlib.sha256(canonical_json(hashed)).hexdigest()
