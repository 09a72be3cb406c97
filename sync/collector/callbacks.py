"""Call-back requests from devices: stored once per (device, id), each joined to a rating the centre holds.

Judged row by row like ingest: a malformed request, or one about a rating
this device has not delivered, is refused with its reason and never blocks
the others. Refusal reasons never repeat the phone number (they are logged
on the device). The ack lists the ids held after the commit, new or not:
the device erases exactly those.
"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy import Engine, select

from sync.collector.db import callbacks, nul_field, ratings, utcnow
from sync.collector.errors import BadInput, Forbidden
from sync.collector.ingest import first_error, parse_time
from sync.protocol import PROTOCOL_VERSION, CallbackAck, CallbackRecord, Rejected, iso_utc

MAX_CALLBACKS = 5000


class _Envelope(BaseModel):
    """`CallbackBatch` with the rows left raw, so that one bad row is refused alone."""

    model_config = ConfigDict(extra="forbid")
    protocol: int = PROTOCOL_VERSION
    device_id: str
    sent_at: str
    callbacks: list[Any] = []


def store_callbacks(engine: Engine, signer_id: str, data: bytes) -> CallbackAck:
    envelope = _parse(data, signer_id)
    valid, rejected = _judge(envelope.callbacks)
    now = utcnow()
    with engine.begin() as conn:
        uuids = sorted({record.rating_uuid for record in valid.values()})
        known = set(conn.execute(select(ratings.c.uuid).where(ratings.c.uuid.in_(uuids)
                                                              & (ratings.c.device_id == signer_id))).scalars()) \
            if uuids else set()
        held = set(conn.execute(select(callbacks.c.id).where((callbacks.c.device_id == signer_id)
                                                              & callbacks.c.id.in_(list(valid)))).scalars()) \
            if valid else set()
        stored, new_rows = [], []
        for row_id, record in valid.items():
            if row_id in held:
                stored.append(row_id)      # sent again after a lost ack: held once
            elif record.rating_uuid not in known:
                rejected.append(Rejected(id=f"callback:{row_id}",
                                         reason=f"rating {record.rating_uuid} is not held from this device"))
            else:
                new_rows.append({**record.model_dump(), "device_id": signer_id, "received_at": iso_utc(now)})
                stored.append(row_id)
        if new_rows:
            conn.execute(callbacks.insert(), new_rows)
    return CallbackAck(stored=stored, rejected=rejected, server_time=iso_utc(now))


def _parse(data: bytes, signer_id: str) -> _Envelope:
    try:
        envelope = _Envelope.model_validate_json(data)
    except ValidationError as exc:
        raise BadInput(first_error(exc).removeprefix("malformed: ")) from None
    if envelope.protocol != PROTOCOL_VERSION:
        raise BadInput(f"protocol {envelope.protocol} is not supported (this collector speaks {PROTOCOL_VERSION})")
    if envelope.device_id != signer_id:
        raise Forbidden("callbacks device_id is not the signing device")
    if len(envelope.callbacks) > MAX_CALLBACKS:
        raise BadInput(f"callbacks: at most {MAX_CALLBACKS} per request, got {len(envelope.callbacks)}")
    try:
        parse_time(envelope.sent_at)
    except ValueError as exc:
        raise BadInput(f"sent_at: {exc}") from None
    return envelope


def _judge(raws: list[Any]) -> tuple[dict[int, CallbackRecord], list[Rejected]]:
    valid: dict[int, CallbackRecord] = {}
    rejected: list[Rejected] = []
    for index, raw in enumerate(raws):
        row_id = raw.get("id") if isinstance(raw, dict) else None
        label = f"callback:{row_id if isinstance(row_id, int) else '#' + str(index)}"
        try:
            record = CallbackRecord.model_validate(raw)
            parse_time(record.requested_at)
        except ValidationError as exc:
            rejected.append(Rejected(id=label, reason=first_error(exc)))
            continue
        except ValueError as exc:
            rejected.append(Rejected(id=label, reason=f"malformed: requested_at: {exc}"))
            continue
        name = nul_field(record.model_dump())
        if name:
            rejected.append(Rejected(id=label, reason=f"malformed: {name}: contains a NUL character"))
            continue
        valid.setdefault(record.id, record)
    return valid, rejected
