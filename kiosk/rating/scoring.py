"""Pure functions from counts to the figures the city office judges by.

好评率 (good rate) = share of the good levels (非常满意, 满意, 基本满意) among
all ratings; unrated requests are reported beside it, never folded in.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

# Re-exported: the CLI and the scores screen take their day windows from here, as the figures do.
from kiosk.store.days import day_bounds as day_bounds
from kiosk.store.days import day_edges
from kiosk.store.days import today as today

LEVELS = (5, 4, 3, 2, 1)


@dataclass(frozen=True)
class DaySummary:
    date: date
    by_level: dict[int, int]
    bad_reasons: dict[str, int]
    unrated: int
    suppressed: int
    good_rate: float | None

    @property
    def total(self) -> int:
        return sum(self.by_level.values())

    def to_json(self) -> dict[str, Any]:
        """The interface of `evaluator summary --json` (and of the collector's summary)."""
        return {
            "date": self.date.isoformat(),
            "total": self.total,
            "by_level": {str(level): self.by_level.get(level, 0) for level in sorted(LEVELS)},
            "good_rate": self.good_rate,
            "bad_reasons": dict(sorted(self.bad_reasons.items())),
            "unrated": self.unrated,
            "suppressed": self.suppressed,
        }


class CountsSource(Protocol):
    def day_counts(self, start: datetime, end: datetime) -> Any: ...


def good_rate(by_level: Mapping[int, int], bad_levels: Iterable[int]) -> float | None:
    """Share of good ratings, 0–1; None when there is nothing to judge."""
    total = sum(by_level.values())
    if total == 0:
        return None
    bad = set(bad_levels)
    return sum(n for level, n in by_level.items() if level not in bad) / total


def summarize_day(source: CountsSource, day: date, zone: ZoneInfo, bad_levels: Iterable[int]) -> DaySummary:
    counts = source.day_counts(*day_bounds(day, zone))
    by_level = {level: counts.by_level.get(level, 0) for level in LEVELS}
    return DaySummary(date=day, by_level=by_level, bad_reasons=dict(counts.reasons),
                      unrated=counts.unrated, suppressed=counts.suppressed,
                      good_rate=good_rate(by_level, bad_levels))


# -- per staff member and per day, for the staff scores screen -------------------------


@dataclass(frozen=True)
class StaffRow:
    """One staff member's ratings in a day; staff_id None: ratings given while nobody was signed in."""

    staff_id: str | None
    by_level: dict[int, int]
    good_rate: float | None
    bad: int
    unrated: int

    @property
    def total(self) -> int:
        return sum(self.by_level.values())


@dataclass(frozen=True)
class DayPoint:
    """One local day of a trend; good_rate None on a day without ratings (drawn as a gap)."""

    date: date
    by_level: dict[int, int]
    good_rate: float | None

    @property
    def total(self) -> int:
        return sum(self.by_level.values())


class StaffSource(Protocol):
    def staff_level_counts(self, start: datetime, end: datetime) -> dict[tuple[str | None, int], int]: ...

    def unrated_by_staff(self, start: datetime, end: datetime) -> dict[str | None, int]: ...


class BucketSource(Protocol):
    def level_counts_by_bucket(self, edges: list[datetime]) -> list[dict[int, int]]: ...


def staff_table(store: StaffSource, day: date, zone: ZoneInfo, bad_levels: Iterable[int]) -> list[StaffRow]:
    """Per staff_id that rated or left a request unrated that day: most ratings first, no staff last."""
    bounds = day_bounds(day, zone)
    counts = store.staff_level_counts(*bounds)
    unrated = store.unrated_by_staff(*bounds)
    bad = set(bad_levels)
    rows = []
    for staff_id in {staff for staff, _level in counts} | set(unrated):
        by_level = {level: counts.get((staff_id, level), 0) for level in LEVELS}
        rows.append(StaffRow(staff_id=staff_id, by_level=by_level, good_rate=good_rate(by_level, bad),
                             bad=sum(by_level[level] for level in LEVELS if level in bad),
                             unrated=unrated.get(staff_id, 0)))
    return sorted(rows, key=lambda row: (row.staff_id is None, -row.total, row.staff_id or ""))


def trend(store: BucketSource, last_day: date, days: int, zone: ZoneInfo,
          bad_levels: Iterable[int]) -> list[DayPoint]:
    """One point per local day, oldest first, for the `days` days ending with last_day; one query."""
    first_day = last_day - timedelta(days=days - 1)
    buckets = store.level_counts_by_bucket(day_edges(first_day, days, zone))
    bad = set(bad_levels)
    points = []
    for i, counts in enumerate(buckets):
        by_level = {level: counts.get(level, 0) for level in LEVELS}
        points.append(DayPoint(date=first_day + timedelta(days=i), by_level=by_level,
                               good_rate=good_rate(by_level, bad)))
    return points
