"""The device ↔ centre contract, shared by both ends (docs/sync-protocol.md).

- the tamper-evident encoding of a rating: canonical JSON and the hash chain;
- request signing: HMAC-SHA256 over method, path, device id, timestamp,
  nonce and the SHA-256 of the body bytes as sent;
- the wire schema (pydantic) of every request and answer.

Pure and small on purpose: the terminal's store, its uploader and the
collector all import it, and a city may re-implement either end from it.
Nothing here may change for data already written or sent.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

PROTOCOL_VERSION = 1
GENESIS_HASH = "0" * 64
MAX_CLOCK_SKEW_S = 300          # a signed request's timestamp must be within this of server time
CASE_NO_PATTERN = r"^[A-Za-z0-9_-]{1,40}$"
# A call-back number, digits only: a mainland mobile (1[3-9] + 9 digits), or a landline with its
# area code and a local number that does not start with 0 or 1: 010 and 02x have 8-digit local
# numbers, the 4-digit area codes (0 + 3 digits) 7 or 8.
MOBILE_PATTERN = r"^1[3-9]\d{9}$"
LANDLINE_PATTERN = r"^0(?:(?:10|2\d)[2-9]\d{7}|[3-9]\d{2}[2-9]\d{6,7})$"
PHONE_PATTERN = r"^(?:1[3-9]\d{9}|0(?:(?:10|2\d)[2-9]\d{7}|[3-9]\d{2}[2-9]\d{6,7}))$"

# Every field that says what the citizen did, where and when. Sync status is
# deliberately absent: it is the one thing that may change after the press.
HASHED_FIELDS = (
    "uuid", "seq", "device_id", "unit_id", "counter_id", "staff_id", "case_no",
    "level", "channel", "mode", "recorded_at", "mono_ns", "boot_id",
    "clock_suspect", "app_version", "prev_hash",
)

HEADER_DEVICE = "X-Evaluator-Device"
HEADER_TIMESTAMP = "X-Evaluator-Timestamp"
HEADER_NONCE = "X-Evaluator-Nonce"
HEADER_SIGNATURE = "X-Evaluator-Signature"


# -- canonical encoding and the chain ------------------------------------------------


def canonical_json(value: Any) -> bytes:
    """One byte string per value: sorted keys, no spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def canonical_object(members: Mapping[str, bytes]) -> bytes:
    """A JSON object of members already encoded, keys sorted as canonical_json sorts them: canonical
    itself when each member is. For a batch whose ratings the store encoded (kiosk.store.outbox)."""
    return b"{" + b",".join(canonical_json(key) + b":" + members[key] for key in sorted(members)) + b"}"


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
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


