"""Idempotent, per-row ingest of one batch, with clock correction.

Each rating, reason and event is judged on its own: a malformed or
conflicting row is rejected with its reason and never blocks the others
(docs/sync-protocol.md, "Ingest"). The whole batch is one transaction; the
caller answers the `Ack` only after it has committed.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import (
    Annotated,
    Any,
    NotRequired,  # pydantic needs this one's TypedDict before Python 3.12
)

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Column, Connection, Engine, Select, Table, bindparam, select, update
from sqlalchemy.exc import IntegrityError
from typing_extensions import TypedDict

from centre import chains, rollups
from centre.alerts import queue
from centre.api.auth import Nonce, remember_nonce
from centre.cases import opening
from centre.db.engine import insert_rows
from centre.db.lookup import among
from centre.db.rows import held_rating, nul_field, utcnow
from centre.db.tables import conflicts, events, ratings, reasons
from centre.incoming import (
    check_sender,
    envelope_error,
    first_error,
    parse_sent_at,
    parse_time,
    row_label,
    validated,
)
from centre.provenance import Judged, Placement, by_sender, centre_view, placement, refuse_foreign_references
from contract import (
    OPTIONAL_HASHED,
    RATING_FIELDS,
    Ack,
    Batch,
    EventRecord,
    RatingRecord,
    ReasonRecord,
    Rejected,
    iso_utc,
)

CLOCK_TOLERANCE = timedelta(seconds=60)
INT64_MIN, INT64_MAX = -(2 ** 63), 2 ** 63 - 1
UNIQUE_VIOLATIONS = {"23505", "SQLITE_CONSTRAINT_UNIQUE"}   # PostgreSQL's SQLSTATE, SQLite's error name


class _Envelope(Batch):
    """`Batch` with the rows left raw, so that one bad row rejects that row and not the batch."""

    ratings: list[Any] = Field(default_factory=list)
    reasons: list[Any] = Field(default_factory=list)
    events: list[Any] = Field(default_factory=list)


def _row_type(model: type[BaseModel]) -> Any:
    """`model`'s fields and constraints as a TypedDict, which pydantic validates straight into dicts:
    no model instance built for each row and then dumped again (a quarter of the validation's cost)."""
    fields: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        annotation = Annotated[info.annotation, info] if info.metadata else info.annotation
        # A field added later has a default (None): its key may be missing, and _judged fills it in.
        assert info.is_required() or info.default is None, f"{model.__name__}.{name}: a default other than None"
        fields[name] = annotation if info.is_required() else NotRequired[annotation]
    # Built at run time from the model, so typed as what it is to the type checker: any callable.
    make_row: Any = TypedDict
    row = make_row(f"{model.__name__}Row", fields)
    row.__pydantic_config__ = ConfigDict(extra="forbid")
    return row


_RatingRow = _row_type(RatingRecord)
_ReasonRow = _row_type(ReasonRecord)
_EventRow = _row_type(EventRecord)


class _WellFormed(_Envelope):
    """The common case, every rating well-formed: the batch's ratings validated in one pass of
    pydantic's core, twice as fast as row by row. If any row fails, the batch is parsed again as an
    `_Envelope` and judged row by row, so each rejection keeps its own reason."""

    ratings: list[_RatingRow] = Field(default_factory=list)  # type: ignore[valid-type]
    reasons: list[_ReasonRow] = Field(default_factory=list)  # type: ignore[valid-type]
    events: list[_EventRow] = Field(default_factory=list)  # type: ignore[valid-type]


_CANONICAL_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00")   # what iso_utc writes


def parse_envelope(data: bytes, signer_id: str) -> tuple[_Envelope, datetime]:
    """The batch, a `_WellFormed` one when every rating passes the schema; BadInput/Forbidden for the batch."""
    try:
        envelope: _Envelope = _WellFormed.model_validate_json(data)
    except ValidationError:
        try:
            envelope = _Envelope.model_validate_json(data)
        except ValidationError as exc:
            raise envelope_error(exc) from None
    check_sender(envelope.protocol, envelope.device_id, signer_id, "batch")
    return envelope, parse_sent_at(envelope.sent_at)


def ingest(engine: Engine, signer_id: str, data: bytes, received: datetime | None = None,
           nonce: Nonce | None = None) -> Ack:
    """Store a batch (JSON bytes) from `signer_id` and say exactly what is now held.

    With `nonce`, the request's nonce is recorded first in the same transaction: a replay is refused
    (401) with nothing stored, and an authentic batch costs one commit, not two.
    """
    envelope, sent_at = parse_envelope(data, signer_id)
    # JSON can carry U+0000 only escaped (a raw control character is invalid JSON): without that
    # escape in the body, no field holds one and the per-row check is skipped.
    nul_possible = b"\\u0000" in data
    # A retry follows a concurrent batch (another worker's, another thread's) committing a row this one was
    # inserting: the unique index made the insert wait for it, then fail. That row is then held, so it is
    # judged (a duplicate, a conflict), not inserted again: each retry inserts a row fewer, the rows bound them.
    bound = len(envelope.ratings) + len(envelope.reasons) + len(envelope.events)
    # PostgreSQL aborts a transaction at its first error, so it retries from a savepoint taken after the
    # nonce, which stays locked (a replay cannot slip in between). pysqlite begins a transaction at its first
    # write; a savepoint would begin it at the reads, and SQLite refuses a read transaction that then writes
    # ("database is locked") instead of making it wait: there the whole transaction is retried.
    in_savepoints = engine.dialect.name == "postgresql"
    for attempt in range(bound + 1):
        now = received or utcnow()
        try:
            with engine.begin() as conn:
                if nonce is not None:
                    remember_nonce(conn, nonce)
                if in_savepoints:
                    return _store_in_savepoints(conn, bound, signer_id, envelope, sent_at, now, nul_possible)
                return _store(conn, signer_id, envelope, sent_at, now, nul_possible)
        except IntegrityError as exc:
            if in_savepoints or attempt == bound or not _raced(exc):
                raise
    raise AssertionError("unreachable: the last attempt returns or raises")


def _store_in_savepoints(conn: Connection, bound: int, signer_id: str, envelope: _Envelope, sent_at: datetime,
                         now: datetime, nul_possible: bool) -> Ack:
    """`_store` in a savepoint, again (at most `bound` times) after it lost a race for a row."""
    for attempt in range(bound + 1):
        try:
            with conn.begin_nested():
                return _store(conn, signer_id, envelope, sent_at, now, nul_possible)
        except IntegrityError as exc:
            if attempt == bound or not _raced(exc):
                raise
    raise AssertionError("unreachable: the last attempt returns or raises")


def _raced(exc: IntegrityError) -> bool:
    """A unique index refused a row: another transaction holds it (any other violation is no race)."""
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "sqlite_errorname", None)
    return code in UNIQUE_VIOLATIONS


