"""How records travel to the province: the request envelope, the answer's per-record fields, signing.

The `upload:` part of a mapping (centre/province/mapping.py). Every field has a default, so a mapping file may
leave out the whole section or any key of it. Both ends read it: the push worker (push.py) builds requests and
reads answers by it, the reference receiver (receiver/) parses requests and writes answers by it.

One upload request is an HTTP POST of UTF-8 JSON to the endpoint:

    {"<batch_id_field>": "<uuid>", "<records_field>": [<record>, ...]}

each record being the mapping's fields (its record id under the mapping's `fields.record_id` name). It is
signed (signing.py) over the method, the path, the timestamp, the nonce and the SHA-256 of the exact body,
the four travelling in the headers named here. The answer is JSON:

    {"<results_field>": [{"<result_id_field>": ..., "<result_code_field>": ..., "<result_message_field>": ...}]}

one result per record. A code in `accepted_codes` means the province holds the record; `duplicate_code` is
how the province answers a record id it already accepted (it must count as accepted: that is what makes a
resend after a lost answer harmless, docs/province-report.md "Upload"); a code in `retry_codes` means "not now,
send it again later"; any other code is a refusal, kept with its message and never resent.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Signing(StrEnum):
    """How a request is signed (signing.py)."""

    HMAC_SHA256 = "hmac-sha256"   # a shared secret: HMAC-SHA256 over the canonical string
    SM2 = "sm2"                   # 国密: an SM2 signature with SM3 over the canonical string (gmssl)


class UploadSpec(BaseModel):
    """The envelope, the answer and the signature of an upload, by field and header name."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # The request.
    records_field: str = Field("records", min_length=1, description="the envelope's list of records")
    batch_id_field: str = Field("batchId", min_length=1, description="the envelope's batch id (a fresh uuid "
                                                                      "per request: the province's log key)")
    # The answer.
    results_field: str = Field("results", min_length=1, description="the answer's list of per-record results")
    result_id_field: str = Field("recordId", min_length=1, description="a result's record id (as sent)")
    result_code_field: str = Field("code", min_length=1, description="a result's code")
    result_message_field: str = Field("message", min_length=1, description="a result's words (a refusal's "
                                                                            "reason)")
    accepted_codes: tuple[str, ...] = Field(("0", "1001"), min_length=1, description="codes meaning the "
                                            "province holds the record")
    accepted_code: str = Field("0", min_length=1, description="the code a receiver answers a new record with")
    duplicate_code: str = Field("1001", min_length=1, description="the code for a record id already accepted: "
                                                                  "counts as accepted")
    refused_code: str = Field("2001", min_length=1, description="the code a receiver refuses a record with")
    retry_codes: tuple[str, ...] = Field(("5001",), description="codes meaning: not now, send it again later")
    # The signature.
    signing: Signing = Field(Signing.HMAC_SHA256, description="hmac-sha256 or sm2")
    key_id_header: str = Field("X-Key-Id", min_length=1, description="names the key the receiver verifies with")
    timestamp_header: str = Field("X-Timestamp", min_length=1, description="the request's time, UTC Unix seconds")
    nonce_header: str = Field("X-Nonce", min_length=1, description="a fresh random value per request")
    signature_header: str = Field("X-Signature", min_length=1, description="the signature, hex")
    max_skew_s: int = Field(300, ge=1, le=86_400, description="a receiver refuses a timestamp further than this "
                                                              "from its clock (a replayed request)")

    @model_validator(mode="after")
    def _codes_agree(self) -> UploadSpec:
        accepted = set(self.accepted_codes)
        if self.accepted_code not in accepted:
            raise ValueError(f"accepted_code: {self.accepted_code!r} must be one of accepted_codes")
        if self.duplicate_code not in accepted:
            raise ValueError(f"duplicate_code: {self.duplicate_code!r} must be one of accepted_codes (a resent "
                             "record the province already holds is accepted, or a lost answer would refuse it)")
        if self.refused_code in accepted or self.refused_code in self.retry_codes:
            raise ValueError(f"refused_code: {self.refused_code!r} must be neither accepted nor a retry code")
        both = accepted & set(self.retry_codes)
        if both:
            raise ValueError(f"retry_codes: {sorted(both)} are also accepted codes")
        return self

    def outcome(self, code: str) -> ResultKind:
        """What a per-record code means to the sender."""
        if code in self.accepted_codes:
            return ResultKind.ACCEPTED
        if code in self.retry_codes:
            return ResultKind.RETRY
        return ResultKind.REFUSED


