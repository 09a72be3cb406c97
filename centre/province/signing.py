"""Signing an upload to the province, and checking one (the reference receiver): HMAC-SHA256 or SM2 with SM3.

Both sign the same canonical string, so a body changed on the way, a replayed request with a new path, or a
new timestamp all break the signature:

    POST\\n<path>\\n<timestamp>\\n<nonce>\\n<hex SHA-256 of the body bytes as sent>

- hmac-sha256: the key file holds a secret shared with the province (its text, stripped of surrounding white
  space; at least 16 bytes); the signature is the HMAC's hex.
- sm2: the centre's key file holds its SM2 private key (64 hex digits), the province's its public key (128 hex
  digits, or 130 with the 04 prefix); the signature is r‖s in hex (128 digits), the GB/T 32918 signature over
  SM3(Z‖message) with the default user id 1234567812345678, as gmssl's `sign_with_sm3` makes it.

gmssl is a pure-Python implementation. Two of its habits are worked around here: its nonce `k` comes from
`random.choice` (not a cryptographic source: a predictable k gives the private key away), so `k` is drawn from
`secrets`; and it strips a public key's "04" prefix with `lstrip`, which eats any further leading 0s and 4s of
the key, so the key is set on the object as we parsed it.

A key file that is missing, unreadable or malformed is a `KeyFileError` naming the file.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from gmssl import sm2  # type: ignore[import-untyped]

from centre.errors import BadInput
from centre.province.upload import Signing, UploadSpec

MIN_SECRET_BYTES = 16
_N = int(sm2.default_ecc_table["n"], 16)
_P = int(sm2.default_ecc_table["p"], 16)
_A = int(sm2.default_ecc_table["a"], 16)
_B = int(sm2.default_ecc_table["b"], 16)


class KeyFileError(BadInput):
    """A key file that cannot be used; the message names the file."""


class SignatureError(Exception):
    """Why a request is not authentic (the receiver answers 401 with it)."""


class Signer(Protocol):
    def sign(self, message: bytes) -> str: ...


class Verifier(Protocol):
    def verify(self, message: bytes, signature: str) -> bool: ...


def canonical(method: str, path: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    """The string both ends sign."""
    return "\n".join([method.upper(), path, timestamp, nonce, hashlib.sha256(body).hexdigest()]).encode("utf-8")


# -- HMAC-SHA256 ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class HmacKey:
    secret: bytes

    def sign(self, message: bytes) -> str:
        return hmac.new(self.secret, message, hashlib.sha256).hexdigest()

    def verify(self, message: bytes, signature: str) -> bool:
        return hmac.compare_digest(self.sign(message), signature.strip().lower())


# -- SM2 with SM3 --------------------------------------------------------------------------------------------

def _crypt(private_hex: str, public_hex: str) -> sm2.CryptSM2:
    crypt = sm2.CryptSM2(private_key=private_hex, public_key=public_hex)
    crypt.public_key = public_hex   # its own lstrip("04") may eat digits of the key (see above)
    return crypt


def _on_curve(public_hex: str) -> bool:
    x, y = int(public_hex[:64], 16), int(public_hex[64:], 16)
    return x < _P and y < _P and (y * y - (x * x * x + _A * x + _B)) % _P == 0


def sm2_public_of(private_hex: str) -> str:
    """The public key (128 hex digits, no prefix) of a private key."""
    crypt = _crypt(private_hex, "0" * 128)
    public: str = crypt._kg(int(private_hex, 16), sm2.default_ecc_table["g"])
    return public


def sm2_new_keypair() -> tuple[str, str]:
    """A fresh (private, public) pair in hex, from a cryptographic random source."""
    private = 1 + secrets.randbelow(_N - 2)
    private_hex = f"{private:064x}"
    return private_hex, sm2_public_of(private_hex)


@dataclass(frozen=True)
class Sm2PrivateKey:
    private_hex: str
    public_hex: str

    def sign(self, message: bytes) -> str:
        crypt = _crypt(self.private_hex, self.public_hex)
        while True:   # gmssl answers None for the (vanishingly rare) k that gives r = 0 or s = 0: draw again
            k = 1 + secrets.randbelow(_N - 1)
            signature: str | None = crypt.sign_with_sm3(message, f"{k:064x}")
            if signature is not None:
                return signature


@dataclass(frozen=True)
class Sm2PublicKey:
    public_hex: str

    def verify(self, message: bytes, signature: str) -> bool:
        signature = signature.strip().lower()
        if len(signature) != 128 or any(c not in "0123456789abcdef" for c in signature):
            return False
        r, s = int(signature[:64], 16), int(signature[64:], 16)
        if not (0 < r < _N and 0 < s < _N):
            return False
        return bool(_crypt("0" * 64, self.public_hex).verify_with_sm3(signature, message))


# -- key files -----------------------------------------------------------------------------------------------

def _read_key(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise KeyFileError(f"{path}: no such key file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyFileError(f"{path}: cannot read the key file: {exc}") from None


def _hex(text: str, path: Path, digits: tuple[int, ...], what: str) -> str:
    text = text.lower()
    if len(text) not in digits or any(c not in "0123456789abcdef" for c in text):
        raise KeyFileError(f"{path}: not an SM2 {what}: expected {' or '.join(map(str, digits))} hex digits, "
                           f"got {len(text)} characters")
    return text


def _hmac_key(path: Path) -> HmacKey:
    secret = _read_key(path).encode("utf-8")
    if len(secret) < MIN_SECRET_BYTES:
        raise KeyFileError(f"{path}: the HMAC secret is {len(secret)} bytes; at least {MIN_SECRET_BYTES} "
                           "are needed")
    return HmacKey(secret)


def load_signer(signing: Signing, path: Path) -> Signer:
    """The centre's signing key from its file: the HMAC secret, or the SM2 private key."""
    if signing is Signing.HMAC_SHA256:
        return _hmac_key(path)
    private_hex = _hex(_read_key(path), path, (64,), "private key")
    if not 0 < int(private_hex, 16) < _N - 1:
        raise KeyFileError(f"{path}: not an SM2 private key: out of the curve's range")
    return Sm2PrivateKey(private_hex, sm2_public_of(private_hex))


