"""The one check every signed request passes: device, MAC, clock window, revocation, nonce."""
from __future__ import annotations

import gzip
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, delete, select, tuple_
from sqlalchemy.exc import IntegrityError

from centre.api.limits import DEFAULT_LIMITS, inflated_too_large
from centre.db.rows import utcnow
from centre.db.tables import devices, nonces
from centre.errors import BadInput, CentreError, Forbidden, NotAuthenticated
from contract import HEADER_DEVICE, MAX_CLOCK_SKEW_S, SignatureError, verify_signature

# A request signed up to MAX_CLOCK_SKEW_S ahead of server time stays replayable
# until MAX_CLOCK_SKEW_S after that, so a nonce must be kept twice the window.
NONCE_KEEP_S = 2 * MAX_CLOCK_SKEW_S


class UnsupportedEncoding(CentreError):
    status = 415


@dataclass(frozen=True)
class Nonce:
    """The nonce of an authentic request, to be recorded before anything of the request is stored."""

    device_id: str
    value: str
    seen_at: int   # Unix seconds, server clock


def authenticate(engine: Engine, method: str, path: str, headers: Mapping[str, str], body: bytes,
                 now: datetime | None = None) -> dict[str, Any]:
    """The signing device's row, or a 401/403 refusal. Records the nonce of an authentic request."""
    device, nonce = check_signature(engine, method, path, headers, body, now)
    with engine.begin() as conn:
        remember_nonce(conn, nonce)
    return device


def check_signature(engine: Engine, method: str, path: str, headers: Mapping[str, str], body: bytes,
                    now: datetime | None = None) -> tuple[dict[str, Any], Nonce]:
    """`authenticate` without recording the nonce: the caller records it with `remember_nonce` in the
    transaction that stores the request, and answers only after that committed."""
    now = now or utcnow()
    device_id = headers.get(HEADER_DEVICE)
    if not device_id:
        raise NotAuthenticated(f"missing header {HEADER_DEVICE}")
    with engine.connect() as conn:
        device = conn.execute(select(devices).where(devices.c.id == device_id)).mappings().first()
    if device is None:
        raise NotAuthenticated("unknown device")
    try:
        _, nonce = verify_signature(device["secret"], method, path, headers, body, now=now)
    except SignatureError as exc:
        raise NotAuthenticated(str(exc)) from None
    if device["revoked_at"] is not None:
        raise Forbidden("device revoked")
    return dict(device), Nonce(device_id, nonce, int(now.timestamp()))


def remember_nonce(conn: Connection, nonce: Nonce) -> None:
    """Record a nonce in the caller's transaction; 401 when it was seen before (nothing then commits).

    The unique constraint, not a prior SELECT, decides: two replays racing cannot both pass. Expired nonces
    go too, at most once a second per process (they only bound the table; a replay is refused by the
    constraint while its nonce is kept, and by the clock window after), and only those no other transaction is
    deleting (SKIP LOCKED; SQLite, one writer, has no row locks): concurrent requests, each expiring the same
    old nonces, would otherwise wait for each other's whole batch.
    """
    global _expired_at
    if nonce.seen_at != _expired_at:
        _expired_at = nonce.seen_at
        conn.execute(_EXPIRE, {"before": nonce.seen_at - NONCE_KEEP_S})
    try:
        conn.execute(_REMEMBER, {"device_id": nonce.device_id, "nonce": nonce.value, "seen_at": nonce.seen_at})
    except IntegrityError:
        raise NotAuthenticated("nonce already used") from None


# Built once: building them cost more per request than running them.
_EXPIRE = delete(nonces).where(tuple_(nonces.c.device_id, nonces.c.nonce).in_(
    select(nonces.c.device_id, nonces.c.nonce).where(nonces.c.seen_at < bindparam("before"))
    .with_for_update(skip_locked=True)))
_REMEMBER = nonces.insert()
_expired_at = 0     # the second (Unix) this process last expired nonces in


def decode_body(body: bytes, content_encoding: str | None, max_inflated: int = DEFAULT_LIMITS.inflated) -> bytes:
    """The JSON bytes of a body sent plain or gzip-encoded (the signature covers the bytes as sent).

    A gzipped body is inflated to at most `max_inflated` bytes and one more: a bomb (a few KiB that
    would inflate to gigabytes) stops there with a 413, never expanding in memory.
    """
    encoding = (content_encoding or "identity").strip().lower()
    if encoding == "identity":
        return body
    if encoding != "gzip":
        raise UnsupportedEncoding(f"unsupported Content-Encoding {content_encoding!r} (use gzip)")
    try:
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        data = inflater.decompress(body, max_inflated + 1)
        if len(data) > max_inflated:
            raise inflated_too_large(max_inflated)
        if not inflater.eof:
            raise BadInput("gzip body is truncated")
        return data
    except (zlib.error, gzip.BadGzipFile) as exc:
        raise BadInput(f"body is not valid gzip: {exc}") from None