def _store(conn: Connection, signer_id: str, envelope: _Envelope, sent_at: datetime, now: datetime,
           nul_possible: bool = True) -> Ack:
    skew = now - sent_at
    rejected: list[Rejected] = []
    valid: list[tuple[dict[str, Any], datetime]] = []
    if isinstance(envelope, _WellFormed):
        outcomes = [_judged(sent, nul_possible) for sent in envelope.ratings]
    else:
        outcomes = [_valid_rating(raw, index) for index, raw in enumerate(envelope.ratings)]
    for outcome in outcomes:
        if isinstance(outcome, Rejected):
            rejected.append(outcome)
        else:
            valid.append(outcome)
    judged = by_sender(conn, signer_id, valid, rejected)
    where = placement(conn, signer_id)
    accepted, duplicate, new_ratings = _store_ratings(conn, signer_id, where, judged, envelope.sent_at, skew, now,
                                                      rejected)
    checked = isinstance(envelope, _WellFormed)     # every row already passed its schema
    reason_ids, new_reasons = _rows(conn, signer_id, envelope.reasons, ReasonRecord, "reason", skew, now, rejected,
                                    checked, nul_possible)
    event_ids, new_events = _rows(conn, signer_id, envelope.events, EventRecord, "event", skew, now, rejected,
                                  checked, nul_possible)
    # Each new bad review opens its case, and its alerts are queued (never sent: nothing here waits on them),
    # in this transaction too; a batch without one costs a pass over the levels (centre/cases/opening.py).
    opened = opening.open_for_ratings(conn, new_ratings, now, new_reasons=new_reasons)
    if opened:
        queue.cases_opened(conn, opened, now)
    # The counts move with the rows, in this transaction: a batch and its rollups commit together. Last, just
    # before the commit: a unit's day and month rows are shared by all its counters, and a batch holds them
    # locked from here to its commit (the other counters' batches wait for them).
    rollups.maintain(conn, signer_id, where, new_ratings, new_reasons, new_events)
    return Ack(accepted=accepted, duplicate=duplicate, rejected=rejected, reasons=reason_ids, events=event_ids,
               server_time=iso_utc(now))


def _corrected(recorded: datetime, skew: timedelta, suspect: bool) -> datetime | None:
    """recorded_at + (received_at − sent_at) when the device clock is off or the device doubts it."""
    if suspect or abs(skew) > CLOCK_TOLERANCE:
        return recorded + skew
    return None


