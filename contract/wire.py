"""The wire schema (pydantic) of every request and answer between a terminal and the centre.

Strict on purpose (`extra="forbid"`, frozen): a city may re-implement either end from these models,
and nothing here may change for data already sent (docs/sync-protocol.md).
"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from contract.fields import CASE_NO_PATTERN, ITEM_CODE_PATTERN, PHONE_PATTERN, STAFF_ID_PATTERN
from contract.photos import MAX_PHOTO_BASE64, MAX_PHOTO_BYTES, decode_photo
from contract.pins import SECRET_HASH_PATTERN

PROTOCOL_VERSION = 1
MAX_CALLBACKS = 5000        # call-back requests in one POST /v1/callbacks


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RatingRecord(_Wire):
    """A rating exactly as stored on the device; `hash` chains it to the previous one."""

    # The one spelling of a rating's fields (the docstring is the OpenAPI description, so this is a comment):
    # the hash covers every field but `hash` (contract.chain.HASHED_FIELDS), and both ends' tables hold a
    # column for each. Every field says what the citizen did, where and when; sync status is deliberately
    # absent, as it is the one thing that may change after the press. `item_code` came later: it is optional
    # on the wire and hashed only when present (contract.chain.OPTIONAL_HASHED), so a rating without one keeps
    # the hash and the wire form every earlier release gave it.

    uuid: str = Field(min_length=36, max_length=36)
    seq: int = Field(ge=1)
    device_id: str
    unit_id: str
    counter_id: str
    staff_id: str | None
    case_no: str | None = Field(pattern=CASE_NO_PATTERN)
    item_code: str | None = Field(default=None, pattern=ITEM_CODE_PATTERN)
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
    callbacks: list[CallbackRecord] = Field(default=[], max_length=MAX_CALLBACKS)


class CallbackAck(_Wire):
    """The ids the centre now holds (the device erases exactly these) and the ones it refused, with why."""

    stored: list[int] = []
    rejected: list[Rejected] = []
    server_time: str


class EnrollRequest(_Wire):
    code: str = Field(min_length=6, max_length=64)
    app_version: str


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

    # Plain objects with known keys (a newer centre may send more). `name_en` is optional: without it a
    # terminal shows `name` in both languages.
    unit: dict[str, Any] = Field(description="{id, name, name_en?, timezone}: the service unit.")
    # `questionnaire_url` rides in the counter's object, not in a field of its own: it is per counter (its token
    # names the counter), and a terminal older than it ignores a key it does not know there, where an unknown
    # top-level field would fail its whole config (extra="forbid"). `complaint_url` and `receipt_url` ride
    # beside it for that second reason.
    counter: dict[str, Any] = Field(description="{id, name, name_en?, questionnaire_url?, complaint_url?, "
                                                "receipt_url?}: the counter this terminal stands at, its online "
                                                "questionnaire's URL (a token the centre signs, renewed before it "
                                                "expires), and the bases of the centre's complaint form and "
                                                "receipt page (the terminal appends the signed rating link).")
    # Plain objects, not StaffRecord: a terminal keeps the keys it knows, so a newer centre may send more.
    # The centre's OpenAPI document names StaffRecord as their schema.
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
    """The same keys as the terminal's `evaluator summary --json`, and the centre's `before_enrollment`."""

    date: str
    total: int
    by_level: dict[str, int]
    good_rate: float | None
    bad_reasons: dict[str, int]
    unrated: int
    suppressed: int
    before_enrollment: int = Field(0, description="Ratings the unit's terminals recorded before they were "
                                                  "enrolled (test presses, say): in no total, rate or reason.")
    excluded: int = Field(0, description="Ratings an upheld appeal took out of the scores (the centre's bad-review "
                                         "loop): in no total or rate, still held and shown.")