# -- request signing ---------------------------------------------------------------


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def string_to_sign(method: str, path: str, device_id: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    return "\n".join([method.upper(), path, device_id, timestamp, nonce, body_digest(body)]).encode("utf-8")


def sign(secret: str, method: str, path: str, device_id: str, body: bytes,
         now: datetime | None = None, nonce: str | None = None) -> dict[str, str]:
    """The four headers that authenticate one request from a device."""
    timestamp = str(int((now or datetime.now(UTC)).timestamp()))
    nonce = nonce or secrets.token_hex(16)
    mac = hmac.new(secret.encode("utf-8"), string_to_sign(method, path, device_id, timestamp, nonce, body),
                   hashlib.sha256).hexdigest()
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
    expected = hmac.new(secret.encode("utf-8"), string_to_sign(method, path, device_id, timestamp, nonce, body),
                        hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        raise SignatureError("bad signature")
    return device_id, nonce


# -- complaint links -----------------------------------------------------------------
# After a bad review the thanks screen shows a QR code to the unit's complaint page. Its
# URL carries the rating's uuid, the device id and a short HMAC with the device secret,
# so the centre can join a complaint filed online to the rating (and refuse a forged
# one) without anything that identifies the citizen.
COMPLAINT_SIGNATURE_HEX = 16


def complaint_signature(secret: str, device_id: str, rating_uuid: str) -> str:
    mac = hmac.new(secret.encode("utf-8"), f"complaint\n{device_id}\n{rating_uuid}".encode(),
                   hashlib.sha256)
    return mac.hexdigest()[:COMPLAINT_SIGNATURE_HEX]


def complaint_url(base: str, secret: str, device_id: str, rating_uuid: str) -> str:
    query = urlencode({"r": rating_uuid, "d": device_id, "s": complaint_signature(secret, device_id, rating_uuid)})
    return f"{base}{'&' if '?' in base else '?'}{query}"


def verify_complaint_url(url: str, secret_for: Callable[[str], str | None]) -> str | None:
    """The rating uuid a complaint link names, if its signature holds; `secret_for(device_id)` → secret."""
    fields = parse_qs(urlsplit(url).query)
    try:
        (uuid,), (device_id,), (signature,) = fields["r"], fields["d"], fields["s"]
    except (KeyError, ValueError):
        return None
    secret = secret_for(device_id)
    if secret is None:
        return None
    return uuid if hmac.compare_digest(complaint_signature(secret, device_id, uuid), signature) else None


# -- PINs at rest --------------------------------------------------------------------
# Staff PINs and the technician password are kept only as salted scrypt hashes: the
# centre hashes a roster's PINs, the terminal checks them. scrypt cost: ~50 ms on a
# Raspberry Pi 4, so a stolen file cannot be brute-forced cheaply while a sign-in still
# feels instant. The parameters are stored with each hash, so they can be raised later.
_N, _R, _P = 2 ** 14, 8, 1
SECRET_HASH_PATTERN = r"^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$"


def hash_secret(secret: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode("utf-8"), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return "$".join(["scrypt", str(_N), str(_R), str(_P), _b64(salt), _b64(digest)])


def check_secret(secret: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(secret.encode("utf-8"), salt=base64.b64decode(salt), n=int(n), r=int(r),
                                p=int(p), dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


# -- staff photos --------------------------------------------------------------------
# A roster entry may carry the portrait its staff card shows, as base64 of a JPEG or PNG
# file. Small on purpose: the whole roster travels in every changed config, and the card
# draws the photo a few centimetres high (a 300×400 JPEG is some 30 KB).
MAX_PHOTO_BYTES = 64 * 1024
MAX_PHOTO_BASE64 = 4 * -(-MAX_PHOTO_BYTES // 3)
_PHOTO_SIGNATURES = {b"\xff\xd8\xff": "jpg", b"\x89PNG\r\n\x1a\n": "png"}


def photo_type(head: bytes) -> str | None:
    """'jpg' or 'png' by the file's first bytes; None for anything else."""
    return next((kind for signature, kind in _PHOTO_SIGNATURES.items() if head.startswith(signature)), None)


def photo_size_problem(size: int) -> str | None:
    if size > MAX_PHOTO_BYTES:
        return f"is {size:,} bytes, at most {MAX_PHOTO_BYTES:,} (a 300×400 JPEG is plenty)"
    return None if size else "is empty"


def check_photo(data: bytes) -> str:
    """The photo's type ('jpg' or 'png'); ValueError saying why it cannot be a staff photo."""
    problem = photo_size_problem(len(data))
    if problem is None and photo_type(data) is None:
        problem = "is not a JPEG or PNG image"
    if problem is not None:
        raise ValueError(problem)
    return photo_type(data)


def encode_photo(data: bytes) -> str:
    check_photo(data)
    return _b64(data)


def decode_photo(text: str) -> tuple[bytes, str]:
    """(image bytes, 'jpg' or 'png') of a roster entry's photo; ValueError saying what is wrong."""
    if len(text) > MAX_PHOTO_BASE64:
        raise ValueError(f"is {len(text):,} base64 characters, at most {MAX_PHOTO_BASE64:,}")
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("is not base64") from None
    return data, check_photo(data)



# -- wire schema ---------------------------------------------------------------------


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RatingRecord(_Wire):
    """A rating exactly as stored on the device; `hash` chains it to the previous one."""

    uuid: str = Field(min_length=36, max_length=36)
    seq: int = Field(ge=1)
    device_id: str
    unit_id: str
    counter_id: str
    staff_id: str | None
    case_no: str | None = Field(pattern=CASE_NO_PATTERN)
    level: int = Field(ge=1, le=5)
    channel: str
    mode: str
    recorded_at: str
    mono_ns: int
    boot_id: str
    clock_suspect: bool
    app_version: str
    prev_hash: str = Field(min_length=64, max_length=64)
    hash: str = Field(min_length=64, max_length=64)


class ReasonRecord(_Wire):
    id: int = Field(ge=1, description="The device's row id; unique per device.")
    rating_uuid: str
    code: str
    recorded_at: str


class EventRecord(_Wire):
    id: int = Field(ge=1, description="The device's row id; unique per device.")
    kind: str
    recorded_at: str
    mono_ns: int
    boot_id: str
    detail: dict[str, Any]


class Batch(_Wire):
    """POST /v1/ingest: the oldest unsynced rows, gzip-encoded on the wire."""

    protocol: int = PROTOCOL_VERSION
    device_id: str
    sent_at: str = Field(description="The device's clock when sending; the centre corrects skewed clocks by it.")
    ratings: list[RatingRecord] = []
    reasons: list[ReasonRecord] = []
    events: list[EventRecord] = []


class Rejected(_Wire):
    id: str = Field(description="Rating uuid, or 'reason:<id>' / 'event:<id>'.")
    reason: str


class Ack(_Wire):
    """What the centre has durably stored: the device marks exactly these ids synced."""

    accepted: list[str] = []           # rating uuids stored now
    duplicate: list[str] = []          # rating uuids already stored with the same content
    rejected: list[Rejected] = []      # kept on the device with the reason; never block the queue
    reasons: list[int] = []            # reason row ids stored (now or before)
    events: list[int] = []             # event row ids stored (now or before)
    server_time: str


class CallbackRecord(_Wire):
    """A citizen's request for a call-back about one of this device's ratings, with their consent."""

    id: int = Field(ge=1, le=2 ** 63 - 1, description="The device's row id; unique per device.")
    rating_uuid: str = Field(min_length=36, max_length=36, description="The bad review it is about.")
    phone: str = Field(pattern=PHONE_PATTERN, description="Digits only: a mainland mobile or a landline "
                                                          "with its area code.")
    consent_version: str = Field(pattern=r"^[0-9a-f]{16}$", description="Fingerprint of the consent text "
                                                                         "the citizen ticked.")
    requested_at: str = Field(max_length=40)


class CallbackBatch(_Wire):
    """POST /v1/callbacks: the call-back requests still on the device (personal data: its own endpoint)."""

    protocol: int = PROTOCOL_VERSION
    device_id: str
    sent_at: str
    callbacks: list[CallbackRecord] = Field(default=[], max_length=5000)


class CallbackAck(_Wire):
    """The ids the centre now holds (the device erases exactly these) and the ones it refused, with why."""

    stored: list[int] = []
    rejected: list[Rejected] = []
    server_time: str


class EnrollRequest(_Wire):
    code: str = Field(min_length=6, max_length=64)
    app_version: str


STAFF_ID_PATTERN = r"^[A-Za-z0-9_.-]{1,40}$"


class StaffRecord(_Wire):
    """One member of a counter's roster, as the terminal's `staff` config holds it."""

    id: str = Field(pattern=STAFF_ID_PATTERN, description="工号")
    name: str = Field(min_length=1, max_length=20)
    name_en: str | None = None
    post: str = Field("", max_length=40, description="岗位, shown on the staff card.")
    post_en: str | None = None
    pin_hash: str | None = Field(None, pattern=SECRET_HASH_PATTERN,
                                 description="The staff PIN as a salted scrypt hash (never the PIN).")
    photo: str | None = Field(None, max_length=MAX_PHOTO_BASE64, json_schema_extra={"contentEncoding": "base64"},
                              description=f"The staff card's portrait: a JPEG or PNG file of at most "
                                          f"{MAX_PHOTO_BYTES} bytes, base64-encoded. None: a neutral silhouette.")

    @field_validator("photo")
    @classmethod
    def _photo_is_an_image(cls, value: str | None) -> str | None:
        if value is not None:
            decode_photo(value)
        return value


class DeviceConfig(_Wire):
    """The part of a terminal's config the centre owns: where it stands and who works there."""

    unit: dict[str, Any]
    counter: dict[str, Any]
    # Plain objects, not StaffRecord: a terminal keeps the keys it knows, so a newer centre may send more.
    # The collector's OpenAPI document names StaffRecord as their schema.
    staff: list[dict[str, Any]] = Field([], description="The roster: StaffRecord objects.")


class EnrollResponse(_Wire):
    device_id: str
    secret: str
    config: DeviceConfig


class Heartbeat(_Wire):
    device_id: str
    sent_at: str
    app_version: str
    queue_depth: int = Field(ge=0)
    oldest_unsynced_at: str | None
    last_seq: int = Field(ge=0)
    last_hash: str
    verify_ok: bool | None = None
    clock_offset_s: float | None = Field(None, description="Centre time minus device time, from the last answer.")
    panel: dict[str, Any] = {}
    last_error: str | None = None


class Summary(_Wire):
    """The same keys as the terminal's `evaluator summary --json`."""

    date: str
    total: int
    by_level: dict[str, int]
    good_rate: float | None
    bad_reasons: dict[str, int]
    unrated: int
    suppressed: int
