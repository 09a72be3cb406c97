"""What a signal is: its kinds, its subjects, a flag's states, the office's decisions, and a `Finding`.

Pure values, no SQL. A signal (centre/integrity/signals/) reads what the terminals sent over a span of the
unit's local days and returns findings; centre/integrity/analysis.py stores each finding as an
integrity_flags row (found again, the same fingerprint keeps it one row), and centre/integrity/review.py
records the office's decision on it.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

# The evidence a flag keeps is bounded: the office reads a sample, the total says how many there were.
EVIDENCE_LIMIT = 500


class SignalKind(str, Enum):
    """The agreed kinds (the demo's planted manipulation uses the same values for its ground truth)."""

    OUT_OF_HOURS = "out_of_hours"
    NO_STAFF = "no_staff"
    TECHNICIAN_MODE = "technician_mode"
    UNSOLICITED = "unsolicited"
    MORE_RATINGS_THAN_CASES = "more_ratings_than_cases"
    FAST_PRESS = "fast_press"
    COOLDOWN_EDGE = "cooldown_edge"
    TOP_BURST = "top_burst"
    NO_BAD_REVIEWS = "no_bad_reviews"
    UNRATED_COLLAPSE = "unrated_collapse"
    STEP_AFTER_RANKING = "step_after_ranking"
    SUPPRESSED_SPIKE = "suppressed_spike"
    SELECTIVE_SILENCE = "selective_silence"
    CHAIN_PROBLEM = "chain_problem"
    CLOCK_JUMP = "clock_jump"
    COUNTER_CHANGE = "counter_change"
    RECEIPT_MISSING = "receipt_missing"


class SubjectKind(str, Enum):
    """The narrowest subject a signal is about; a flag always names the unit too."""

    UNIT = "unit"
    COUNTER = "counter"
    STAFF = "staff"
    DEVICE = "device"


class FlagState(str, Enum):
    OPEN = "open"
    DISMISSED = "dismissed"
    CONFIRMED = "confirmed"


class Decision(str, Enum):
    """The office's decision on a flag (an integrity_reviews row); each leads to the FlagState of its name."""

    DISMISSED = "dismissed"
    CONFIRMED = "confirmed"

    @property
    def state(self) -> FlagState:
        return FlagState(self.value)


@dataclass(frozen=True)
class Evidence:
    """The ratings and events behind a finding: at most EVIDENCE_LIMIT of each, with the totals."""

    rating_uuids: tuple[str, ...] = ()
    event_ids: tuple[int, ...] = ()
    ratings_total: int = 0
    events_total: int = 0

    @classmethod
    def of(cls, rating_uuids: list[str] | tuple[str, ...] = (),
           event_ids: list[int] | tuple[int, ...] = ()) -> Evidence:
        return cls(tuple(rating_uuids[:EVIDENCE_LIMIT]), tuple(event_ids[:EVIDENCE_LIMIT]),
                   len(rating_uuids), len(event_ids))

    def as_json(self) -> dict[str, Any]:
        return {"ratings": list(self.rating_uuids), "events": list(self.event_ids),
                "ratings_total": self.ratings_total, "events_total": self.events_total}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Evidence:
        return cls(tuple(str(u) for u in data.get("ratings", ())),
                   tuple(int(i) for i in data.get("events", ())),
                   int(data.get("ratings_total", 0)), int(data.get("events_total", 0)))


@dataclass(frozen=True)
class Finding:
    """One signal that fired for one subject over a span of the unit's local days (ISO dates, inclusive).

    `figure` is the test's statistic and `threshold` what it was judged against; `detail` says which test,
    its parameters and counts, in words the office can read (docs/integrity.md).
    """

    kind: SignalKind
    unit_id: str
    day_from: str
    day_to: str
    figure: float
    threshold: float
    counter_id: str | None = None
    staff_id: str | None = None
    device_id: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    evidence: Evidence = field(default_factory=Evidence)

    @property
    def subject_kind(self) -> SubjectKind:
        if self.staff_id is not None:
            return SubjectKind.STAFF
        if self.device_id is not None:
            return SubjectKind.DEVICE
        if self.counter_id is not None:
            return SubjectKind.COUNTER
        return SubjectKind.UNIT

    @property
    def fingerprint(self) -> str:
        """sha256 of kind, subject and span: a later analysis that finds the same thing keeps one row."""
        parts = (self.kind.value, self.unit_id, self.counter_id or "", self.staff_id or "",
                 self.device_id or "", self.day_from, self.day_to)
        return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
