"""Call-back requests from devices: stored once per (device, id), each joined to a rating the centre holds.

Judged row by row like ingest: a malformed request, or one about a rating
this device has not delivered, is refused with its reason and never blocks
the others. Refusal reasons never repeat the phone number (they are logged
on the device). The ack lists the ids held after the commit, new or not:
the device erases exactly those.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import Engine, select

from centre.alerts import queue
from centre.cases import opening
from centre.db.rows import nul_field, utcnow
from centre.db.tables import callbacks, ratings, reasons
from centre.errors import BadInput
from centre.incoming import check_sender, envelope_error, parse_sent_at, row_label, validated
from centre.reports import day_bounds, unit_zone
from contract import MAX_CALLBACKS, CallbackAck, CallbackBatch, CallbackRecord, Rejected, iso_utc


class _Envelope(CallbackBatch):
    """`CallbackBatch` with the rows left raw, so that one bad row is refused alone (and too many are
    refused with a count, not pydantic's words)."""

    callbacks: list[Any] = Field(default_factory=list)


def store_callbacks(engine: Engine, signer_id: str, data: bytes) -> CallbackAck:
    envelope = _parse(data, signer_id)
    valid, rejected = _judge(envelope.callbacks)
    now = utcnow()
    with engine.begin() as conn:
        uuids = sorted({record.rating_uuid for record in valid.values()})
        known = set(conn.execute(select(ratings.c.uuid).where(ratings.c.uuid.in_(uuids)
                                                              & (ratings.c.delivered_by == signer_id))).scalars()) \
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
            # The citizen left a number: the rating's case is joined (or opened) and the contact deadline runs;
            # the unit hears of it at once (one working day to call back).
            opened = opening.open_for_callbacks(conn, [row["rating_uuid"] for row in new_rows], now)
            queue.cases_opened(conn, opened, now)
    return CallbackAck(stored=stored, rejected=rejected, server_time=iso_utc(now))


class CallbackListing(BaseModel):
    """One request as the office reads it, to call the citizen back about that rating."""

    rated_at: str = Field(description="when the rating counts (corrected device time), in the unit's zone")
    counter_id: str
    staff_id: str | None
    level: int
    reasons: list[str]
    phone: str
    consent_version: str
    rating_uuid: str
    device_id: str
    id: int = Field(description="the device's row id")
    before_enrollment: bool = Field(description="the rating was recorded before its terminal was enrolled")


def for_unit_day(engine: Engine, unit_id: str, day: date) -> list[CallbackListing]:
    """The call-back requests about a unit's ratings of one local day, oldest first."""
    if nul_field({"unit": unit_id}):
        raise BadInput("unit: contains a NUL character")
    with engine.connect() as conn:
        zone = unit_zone(conn, unit_id)
        since, until = day_bounds(day, zone)
        rows = conn.execute(
            select(callbacks.c.id, callbacks.c.device_id, callbacks.c.rating_uuid, callbacks.c.phone,
                   callbacks.c.consent_version, ratings.c.counted_at, ratings.c.placed_counter_id,
                   ratings.c.staff_id, ratings.c.level, ratings.c.before_enrollment)
            .join(ratings, (ratings.c.uuid == callbacks.c.rating_uuid)
                  & (ratings.c.delivered_by == callbacks.c.device_id))
            .where(ratings.c.placed_unit_id == unit_id, ratings.c.counted_at >= since, ratings.c.counted_at < until)
            .order_by(ratings.c.counted_at, callbacks.c.id)).all()
        uuids = sorted({row.rating_uuid for row in rows})
        codes: dict[str, list[str]] = {}
        if uuids:
            for uuid, code in conn.execute(
                    select(reasons.c.rating_uuid, reasons.c.code)
                    .join(ratings, (ratings.c.uuid == reasons.c.rating_uuid)
                          & (ratings.c.delivered_by == reasons.c.device_id))
                    .where(reasons.c.rating_uuid.in_(uuids)).order_by(reasons.c.rating_uuid, reasons.c.code)):
                codes.setdefault(uuid, []).append(code)
    return [CallbackListing(rated_at=datetime.fromisoformat(row.counted_at).astimezone(zone).isoformat(),
                            counter_id=row.placed_counter_id, staff_id=row.staff_id, level=row.level,
                            reasons=codes.get(row.rating_uuid, []), phone=row.phone,
                            consent_version=row.consent_version, rating_uuid=row.rating_uuid,
                            device_id=row.device_id, id=row.id, before_enrollment=bool(row.before_enrollment))
            for row in rows]


def _parse(data: bytes, signer_id: str) -> _Envelope:
    try:
        envelope = _Envelope.model_validate_json(data)
    except ValidationError as exc:
        raise envelope_error(exc) from None
    check_sender(envelope.protocol, envelope.device_id, signer_id, "callbacks")
    if len(envelope.callbacks) > MAX_CALLBACKS:
        raise BadInput(f"callbacks: at most {MAX_CALLBACKS} per request, got {len(envelope.callbacks)}")
    parse_sent_at(envelope.sent_at)
    return envelope


def _judge(raws: list[Any]) -> tuple[dict[int, CallbackRecord], list[Rejected]]:
    valid: dict[int, CallbackRecord] = {}
    rejected: list[Rejected] = []
    for index, raw in enumerate(raws):
        label = row_label("callback", raw, index)
        outcome = validated(CallbackRecord, raw, label, "requested_at")
        if isinstance(outcome, Rejected):
            rejected.append(outcome)
            continue
        record, _requested = outcome
        name = nul_field(record.model_dump())
        if name:
            rejected.append(Rejected(id=label, reason=f"malformed: {name}: contains a NUL character"))
            continue
        valid.setdefault(record.id, record)
    return valid, rejected
