"""The wire contract both ends share: canonical JSON, the rating hash chain, request signing, the wire models.

It imports nothing of the terminal or the centre, and this package is its public face: both ends
import `from contract import X`, whichever module of one job X lives in.
"""
from contract.canonical import canonical_json, canonical_object, iso_utc
from contract.chain import GENESIS_HASH, HASHED_FIELDS, OPTIONAL_HASHED, RATING_FIELDS, rating_hash
from contract.complaint import COMPLAINT_SIGNATURE_HEX, complaint_signature, complaint_url, verify_complaint_url
from contract.fields import (
    CASE_NO_PATTERN,
    ITEM_CODE_PATTERN,
    LANDLINE_PATTERN,
    MOBILE_PATTERN,
    PHONE_PATTERN,
    STAFF_ID_PATTERN,
)
from contract.photos import (
    MAX_PHOTO_BASE64,
    MAX_PHOTO_BYTES,
    check_photo,
    decode_photo,
    encode_photo,
    photo_size_problem,
    photo_type,
)
from contract.pins import SECRET_HASH_PATTERN, check_secret, hash_secret
from contract.receipt import RECEIPT_SIGNATURE_HEX, receipt_signature, receipt_url, verify_receipt_url
from contract.signing import (
    HEADER_DEVICE,
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    MAX_CLOCK_SKEW_S,
    SignatureError,
    body_digest,
    sign,
    string_to_sign,
    verify_signature,
)
from contract.wire import (
    MAX_CALLBACKS,
    PROTOCOL_VERSION,
    Ack,
    Batch,
    CallbackAck,
    CallbackBatch,
    CallbackRecord,
    DeviceConfig,
    EnrollRequest,
    EnrollResponse,
    EventRecord,
    Heartbeat,
    RatingRecord,
    ReasonRecord,
    Rejected,
    StaffRecord,
    Summary,
)

__all__ = [
    "CASE_NO_PATTERN", "COMPLAINT_SIGNATURE_HEX", "GENESIS_HASH", "HASHED_FIELDS", "HEADER_DEVICE",
    "HEADER_NONCE", "HEADER_SIGNATURE", "HEADER_TIMESTAMP", "ITEM_CODE_PATTERN", "LANDLINE_PATTERN",
    "MAX_CALLBACKS", "MAX_CLOCK_SKEW_S", "MAX_PHOTO_BASE64", "MAX_PHOTO_BYTES", "MOBILE_PATTERN", "OPTIONAL_HASHED",
    "PHONE_PATTERN", "PROTOCOL_VERSION", "RATING_FIELDS", "RECEIPT_SIGNATURE_HEX", "SECRET_HASH_PATTERN",
    "STAFF_ID_PATTERN",
    "Ack", "Batch", "CallbackAck", "CallbackBatch", "CallbackRecord", "DeviceConfig", "EnrollRequest",
    "EnrollResponse", "EventRecord", "Heartbeat", "RatingRecord", "ReasonRecord", "Rejected", "SignatureError",
    "StaffRecord", "Summary",
    "body_digest", "canonical_json", "canonical_object", "check_photo", "check_secret", "complaint_signature",
    "complaint_url", "decode_photo", "encode_photo", "hash_secret", "iso_utc", "photo_size_problem", "photo_type",
    "rating_hash", "receipt_signature", "receipt_url", "sign", "string_to_sign", "verify_complaint_url",
    "verify_receipt_url", "verify_signature",
]