def _valid_rating(raw: Any, index: int) -> Rejected | tuple[dict[str, Any], datetime]:
    """The row's fields and its recorded time, or why it is rejected. Pure: no database."""
    label = raw.get("uuid") if isinstance(raw, dict) and isinstance(raw.get("uuid"), str) else f"rating:{index}"
    try:
        sent = RatingRecord.model_validate(raw).model_dump()
    except ValidationError as exc:
        return Rejected(id=label, reason=first_error(exc))
    return _judged(sent, nul_possible=True)


def _judged(sent: dict[str, Any], nul_possible: bool) -> Rejected | tuple[dict[str, Any], datetime]:
    """The checks after the schema: time, 64-bit range, NUL (skipped when the body cannot hold one).

    Whether the signer may deliver a row naming another device id needs the database: `by_sender`."""
    for name in OPTIONAL_HASHED:      # sent by newer terminals only: stored as None where absent
        sent.setdefault(name, None)
    try:
        recorded = parse_time(sent["recorded_at"])
    except ValueError as exc:
        return Rejected(id=sent["uuid"], reason=f"malformed: recorded_at: {exc}")
    if INT64_MIN <= sent["seq"] <= INT64_MAX and INT64_MIN <= sent["mono_ns"] <= INT64_MAX:   # the common case
        problem = _nul(sent) if nul_possible else None
    else:
        problem = _out_of_range(sent, ("seq", "mono_ns"))
    if problem:
        return Rejected(id=sent["uuid"], reason=problem)
    return sent, recorded


def _store_ratings(conn: Connection, signer_id: str, where: Placement, valid: list[Judged], sent_at: str,
                   skew: timedelta, now: datetime,
                   rejected: list[Rejected]) -> tuple[list[str], list[str], list[dict[str, Any]]]:
    """Set-based: one lookup of the uuids already held, one multi-row insert of the new ones (returned too).

    Per-row statements made the centre the bottleneck of a backlog drain (about 1 ms a row).
    """
    held = _held(conn, ratings, ratings.c.uuid, [item.sent["uuid"] for item in valid],
                 [ratings.c[name] for name in (*RATING_FIELDS, "delivered_by")])
    accepted: list[str] = []
    duplicate: list[str] = []
    new_rows: list[dict[str, Any]] = []
    flagged: list[str] = []    # the signer's held ratings this batch flagged as conflicts
    received = iso_utc(now)
    centre = {"received_at": received, "sent_at": sent_at, "conflict": False}   # the same for every row
    for item in valid:
        sent, recorded, uuid = item.sent, item.recorded, item.sent["uuid"]
        if uuid in held:
            verdict = _held_verdict(conn, signer_id, sent, held[uuid], received, flagged)
            if verdict is None:
                duplicate.append(uuid)
            else:
                rejected.append(Rejected(id=uuid, reason=verdict))
            continue
        corrected = _corrected(recorded, skew, sent["clock_suspect"])
        if corrected is None:
            times = {"corrected_at": None, "counted_at": _utc_text(sent["recorded_at"], recorded),
                     "clock_corrected": False}
        else:
            counted = iso_utc(corrected)
            times = {"corrected_at": counted, "counted_at": counted, "clock_corrected": True}
        new_rows.append(row := {**sent, **centre, **times, **centre_view(signer_id, where, item)})
        held[uuid] = row   # the same uuid twice in one batch: judged against the first (its fields, delivered_by)
        accepted.append(uuid)
    insert_rows(conn, ratings, new_rows)      # one COPY or executemany
    chains.advance(conn, signer_id, new_rows, len(flagged))   # the chain checked once, here (centre/chains.py)
    return accepted, duplicate, new_rows


def _held_verdict(conn: Connection, signer_id: str, sent: dict[str, Any], held: Any, received: str,
                  flagged: list[str]) -> str | None:
    """None for a duplicate (the same content from the same device), else why the copy is refused.

    A copy from another device than the one that delivered the held rating is recorded as evidence
    but never flags the held rating: a device cannot cast doubt on another's ratings."""
    held_fields = held_rating(held, RATING_FIELDS)
    own = held["delivered_by"] == signer_id
    if own and held_fields == sent:
        return None
    conn.execute(conflicts.insert().values(device_id=signer_id, rating_uuid=sent["uuid"], received_at=received,
                                           sent=sent, held=held_fields))
    if not own:
        return "conflict: the centre holds this uuid from another device"
    # Flagged once: `flagged` is what the stored chain counts (centre/chains.py).
    if conn.execute(update(ratings).where(ratings.c.uuid == sent["uuid"], ratings.c.conflict.is_(False))
                    .values(conflict=True)).rowcount:
        flagged.append(sent["uuid"])
    return "conflict: the centre holds this uuid with other content"


