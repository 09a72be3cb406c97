"""The checks every batch a device sends goes through, ratings or call-backs alike: the envelope's
protocol, sender and send time, and each row's schema and time, judged row by row.

A refusal of the envelope refuses the request; a refused row becomes a `Rejected` with its reason and
never blocks the others (docs/sync-protocol.md, "Ingest").
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from centre.errors import BadInput, Forbidden
from contract import PROTOCOL_VERSION, Rejected

Record = TypeVar("Record", bound=BaseModel)


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


def envelope_error(exc: ValidationError) -> BadInput:
    """The refusal of a body whose envelope (not one of its rows) fails the schema."""
    return BadInput(first_error(exc).removeprefix("malformed: "))


def check_sender(protocol: int, device_id: str, signer_id: str, what: str) -> None:
    """BadInput for another protocol version, Forbidden when `what` names another device than its signer."""
    if protocol != PROTOCOL_VERSION:
        raise BadInput(f"protocol {protocol} is not supported (this collector speaks {PROTOCOL_VERSION})")
    if device_id != signer_id:
        raise Forbidden(f"{what} device_id is not the signing device")


def parse_sent_at(text: str) -> datetime:
    try:
        return parse_time(text)
    except ValueError as exc:
        raise BadInput(f"sent_at: {exc}") from None


def row_label(kind: str, raw: Any, index: int) -> str:
    """`kind:<the device's row id>`, or `kind:#<position>` for a row without a usable id."""
    row_id = raw.get("id") if isinstance(raw, dict) else None
    return f"{kind}:{row_id if isinstance(row_id, int) else '#' + str(index)}"


def validated(model: type[Record], raw: Any, label: str, time_field: str) -> tuple[Record, datetime] | Rejected:
    """The row as `model` and its `time_field` parsed, or why it is rejected."""
    try:
        record = model.model_validate(raw)
        moment = parse_time(getattr(record, time_field))
    except ValidationError as exc:
        return Rejected(id=label, reason=first_error(exc))
    except ValueError as exc:
        return Rejected(id=label, reason=f"malformed: {time_field}: {exc}")
    return record, moment
