"""The centre's own secrets (`centre_keys`), one series per purpose: the questionnaire tokens' signing keys,
and the key that hashes a network address for the rate limits (never stored raw).

A key is made on first use. A series rotates after its rotation period (0: never): a new key signs from then
on and the older ones are marked retired — a retired questionnaire key still verifies the tokens it signed
before, until they expire. Key ids are generations ("q1", "q2", … for the questionnaire): two workers that
make or rotate a key at once both try to insert the same id in a savepoint of their own transaction, one
wins, and the other reads the winner's, so every worker signs with the same key (race-safe on SQLite and on
PostgreSQL alike). Never shown, never exported.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from sqlalchemy import Connection, select, update
from sqlalchemy.exc import IntegrityError

from centre.db.public_tables import centre_keys
from contract import iso_utc


class Purpose(str, Enum):
    QUESTIONNAIRE = "questionnaire"   # signs the questionnaire QR's tokens
    ADDRESSES = "addresses"           # hashes a network address for the rate limits


QUESTIONNAIRE = Purpose.QUESTIONNAIRE
ADDRESSES = Purpose.ADDRESSES
_PREFIX = {Purpose.QUESTIONNAIRE: "q", Purpose.ADDRESSES: "a"}


@dataclass(frozen=True)
class Key:
    id: str
    secret: bytes
    created_at: datetime
    retired_at: datetime | None


def _generation(key_id: str) -> int:
    return int(key_id[1:])


def _key(row: Any) -> Key:
    return Key(row.id, bytes.fromhex(row.secret), datetime.fromisoformat(row.created_at),
               datetime.fromisoformat(row.retired_at) if row.retired_at else None)


def keys(conn: Connection, purpose: Purpose) -> list[Key]:
    """The purpose's keys, oldest generation first."""
    rows = conn.execute(select(centre_keys).where(centre_keys.c.purpose == purpose.value)).all()
    return sorted((_key(row) for row in rows), key=lambda key: _generation(key.id))


def key_by_id(conn: Connection, purpose: Purpose, key_id: str) -> Key | None:
    row = conn.execute(select(centre_keys).where(centre_keys.c.id == key_id,
                                                 centre_keys.c.purpose == purpose.value)).first()
    return _key(row) if row is not None else None


def _insert_generation(conn: Connection, purpose: Purpose, generation: int, now: datetime) -> None:
    """Try to add key `generation`; another worker that got there first wins and this one keeps quiet."""
    try:
        with conn.begin_nested():
            conn.execute(centre_keys.insert().values(id=f"{_PREFIX[purpose]}{generation}", purpose=purpose.value,
                                                     secret=secrets.token_hex(32), created_at=iso_utc(now),
                                                     retired_at=None))
    except IntegrityError:
        pass


def signing_key(conn: Connection, purpose: Purpose, now: datetime, rotation_days: int = 0) -> Key:
    """The key in use: made on first use, replaced after `rotation_days` (0: never), in the caller's
    transaction."""
    held = keys(conn, purpose)
    newest = held[-1] if held else None
    if newest is not None and not (rotation_days and now - newest.created_at >= timedelta(days=rotation_days)):
        return newest
    return _add(conn, purpose, newest, now)


def rotate(conn: Connection, purpose: Purpose, now: datetime) -> Key:
    """A new key now (an operator's rotation, or a key thought exposed); the older ones are retired."""
    held = keys(conn, purpose)
    return _add(conn, purpose, held[-1] if held else None, now)


def _add(conn: Connection, purpose: Purpose, newest: Key | None, now: datetime) -> Key:
    _insert_generation(conn, purpose, _generation(newest.id) + 1 if newest else 1, now)
    held = keys(conn, purpose)
    winner = held[-1]
    older = [key.id for key in held[:-1] if key.retired_at is None]
    if older:
        conn.execute(update(centre_keys).where(centre_keys.c.id.in_(older), centre_keys.c.retired_at.is_(None))
                     .values(retired_at=iso_utc(now)))
    return winner
