"""Deadline arithmetic in working days, in a unit's time zone, and how a deadline stands now.

A deadline of n working days is the end (24:00 local, i.e. the next local midnight) of the n-th working day
strictly after the local day on which the clock started. The local day is the unit's, not UTC's: a bad
review at 23:30 in Shanghai (15:30 UTC) starts its clock that day; one at 00:30 the next local day (still
the day before in UTC) starts it the next. A review that arrives on a weekend or a holiday counts from that
day all the same: its first working day is the next working day after it.

The calendar is given as `is_working` (centre/cases/workdays.py's WorkingCalendar.is_working), so this
module stays plain arithmetic and the calendar's sources stay in one place.
"""
from __future__ import annotations

import enum
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from centre.errors import BadInput
from centre.registry.model import check_timezone

IsWorking = Callable[[date], bool]

# No office closes for two years on end: a calendar that would makes the search stop with an error instead
# of looping for ever (an import of every day as a holiday, say).
SEARCH_LIMIT_DAYS = 2 * 366


class DueState(enum.Enum):
    """How a deadline stands at a moment, for the console's colours (red: overdue)."""

    ON_TIME = "on_time"
    DUE_TODAY = "due_today"      # it ends within the unit's current local day
    OVERDUE = "overdue"


def local_day(moment: datetime, tz: str) -> date:
    """The calendar day of `moment` in the zone `tz` (an IANA name)."""
    return _aware(moment).astimezone(check_timezone(tz)).date()


def end_of_day(day: date, zone: ZoneInfo) -> datetime:
    """24:00 local of `day`, as an aware UTC datetime."""
    return datetime.combine(day + timedelta(days=1), time(0), zone).astimezone(UTC)


def add_working_days(is_working: IsWorking, start: datetime, n: int, tz: str) -> datetime:
    """The deadline n working days after `start`: the end of the n-th working day strictly after the local
    day of `start` in `tz`, as an aware UTC datetime. n = 0 is the end of `start`'s own local day."""
    if n < 0:
        raise ValueError(f"a deadline is a count of working days ahead, got {n}")
    zone = check_timezone(tz)
    day = _aware(start).astimezone(zone).date()
    for _ in range(n):
        day = next_working_day(is_working, day)
    return end_of_day(day, zone)


def next_working_day(is_working: IsWorking, day: date) -> date:
    """The first working day strictly after `day`."""
    for step in range(1, SEARCH_LIMIT_DAYS + 1):
        candidate = day + timedelta(days=step)
        if is_working(candidate):
            return candidate
    raise BadInput(f"the working-day calendar has no working day in the {SEARCH_LIMIT_DAYS} days after "
                   f"{day.isoformat()}: check the office's calendar corrections (`evaluator centre calendar show`)")


def working_days_between(is_working: IsWorking, a: datetime, b: datetime, tz: str) -> int:
    """The working days whose local date (in `tz`) is after `a`'s and no later than `b`'s; negative when
    `b` is before `a`. Between a review and its 1-working-day deadline's last moment: 1."""
    first, last = local_day(a, tz), local_day(b, tz)
    if last < first:
        return -working_days_between(is_working, b, a, tz)
    span = (last - first).days
    if span > SEARCH_LIMIT_DAYS * 10:
        raise BadInput(f"working days between {first} and {last}: the span is too long to count")
    return sum(1 for step in range(1, span + 1) if is_working(first + timedelta(days=step)))


def due_state(due_at: datetime, now: datetime, tz: str) -> DueState:
    """OVERDUE from the deadline on; DUE_TODAY when it ends within the unit's current local day."""
    due_at, now = _aware(due_at), _aware(now)
    if now >= due_at:
        return DueState.OVERDUE
    # The deadline is a local midnight: its last moment lies on the local day before it.
    last_day = local_day(due_at - timedelta(microseconds=1), tz)
    return DueState.DUE_TODAY if last_day <= local_day(now, tz) else DueState.ON_TIME


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: times are always timezone-aware")
    return moment
