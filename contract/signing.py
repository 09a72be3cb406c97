"""Request signing: HMAC-SHA256 over method, path, device id, timestamp, nonce and the SHA-256 of
the body bytes as sent (docs/sync-protocol.md, "Signing")."""
from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime

MAX_CLOCK_SKEW_S = 300          # a signed request's timestamp must be within this of server time

HEADER_DEVICE = "X-Evaluator-Device"
HEADER_TIMESTAMP = "X-Evaluator-Timestamp"
HEADER_NONCE = "X-Evaluator-Nonce"
HEADER_SIGNATURE = "X-Evaluator-Signature"


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def string_to_sign(method: str, path: str, device_id: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    return "\n".join([method.upper(), path, device_id, timestamp, nonce, body_digest(body)]).encode("utf-8")


def _mac(secret: str, method: str, path: str, device_id: str, timestamp: str, nonce: str, body: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), string_to_sign(method, path, device_id, timestamp, nonce, body),
                    hashlib.sha256).hexdigest()


def sign(secret: str, method: str, path: str, device_id: str, body: bytes,
         now: datetime | None = None, nonce: str | None = None) -> dict[str, str]:
    """The four headers that authenticate one request from a device."""
    timestamp = str(int((now or datetime.now(UTC)).timestamp()))
    nonce = nonce or secrets.token_hex(16)
    mac = _mac(secret, method, path, device_id, timestamp, nonce, body)
    return {HEADER_DEVICE: device_id, HEADER_TIMESTAMP: timestamp, HEADER_NONCE: nonce, HEADER_SIGNATURE: mac}


class SignatureError(Exception):
    """Why a request is not authentic; `status` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 401):
        super().__init__(message)
        self.status = status


def verify_signature(secret: str, method: str, path: str, headers: Mapping[str, str], body: bytes,
                     now: datetime | None = None) -> tuple[str, str]:
    """Check the MAC and the clock window; returns (device_id, nonce) for the replay check.

    The caller looks up the secret by the device header, refuses unknown or
    revoked devices, and refuses a nonce it has seen within the window.
    """
    try:
        device_id, timestamp = headers[HEADER_DEVICE], headers[HEADER_TIMESTAMP]
        nonce, signature = headers[HEADER_NONCE], headers[HEADER_SIGNATURE]
    except KeyError as missing:
        raise SignatureError(f"missing header {missing.args[0]}") from None
    try:
        sent = int(timestamp)
    except ValueError:
        raise SignatureError(f"{HEADER_TIMESTAMP} must be Unix seconds, got {timestamp!r}") from None
    server = int((now or datetime.now(UTC)).timestamp())
    if abs(server - sent) > MAX_CLOCK_SKEW_S:
        raise SignatureError(f"timestamp {sent} is {sent - server:+d} s from server time "
                             f"(allowed ±{MAX_CLOCK_SKEW_S} s)")
    if not (8 <= len(nonce) <= 64 and nonce.isalnum()):
        raise SignatureError("nonce must be 8–64 letters or digits")
    if not hmac.compare_digest(_mac(secret, method, path, device_id, timestamp, nonce, body), signature):
        raise SignatureError("bad signature")
    return device_id, nonce
