"""Idempotent, per-row ingest of one batch, with clock correction.

Each rating, reason and event is judged on its own: a malformed or
conflicting row is rejected with its reason and never blocks the others
(docs/sync-protocol.md, "Ingest"). The whole batch is one transaction; the
caller answers the `Ack` only after it has committed.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy import Connection, Engine, select, update
from sqlalchemy.exc import IntegrityError

from sync.collector.db import conflicts, events, nul_field, ratings, reasons, utcnow
from sync.collector.errors import BadInput, Forbidden
from sync.protocol import (HASHED_FIELDS, PROTOCOL_VERSION, Ack, EventRecord, RatingRecord, ReasonRecord, Rejected,
                           iso_utc)

CLOCK_TOLERANCE = timedelta(seconds=60)
CONTENT_FIELDS = (*HASHED_FIELDS, "hash")
INT64_MIN, INT64_MAX = -(2 ** 63), 2 ** 63 - 1
ATTEMPTS = 3   # a concurrent batch holding the same uuid makes the insert fail once; then it is a duplicate
LOOKUP_CHUNK = 500   # ids per IN (…): far below SQLite's and PostgreSQL's bound-parameter limits


class _Envelope(BaseModel):
    """`Batch` with the rows left raw, so that one bad row rejects that row and not the batch."""

    model_config = ConfigDict(extra="forbid")
    protocol: int = PROTOCOL_VERSION
    device_id: str
    sent_at: str
    ratings: list[Any] = []
    reasons: list[Any] = []
    events: list[Any] = []


def parse_time(text: str) -> datetime:
    """An ISO 8601 time with an offset; naive times are ambiguous on the wire and refused."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"time {text!r} has no UTC offset")
    return moment


def first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error.get("loc", ())) or "row"
    return f"malformed: {where}: {error.get('msg', 'invalid')}"


def parse_envelope(data: bytes, signer_id: str) -> tuple[_Envelope, datetime]:
    try:
        envelope = _Envelope.model_validate_json(data)
    except ValidationError as exc:
        raise BadInput(first_error(exc).removeprefix("malformed: ")) from None
    if envelope.protocol != PROTOCOL_VERSION:
        raise BadInput(f"protocol {envelope.protocol} is not supported (this collector speaks {PROTOCOL_VERSION})")
    if envelope.device_id != signer_id:
        raise Forbidden("batch device_id is not the signing device")
    try:
        sent_at = parse_time(envelope.sent_at)
    except ValueError as exc:
        raise BadInput(f"sent_at: {exc}") from None
    return envelope, sent_at


def ingest(engine: Engine, signer_id: str, data: bytes, received: datetime | None = None) -> Ack:
    """Store a batch (JSON bytes) from `signer_id` and say exactly what is now held."""
    envelope, sent_at = parse_envelope(data, signer_id)
    for attempt in range(ATTEMPTS):
        now = received or utcnow()
        try:
            with engine.begin() as conn:
                return _store(conn, signer_id, envelope, sent_at, now)
        except IntegrityError:
            if attempt == ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def _store(conn: Connection, signer_id: str, envelope: _Envelope, sent_at: datetime, now: datetime) -> Ack:
    skew = now - sent_at
    rejected: list[Rejected] = []
    valid = []
    for index, raw in enumerate(envelope.ratings):
        outcome = _valid_rating(signer_id, raw, index)
        (rejected if isinstance(outcome, Rejected) else valid).append(outcome)
    accepted, duplicate = _store_ratings(conn, signer_id, valid, envelope.sent_at, skew, now, rejected)
    reason_ids = _rows(conn, signer_id, envelope.reasons, ReasonRecord, "reason", skew, now, rejected)
    event_ids = _rows(conn, signer_id, envelope.events, EventRecord, "event", skew, now, rejected)
    return Ack(accepted=accepted, duplicate=duplicate, rejected=rejected, reasons=reason_ids, events=event_ids,
               server_time=iso_utc(now))


def _corrected(recorded: datetime, skew: timedelta, suspect: bool) -> datetime | None:
    """recorded_at + (received_at − sent_at) when the device clock is off or the device doubts it."""
    if suspect or abs(skew) > CLOCK_TOLERANCE:
        return recorded + skew
    return None


def _valid_rating(signer_id: str, raw: Any, index: int) -> Rejected | tuple[dict[str, Any], datetime]:
    """The row's fields and its recorded time, or why it is rejected. Pure: no database."""
    label = raw.get("uuid") if isinstance(raw, dict) and isinstance(raw.get("uuid"), str) else f"rating:{index}"
    try:
        record = RatingRecord.model_validate(raw)
        recorded = parse_time(record.recorded_at)
    except ValidationError as exc:
        return Rejected(id=label, reason=first_error(exc))
    except ValueError as exc:
        return Rejected(id=label, reason=f"malformed: recorded_at: {exc}")
    if record.device_id != signer_id:
        return Rejected(id=record.uuid, reason="device_id is not the signing device")
    sent = record.model_dump()
    problem = _out_of_range(sent, ("seq", "mono_ns")) or _nul(sent)
    if problem:
        return Rejected(id=record.uuid, reason=problem)
    return sent, recorded