class ResultKind(StrEnum):
    """A per-record answer, as the sender acts on it."""

    ACCEPTED = "accepted"   # held by the province: never sent again
    REFUSED = "refused"     # refused with a reason: kept, never sent again
    RETRY = "retry"         # not now: stays pending, sent again after a backoff


DEFAULT = UploadSpec()


# -- the wire: both ends build and read requests and answers here ---------------------------------------------

class MalformedAnswer(Exception):
    """An answer the sender cannot read: the batch counts as failed and is sent again later."""


class MalformedRequest(Exception):
    """A request the receiver cannot read as an envelope (it answers 400)."""


@dataclass(frozen=True)
class Result:
    """The province's answer for one record, as it came (`raw`) and as the sender acts on it (`kind`)."""

    record_id: str
    code: str
    message: str
    kind: ResultKind
    raw: dict[str, Any]


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def request_body(spec: UploadSpec, batch_id: str, records: list[dict[str, Any]]) -> bytes:
    """The bytes of one upload (signed as they are: nothing may re-encode them on the way)."""
    return _json({spec.batch_id_field: batch_id, spec.records_field: records})


def read_request(spec: UploadSpec, body: bytes) -> tuple[str, list[dict[str, Any]]]:
    """(batch id, records) of an upload; MalformedRequest saying what is wrong."""
    try:
        envelope = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedRequest(f"the body is not UTF-8 JSON: {exc}") from None
    if not isinstance(envelope, dict):
        raise MalformedRequest("the body must be a JSON object")
    records = envelope.get(spec.records_field)
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise MalformedRequest(f"{spec.records_field!r} must be a list of objects")
    batch_id = envelope.get(spec.batch_id_field)
    if not isinstance(batch_id, str) or not batch_id:
        raise MalformedRequest(f"{spec.batch_id_field!r} must be a non-empty string")
    return batch_id, records


def answer_body(spec: UploadSpec, batch_id: str, results: list[tuple[str, str, str]]) -> bytes:
    """A receiver's answer: one (record id, code, message) per record."""
    return _json({spec.batch_id_field: batch_id, spec.results_field: [
        {spec.result_id_field: record_id, spec.result_code_field: code, spec.result_message_field: message}
        for record_id, code, message in results]})


def read_answer(spec: UploadSpec, body: bytes) -> dict[str, Result]:
    """The per-record results of an answer by record id; MalformedAnswer when it is not one.

    A record the answer leaves out has no result (the sender sends it again later); codes may come as
    numbers and are read as their text."""
    try:
        answer = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise MalformedAnswer(f"not JSON: {body[:80]!r}") from None
    results = answer.get(spec.results_field) if isinstance(answer, dict) else None
    if not isinstance(results, list):
        raise MalformedAnswer(f"no {spec.results_field!r} list in the answer")
    found: dict[str, Result] = {}
    for raw in results:
        if not isinstance(raw, dict):
            raise MalformedAnswer(f"a result is not an object: {raw!r:.80}")
        record_id, code = raw.get(spec.result_id_field), raw.get(spec.result_code_field)
        if not isinstance(record_id, str | int) or not isinstance(code, str | int) or isinstance(code, bool):
            raise MalformedAnswer(f"a result without {spec.result_id_field!r} or {spec.result_code_field!r}: "
                                  f"{raw!r:.120}")
        message = raw.get(spec.result_message_field)
        found[str(record_id)] = Result(str(record_id), str(code), "" if message is None else str(message),
                                       spec.outcome(str(code)), raw)
    return found
