"""Rate limits for the citizen pages, shared by every worker through `public_limits`: hits per key and slot.

Keys name what is limited without naming anyone: a network address only as its HMAC with the centre's own
key (keys.ADDRESSES; the raw address is never stored), a QR token by its token id. Slots are the UTC hour
("2026-12-05T09") or minute ("2026-12-05T09:31") a hit falls in. Each hit is an atomic upsert in its own
short transaction (a refused submission still counts), and a key over its limit in the slot is refused with
429 before anything else is done. Slots older than two hours are pruned on write, at most once a minute per
process: the table holds only the last two hours.
"""
from __future__ import annotations

import hashlib
import hmac
import time
from datetime import datetime, timedelta
from enum import Enum

from sqlalchemy import Connection, Engine, Insert, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from centre.db.public_tables import public_limits
from centre.errors import CentreError
from centre.public.keys import ADDRESSES, signing_key

PRUNE_EVERY_S = 60.0
KEEP = timedelta(hours=2)
_last_pruned = 0.0


class TooMany(CentreError):
    """429: the citizen page answers with a page that says to try again later."""

    status = 429


class Slot(str, Enum):
    MINUTE = "%Y-%m-%dT%H:%M"
    HOUR = "%Y-%m-%dT%H"


def address_key(conn: Connection, address: str | None, now: datetime) -> str:
    """The address as the limits know it: its HMAC with the centre's address key, never the address."""
    key = signing_key(conn, ADDRESSES, now)
    digest = hmac.new(key.secret, (address or "unknown").encode("utf-8"), hashlib.sha256).hexdigest()
    return digest[:40]


def _upsert(conn: Connection) -> Insert:
    if conn.dialect.name == "postgresql":
        on_pg = postgresql.insert(public_limits)
        return on_pg.on_conflict_do_update(index_elements=["key", "slot"], set_={"hits": public_limits.c.hits + 1})
    on_sqlite = sqlite.insert(public_limits)
    return on_sqlite.on_conflict_do_update(index_elements=["key", "slot"], set_={"hits": public_limits.c.hits + 1})


def count(conn: Connection, key: str, slot: Slot, now: datetime) -> int:
    """Add one hit for `key` in `now`'s slot, in the caller's transaction; the hits in the slot with it."""
    at = now.strftime(slot.value)
    conn.execute(_upsert(conn).values(key=key, slot=at, hits=1))
    hits: int = conn.execute(select(public_limits.c.hits).where(public_limits.c.key == key,
                                                                 public_limits.c.slot == at)).scalar_one()
    return hits


def hit(engine: Engine, key: str, slot: Slot, limit: int, now: datetime, what: str) -> None:
    """Count a hit for `key` (committed at once, whatever follows); TooMany when it passes `limit` in the slot.
    `what` says in the refusal what was limited ("submissions from this address")."""
    with engine.begin() as conn:
        hits = count(conn, key, slot, now)
        _prune(conn, now)
    if hits > limit:
        per = "minute" if slot is Slot.MINUTE else "hour"
        raise TooMany(f"too many {what}: at most {limit} per {per}; try again later")


def hit_address(engine: Engine, address: str | None, kind: str, slot: Slot, limit: int, now: datetime,
                what: str) -> None:
    """`hit` for a network address, counted under `kind` ("submit", "page")."""
    with engine.begin() as conn:
        key = f"{kind}:{address_key(conn, address, now)}"
    hit(engine, key, slot, limit, now, what)


def _prune(conn: Connection, now: datetime) -> None:
    global _last_pruned
    if time.monotonic() - _last_pruned < PRUNE_EVERY_S:
        return
    _last_pruned = time.monotonic()
    # An hour slot sorts before every minute of that hour, so one text bound drops both kinds of slot.
    conn.execute(delete(public_limits).where(public_limits.c.slot < (now - KEEP).strftime(Slot.HOUR.value)))