def _store_ratings(conn: Connection, signer_id: str, valid: list[tuple[dict[str, Any], datetime]], sent_at: str,
                   skew: timedelta, now: datetime, rejected: list[Rejected]) -> tuple[list[str], list[str]]:
    """Set-based: one lookup of the uuids already held, one multi-row insert of the new ones.

    Per-row statements made the collector the bottleneck of a backlog drain (about 1 ms a row).
    """
    held = _held(conn, ratings, ratings.c.uuid, [sent["uuid"] for sent, _ in valid],
                 [ratings.c[name] for name in CONTENT_FIELDS])
    accepted: list[str] = []
    duplicate: list[str] = []
    new_rows: list[dict[str, Any]] = []
    received = iso_utc(now)
    for sent, recorded in valid:
        uuid = sent["uuid"]
        if uuid in held:
            held_fields = {name: held[uuid][name] for name in CONTENT_FIELDS}
            held_fields["clock_suspect"] = bool(held_fields["clock_suspect"])
            if held_fields == sent:
                duplicate.append(uuid)
                continue
            conn.execute(conflicts.insert().values(device_id=signer_id, rating_uuid=uuid, received_at=received,
                                                   sent=sent, held=held_fields))
            conn.execute(update(ratings).where(ratings.c.uuid == uuid).values(conflict=True))
            rejected.append(Rejected(id=uuid, reason="conflict: the centre holds this uuid with other content"))
            continue
        corrected = _corrected(recorded, skew, sent["clock_suspect"])
        new_rows.append({**sent, "received_at": received, "sent_at": sent_at,
                         "corrected_at": iso_utc(corrected) if corrected else None,
                         "counted_at": iso_utc(corrected or recorded), "clock_corrected": corrected is not None,
                         "conflict": False})
        held[uuid] = sent      # the same uuid twice in one batch: the second is judged against the first
        accepted.append(uuid)
    _insert_many(conn, ratings, new_rows)
    return accepted, duplicate


def _held(conn: Connection, table, key, values: list[Any], columns: list[Any],
          where: Any = None) -> dict[Any, Any]:
    """The rows of `table` whose `key` is among `values`, by key; in chunks (bound-parameter limits)."""
    found: dict[Any, Any] = {}
    for start in range(0, len(values), LOOKUP_CHUNK):
        query = select(key, *columns).where(key.in_(values[start:start + LOOKUP_CHUNK]))
        if where is not None:
            query = query.where(where)
        for row in conn.execute(query).mappings():
            found[row[key.name]] = row
    return found


def _rows(conn: Connection, signer_id: str, raws: list[Any], model: type[ReasonRecord] | type[EventRecord],
          kind: str, skew: timedelta, now: datetime, rejected: list[Rejected]) -> list[int]:
    """Store each (device, id) once; the ids held (now or before) go in the ack."""
    table = reasons if kind == "reason" else events
    valid: dict[int, tuple[dict[str, Any], datetime]] = {}
    for index, raw in enumerate(raws):
        row_id = raw.get("id") if isinstance(raw, dict) else None
        label = f"{kind}:{row_id if isinstance(row_id, int) else '#' + str(index)}"
        try:
            record = model.model_validate(raw)
            recorded = parse_time(record.recorded_at)
        except ValidationError as exc:
            rejected.append(Rejected(id=label, reason=first_error(exc)))
            continue
        except ValueError as exc:
            rejected.append(Rejected(id=label, reason=f"malformed: recorded_at: {exc}"))
            continue
        values = record.model_dump()
        problem = _out_of_range(values, ("id", "mono_ns")) or _nul(values)
        if problem:
            rejected.append(Rejected(id=label, reason=problem))
            continue
        valid.setdefault(record.id, (values, recorded))
    held = _held(conn, table, table.c.id, list(valid), [], where=table.c.device_id == signer_id)
    received = iso_utc(now)
    new_rows = []
    for row_id, (values, recorded) in valid.items():
        if row_id in held:
            continue
        values = {**values, "device_id": signer_id, "received_at": received}
        if kind == "event":
            corrected = _corrected(recorded, skew, False)
            values["counted_at"] = iso_utc(corrected or recorded)
        new_rows.append(values)
    _insert_many(conn, table, new_rows)
    return list(valid)


def _insert_many(conn: Connection, table, rows: list[dict[str, Any]]) -> None:
    if rows:
        conn.execute(table.insert(), rows)     # one executemany: SQLAlchemy batches it per backend


def _out_of_range(values: dict[str, Any], names: tuple[str, ...]) -> str | None:
    """The columns are 64-bit on every backend; a bigger number is malformed, not a server fault."""
    for name in names:
        value = values.get(name)
        if isinstance(value, int) and not INT64_MIN <= value <= INT64_MAX:
            return f"malformed: {name}: out of the 64-bit range"
    return None


def _nul(values: dict[str, Any]) -> str | None:
    name = nul_field(values)
    return f"malformed: {name}: contains a NUL character" if name else None
