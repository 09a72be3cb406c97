"""API tokens of the city's own systems for the read routes: issued once, kept as a hash, scoped, revocable.

A token is shown once, when `evaluator centre token add` issues it; the centre keeps only its SHA-256.
A plain SHA-256 is the right hash here, not argon2 or scrypt: a slow, salted hash defends a
low-entropy password against guessing after a database leak, and a token is 32 random bytes (256
bits), which no one can guess from its hash however fast the hash. A fast, unsalted hash also lets
a request's token be found by an indexed equality on the hash, one SELECT per request. That lookup
compares hashes, not tokens, so its timing tells a caller nothing it could use to build a token.

A token's scope is the part of the registry it may read: the city, districts, sectors, a district's
sectors, or units (centre/scopes.py). Its units are asked of the registry at each request, so a unit
moved later follows its new place.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, or_, select, update
from sqlalchemy.exc import IntegrityError

from centre import scopes
from centre.db.rows import nul_field, utcnow
from centre.db.tables import api_tokens
from centre.errors import BadInput, NotAuthenticated, NotFound
from centre.scopes import Scope, resolve
from contract import iso_utc

TOKEN_PREFIX = "evc_"          # says what a leaked string is (log scrubbers, secret scanners)
TOKEN_BYTES = 32
MAX_NAME = 100
# last_used_at is written at most this often per token: a read then costs one indexed SELECT, not a write
# (on SQLite a write would wait for the ingest's lock). "Last used" is accurate to this much.
LAST_USED_EVERY = timedelta(seconds=60)


@dataclass(frozen=True)
class TokenInfo:
    """A token as the centre holds it: everything but the token itself, which it never had to keep."""

    id: str
    name: str
    scope: Scope
    created_at: str
    last_used_at: str | None
    revoked_at: str | None

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "scope": {"kind": self.scope.kind.value,
                                                             "ids": self.scope.stored_ids()},
                "created_at": self.created_at, "last_used_at": self.last_used_at, "revoked_at": self.revoked_at}


@dataclass(frozen=True)
class Issued:
    info: TokenInfo
    token: str          # the plaintext: shown once, stored nowhere


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _info(row: Any) -> TokenInfo:
    return TokenInfo(id=row["id"], name=row["name"], scope=Scope.stored(row["scope_kind"], row["scope_ids"] or ()),
                     created_at=row["created_at"], last_used_at=row["last_used_at"], revoked_at=row["revoked_at"])


def issue(engine: Engine, name: str, units: list[str] | None = None, *, districts: list[str] | None = None,
          sectors: list[str] | None = None) -> Issued:
    """A new token named `name`, for the units, districts and sectors named (by the registry's ids or names;
    nothing named: the whole city). Names are unique, revoked or not."""
    if not name.strip() or len(name) > MAX_NAME or nul_field({"name": name}) or not name.isprintable():
        raise BadInput(f"token name must be 1–{MAX_NAME} printable characters, got {name!r}")
    token = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    try:
        with engine.begin() as conn:
            scope = resolve(conn, list(districts or ()), list(sectors or ()), list(units or ()))
            row = {"id": "tok-" + secrets.token_hex(6), "name": name, "token_hash": hash_token(token),
                   "scope_kind": scope.kind.value, "scope_ids": scope.stored_ids(), "created_at": iso_utc(utcnow()),
                   "last_used_at": None, "revoked_at": None}
            conn.execute(api_tokens.insert().values(**row))
    except IntegrityError:
        raise BadInput(f"a token named {name!r} exists already (revoked tokens keep their names)") from None
    return Issued(_info(row), token)


def list_tokens(engine: Engine) -> list[TokenInfo]:
    with engine.connect() as conn:
        rows = conn.execute(select(api_tokens).order_by(api_tokens.c.created_at, api_tokens.c.name)).mappings()
        return [_info(row) for row in rows]


def revoke(engine: Engine, name_or_id: str) -> tuple[TokenInfo, bool]:
    """Revoke the token with this id or name; (the token, whether this call revoked it)."""
    if nul_field({"token": name_or_id}):
        raise NotFound(f"no token named or numbered {name_or_id!r}")
    with engine.begin() as conn:
        rows = conn.execute(select(api_tokens).where(or_(api_tokens.c.id == name_or_id,
                                                         api_tokens.c.name == name_or_id))).mappings().all()
        if not rows:
            raise NotFound(f"no token named or numbered {name_or_id!r}")
        if len(rows) > 1:
            raise BadInput(f"{name_or_id!r} is one token's id and another's name: give the id")
        found = _info(rows[0])
        if found.revoked_at is not None:
            return found, False
        now = iso_utc(utcnow())
        conn.execute(update(api_tokens).where(api_tokens.c.id == found.id).values(revoked_at=now))
    return TokenInfo(found.id, found.name, found.scope, found.created_at, found.last_used_at, now), True


def authenticate(engine: Engine, token: str | None, now: datetime | None = None) -> TokenInfo:
    """The live token presented as `Authorization: Bearer <token>`, or NotAuthenticated (401)."""
    if not token:
        raise NotAuthenticated("an API token is required: Authorization: Bearer <token>")
    with engine.connect() as conn:
        row = conn.execute(select(api_tokens).where(api_tokens.c.token_hash == hash_token(token))).mappings().first()
    if row is None:
        raise NotAuthenticated("unknown API token")
    found = _info(row)
    if found.revoked_at is not None:
        raise NotAuthenticated("API token revoked")
    _touch(engine, found, now or utcnow())
    return found


def _touch(engine: Engine, found: TokenInfo, now: datetime) -> None:
    if found.last_used_at is not None and found.last_used_at > iso_utc(now - LAST_USED_EVERY):
        return
    with engine.begin() as conn:
        conn.execute(update(api_tokens).where(api_tokens.c.id == found.id).values(last_used_at=iso_utc(now)))


def require_unit(engine: Engine, client: TokenInfo, unit_id: str) -> None:
    """403 when the token's scope does not reach `unit_id` now (checked before the unit is looked up, so a
    token learns nothing of units outside its scope, not even whether they exist)."""
    with engine.connect() as conn:
        scopes.require(conn, client.scope, unit_id)
