"""The span analysed, and each unit's frame within it: its local days and its opening hours, as UTC text.

Stored times are fixed-width UTC ISO text (contract.iso_utc) that sort and compare as text, so a record's
day and whether it fell in opening hours are found by comparing its text with the frame's bounds (bisect),
never by parsing it: the analysis of a city's quarter looks at millions of records.

Opening hours are the registry's weekly hours (centre/registry/hours.py) on China's working-day calendar as
the centre keeps it (centre/cases/workdays.py): a weekend made a working day (调休) may open with Monday's
hours and a public holiday may keep Sunday's, so a day is open in the union of its own weekday's hours and
the hours of the day it runs as. A union never calls an honest rating out of hours; it may miss a rating on
a holiday at a unit that opens that weekday.
"""
from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cached_property
from itertools import repeat
from operator import and_, xor
from zoneinfo import ZoneInfo

from centre.cases.workdays import WorkingCalendar
from centre.registry import hours
from contract import iso_utc

MONDAY, SUNDAY = 0, 6


@dataclass(frozen=True)
class Span:
    """The unit-local days analysed, both included."""

    day_from: date
    day_to: date

    def __post_init__(self) -> None:
        if self.day_to < self.day_from:
            raise ValueError(f"the span ends ({self.day_to}) before it begins ({self.day_from})")

    @property
    def days(self) -> list[date]:
        return [self.day_from + timedelta(days=offset) for offset in range((self.day_to - self.day_from).days + 1)]

    def read_bounds(self) -> tuple[str, str]:
        """UTC text bounds that hold every zone's days of the span, with a day before for context (who was
        signed in, which request was open) and a day after for a corrected clock."""
        low = datetime.combine(self.day_from - timedelta(days=2), time(), ZoneInfo("UTC"))
        high = datetime.combine(self.day_to + timedelta(days=3), time(), ZoneInfo("UTC"))
        return iso_utc(low), iso_utc(high)


@dataclass
class Frame:
    """One unit's days of the span: `starts[i]` is day i's local midnight in UTC text (`starts[-1]` the end of
    the last day), `open[i]` its opening periods widened by the grace, as UTC text; `periods[i]` the same
    without the grace (when the unit is open at all: silences are looked for there)."""

    span: Span
    zone: ZoneInfo
    starts: list[str]
    open: list[list[tuple[str, str]]] = field(default_factory=list)
    periods: list[list[tuple[str, str]]] = field(default_factory=list)
    has_hours: bool = False

    def day_of(self, at: str) -> int:
        """The index of the span's day `at` falls on; -1 before the span, len(days) after it."""
        return bisect_right(self.starts, at) - 1

    def in_span(self, at: str) -> bool:
        return self.starts[0] <= at < self.starts[-1]

    def in_hours(self, at: str, day: int) -> bool:
        return any(start <= at < end for start, end in self.open[day])   # a day has two or three periods

    def outside(self, ats: Iterable[str], days: Iterable[int]) -> list[int]:
        """Of records at `ats` on `days` (each in the span), which fall outside their day's opening (the grace
        included), 1 or 0: in hours when an odd number of the day's period edges are at or before it. In C."""
        return list(map(xor, map(and_, map(bisect_right, map(self._edges.__getitem__, days), ats), repeat(1)),
                        repeat(1)))

    @cached_property
    def open_hours(self) -> list[float]:
        """Each day's opening, in hours (without the grace)."""
        return [sum((datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
                    for start, end in periods) / 3600 for periods in self.periods]

    @cached_property
    def period_edges(self) -> tuple[list[str], list[int]]:
        """Every day's opening periods (without the grace) one after another: their edges as one flat sorted
        list (start, end, start, end …), and the day of each period."""
        edges = [edge for periods in self.periods for period in periods for edge in period]
        return edges, [day for day, periods in enumerate(self.periods) for _ in periods]

    @cached_property
    def _edges(self) -> list[list[str]]:
        """Each day's opening periods, merged where the grace makes them meet, as a flat sorted list of edges."""
        found = []
        for periods in self.open:
            merged: list[list[str]] = []
            for start, end in sorted(periods):
                if merged and start <= merged[-1][1]:
                    merged[-1][1] = max(end, merged[-1][1])
                else:
                    merged.append([start, end])
            found.append([edge for period in merged for edge in period])
        return found

    def day_text(self, day: int) -> str:
        return (self.span.day_from + timedelta(days=day)).isoformat()

    @property
    def day_count(self) -> int:
        return len(self.starts) - 1


def build_frame(span: Span, zone: ZoneInfo, opening_hours: str, calendar: WorkingCalendar,
                grace_minutes: float) -> Frame:
    days = span.days
    starts = [iso_utc(datetime.combine(day, time(), zone)) for day in [*days, span.day_to + timedelta(days=1)]]
    frame = Frame(span, zone, starts)
    try:
        weekly = hours.parse(opening_hours) if opening_hours.strip() else []
    except hours.BadHours:
        weekly = []
    frame.has_hours = bool(weekly)
    grace = timedelta(minutes=grace_minutes)
    for day in days:
        periods = _periods(weekly, day, calendar)
        frame.periods.append([(iso_utc(datetime.combine(day, start, zone)), iso_utc(datetime.combine(day, end, zone)))
                              for start, end in periods])
        frame.open.append([(iso_utc(datetime.combine(day, start, zone) - grace),
                            iso_utc(datetime.combine(day, end, zone) + grace)) for start, end in periods])
    return frame


def _periods(weekly: list[tuple[tuple[str, ...], time, time]], day: date,
             calendar: WorkingCalendar) -> list[tuple[time, time]]:
    """The day's opening periods: its weekday's, and those of the weekday it runs as on the calendar."""
    weekdays = {hours.DAYS[day.weekday()], hours.DAYS[_runs_as(day, calendar)]}
    found = sorted({(start, end) for days, start, end in weekly if weekdays & set(days)})
    merged: list[tuple[time, time]] = []
    for start, end in found:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _runs_as(day: date, calendar: WorkingCalendar) -> int:
    working = calendar.is_working(day)
    if working and day.weekday() >= 5:
        return MONDAY            # a 调休 working weekend
    if not working and day.weekday() < 5:
        return SUNDAY            # a public holiday
    return day.weekday()