def load_verifier(signing: Signing, path: Path) -> Verifier:
    """The receiver's key from its file: the HMAC secret, or the SM2 public key."""
    if signing is Signing.HMAC_SHA256:
        return _hmac_key(path)
    public_hex = _hex(_read_key(path), path, (128, 130), "public key")
    if len(public_hex) == 130:
        if not public_hex.startswith("04"):
            raise KeyFileError(f"{path}: not an SM2 public key: 130 digits must start with 04 (uncompressed)")
        public_hex = public_hex[2:]
    if not _on_curve(public_hex):
        raise KeyFileError(f"{path}: not an SM2 public key: the point is not on the curve")
    return Sm2PublicKey(public_hex)


# -- requests ------------------------------------------------------------------------------------------------

def sign_request(spec: UploadSpec, signer: Signer, key_id: str, path: str, body: bytes,
                 now: datetime) -> dict[str, str]:
    """The headers that authenticate one upload (a POST of `body` to `path`)."""
    timestamp = str(int(now.timestamp()))
    nonce = secrets.token_hex(16)
    signature = signer.sign(canonical("POST", path, timestamp, nonce, body))
    return {spec.key_id_header: key_id, spec.timestamp_header: timestamp, spec.nonce_header: nonce,
            spec.signature_header: signature}


@dataclass(frozen=True)
class Verified:
    key_id: str
    nonce: str
    timestamp: int


def verify_request(spec: UploadSpec, verifier: Verifier, method: str, path: str, headers: Mapping[str, str],
                   body: bytes, now: datetime) -> Verified:
    """Check one request's signature and its clock window; SignatureError says what is wrong.

    The caller refuses a nonce it has seen within the window (a replay) and, if it knows the key id to
    expect, another one."""
    values = {}
    for name in (spec.key_id_header, spec.timestamp_header, spec.nonce_header, spec.signature_header):
        value = headers.get(name)
        if not value:
            raise SignatureError(f"missing header {name}")
        values[name] = value
    timestamp = values[spec.timestamp_header]
    if not timestamp.isdigit():
        raise SignatureError(f"{spec.timestamp_header} must be Unix seconds, got {timestamp!r}")
    if abs(int(timestamp) - now.timestamp()) > spec.max_skew_s:
        raise SignatureError(f"{spec.timestamp_header} is more than {spec.max_skew_s} s from the receiver's clock")
    nonce = values[spec.nonce_header]
    if not verifier.verify(canonical(method, path, timestamp, nonce, body), values[spec.signature_header]):
        raise SignatureError("bad signature")
    return Verified(values[spec.key_id_header], nonce, int(timestamp))