def _held(conn: Connection, table: Table, key: Column[Any], values: list[Any], columns: list[Any],
          device_id: str | None = None) -> dict[Any, Any]:
    """The rows of `table` (of `device_id`, if given) whose `key` is among `values`, by key."""
    query = _lookup(table, key, tuple(columns), device_id is not None)
    params = {"device": device_id} if device_id is not None else None
    return {row._mapping[key.name]: row._mapping for row in among(conn, query, key, values, params)}


_LOOKUPS: dict[tuple[Any, ...], Select[Any]] = {}


def _lookup(table: Table, key: Column[Any], columns: tuple[Any, ...], by_device: bool) -> Select[Any]:
    """`SELECT key, columns … [WHERE device_id = :device]`, one constant per shape (centre.db.lookup caches by it)."""
    shape = (table.name, key.name, tuple(column.name for column in columns), by_device)
    query = _LOOKUPS.get(shape)
    if query is None:
        query = select(key, *columns)
        if by_device:
            query = query.where(table.c.device_id == bindparam("device"))
        _LOOKUPS[shape] = query
    return query


def _rows(conn: Connection, signer_id: str, raws: list[Any], model: type[ReasonRecord] | type[EventRecord],
          kind: str, skew: timedelta, now: datetime, rejected: list[Rejected],
          checked: bool = False, nul_possible: bool = True) -> tuple[list[int], list[dict[str, Any]]]:
    """Store each (device, id) once; the ids held (now or before), which go in the ack, and the new rows.
    `checked`: `raws` are dicts that already passed `model`'s schema (the batch's one validation pass);
    `nul_possible` False: the body holds no escaped NUL, so no row does (see `ingest`)."""
    table = reasons if kind == "reason" else events
    valid: dict[int, tuple[dict[str, Any], datetime]] = {}
    for index, raw in enumerate(raws):
        outcome = _checked_row(raw) if checked else _valid_row(model, raw)
        if isinstance(outcome, str):
            rejected.append(Rejected(id=row_label(kind, raw, index), reason=outcome))
            continue
        values, recorded = outcome
        problem = _out_of_range(values, ("id", "mono_ns")) or (_nul(values) if nul_possible else None)
        if problem:
            rejected.append(Rejected(id=row_label(kind, raw, index), reason=problem))
            continue
        valid.setdefault(values["id"], (values, recorded))
    refs = {row_id: ref for row_id, (values, _) in valid.items() if (ref := _rating_ref(kind, values))}
    for row_id in refuse_foreign_references(conn, signer_id, kind, refs, rejected):
        del valid[row_id]
    held = _held(conn, table, table.c.id, list(valid), [], device_id=signer_id)
    received = iso_utc(now)
    new_rows: list[dict[str, Any]] = []
    for row_id, (values, recorded) in valid.items():
        if row_id in held:
            continue
        values = {**values, "device_id": signer_id, "received_at": received}
        if kind == "event":
            corrected = _corrected(recorded, skew, False)
            values["counted_at"] = iso_utc(corrected or recorded)
        new_rows.append(values)
    insert_rows(conn, table, new_rows)
    return list(valid), new_rows


def _checked_row(values: dict[str, Any]) -> tuple[dict[str, Any], datetime] | str:
    """A reason or event row that passed its schema with the batch: its time parsed, or why it is rejected."""
    try:
        return values, parse_time(values["recorded_at"])
    except ValueError as exc:
        return f"malformed: recorded_at: {exc}"


def _valid_row(model: type[ReasonRecord] | type[EventRecord], raw: Any) -> tuple[dict[str, Any], datetime] | str:
    """A raw reason or event row checked against `model` alone (a batch with a malformed row somewhere)."""
    outcome = validated(model, raw, "", "recorded_at")
    if isinstance(outcome, Rejected):
        return outcome.reason
    record, recorded = outcome
    return record.model_dump(), recorded


def _rating_ref(kind: str, values: dict[str, Any]) -> str | None:
    """The rating a reason or an event is about (an event names one in its detail, if any)."""
    ref = values["rating_uuid"] if kind == "reason" else values["detail"].get("rating_uuid")
    return ref if isinstance(ref, str) else None


def _utc_text(text: str, moment: datetime) -> str:
    """`iso_utc(moment)`, without the work when the device already sent it in that form (it always does)."""
    if _CANONICAL_UTC.fullmatch(text):
        return text
    return iso_utc(moment)


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
