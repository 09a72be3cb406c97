"""The record's types: what province_records holds per rating or unrated request (re-exported by records.py)."""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any


class RecordState(str, Enum):
    """Where a record stands: the values of province_records.state."""

    PENDING = "pending"      # valid, to be sent
    ACCEPTED = "accepted"    # the province took it
    REFUSED = "refused"      # the province refused it (its answer kept)
    INVALID = "invalid"      # refused by the centre's own rules before upload: never sent
    SKIPPED = "skipped"      # the mapping says not to report it


class Source(str, Enum):
    RATING = "rating"
    UNRATED = "unrated"


@dataclass(frozen=True)
class Record:
    record_id: str              # "rating:<uuid>", "unrated:<device id>:<event id>": never changes
    source: Source
    rating_uuid: str | None
    device_id: str
    event_id: int | None
    unit_id: str
    case_no: str | None
    item_code: str | None
    evaluated_at: str           # the rating's counted_at (UTC text, contract.iso_utc), as stored
    state: RecordState
    rule: str | None            # rules.Rule's value that made it invalid or skipped
    problem: str | None         # that rule's words (every rule's, "; "-joined, when several)
    fields: dict[str, Any]      # the record as the mapping makes it: what is sent

    def row(self, made_at: str) -> dict[str, Any]:
        """Its province_records row, new."""
        return {"record_id": self.record_id, "source": self.source.value, "rating_uuid": self.rating_uuid,
                "device_id": self.device_id, "event_id": self.event_id, "unit_id": self.unit_id,
                "case_no": self.case_no, "item_code": self.item_code, "evaluated_at": self.evaluated_at,
                "state": self.state.value, "rule": self.rule, "problem": self.problem, "fields": self.fields,
                "made_at": made_at, "attempts": 0}


@dataclass(frozen=True)
class MadeCount:
    """What one `make_records` call added, by state."""

    pending: int = 0
    invalid: int = 0
    skipped: int = 0
    remade: int = 0       # records refused for want of a reason, made again once their reasons came
    withdrawn: int = 0    # pending records of ratings excluded since they were made, never sent: now skipped

    @property
    def total(self) -> int:
        return self.pending + self.invalid + self.skipped
