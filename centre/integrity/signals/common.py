"""What the signals share: building a finding over the days its evidence covers, and reading times."""
from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from itertools import repeat
from operator import and_, attrgetter, gt, le
from typing import Any

from centre.integrity.data import Event, Press, UnitData
from centre.integrity.model import Evidence, Finding, SignalKind
from contract import iso_utc


def finding(kind: SignalKind, unit: UnitData, days: Iterable[int], figure: float, threshold: float,
            detail: dict[str, Any], *, counter_id: str | None = None, staff_id: str | None = None,
            device_id: str | None = None, rating_uuids: Sequence[str] = (),
            event_ids: Sequence[int] = ()) -> Finding:
    """A finding spanning the first to the last of `days` (indexes of the span's days)."""
    chosen = sorted(set(days))
    frame = unit.frame
    return Finding(kind=kind, unit_id=unit.unit_id, day_from=frame.day_text(chosen[0]),
                   day_to=frame.day_text(chosen[-1]), figure=float(figure), threshold=float(threshold),
                   counter_id=counter_id, staff_id=staff_id, device_id=device_id, detail=detail,
                   evidence=Evidence.of(list(rating_uuids), list(event_ids)))


def in_span(unit: UnitData, presses: Iterable[Press]) -> list[tuple[int, Press]]:
    """The presses counted on one of the span's days, with the day's index."""
    days = len(unit.frame.starts) - 1
    return [(press.day, press) for press in presses if 0 <= press.day < days]


DAY = attrgetter("day")


def day_counts(records: Iterable[Press | Event], last: int) -> Counter[int]:
    """How many of `records` fall on each of the span's days (indexes 0 … last − 1): counted in C, not in a
    loop over a quarter's records."""
    found = Counter(map(DAY, records))
    for day in [day for day in found if not 0 <= day < last]:
        del found[day]
    return found


def on_span(records: list[Event], last: int) -> list[Event]:
    """Those of `records` (in order of time, so of days) on the span's days (0 … last − 1): a slice."""
    return records[bisect_left(records, 0, key=DAY):bisect_left(records, last, key=DAY)]


def spanned(records: Sequence[Press | Event], last: int) -> list[bool]:
    """Which of `records` fall on one of the span's days (indexes 0 … last − 1), in C."""
    days = list(map(DAY, records))
    return list(map(and_, map(le, repeat(0), days), map(gt, repeat(last), days)))


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text)


def shifted(text: str, seconds: float) -> str:
    """A stored UTC text moved by `seconds` (few are needed: window ends, not every record)."""
    return iso_utc(parse(text) + timedelta(seconds=seconds))


def seconds_between(earlier: str, later: str) -> float:
    return (parse(later) - parse(earlier)).total_seconds()


def staff_counts(presses: Iterable[Press]) -> dict[str, int]:
    """How many of `presses` each staff member is credited with ("" for nobody): for the office to read."""
    found: dict[str, int] = {}
    for press in presses:
        key = press.staff_id or ""
        found[key] = found.get(key, 0) + 1
    return dict(sorted(found.items(), key=lambda item: -item[1])[:20])
