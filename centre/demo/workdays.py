"""How busy a day is, and when a unit is open on it: its opening hours (the registry's one-line syntax), the
weekday's load, and China's official calendar.

The calendar is the State Council's (the `chinese_calendar` package): a public holiday runs as a Sunday (the
offices shut, the halls that open every day keep their Sunday hours and load), and a weekend made a working
day to make up for one (调休) runs as a Monday. For a year that
package does not know yet, the plain week stands in, and the demo's summary says so. A unit's hours say
which days it opens at all; the load says how busy an open day is.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar

from centre.registry import hours

OFFICIAL = "China's official calendar (public holidays closed, 调休 working weekends open)"
PLAIN = "the plain week (no public holidays or 调休 working weekends: the calendar does not know {years} yet)"

# Relative to a midweek day. Mondays carry the weekend's backlog and Fridays are quieter; on the weekend
# only some halls open, and fewer people come.
WEEKDAY_LOAD = (1.15, 1.05, 1.0, 1.0, 0.9, 0.6, 0.45)
HOLIDAY = 6             # a public holiday runs as a Sunday
MAKE_UP = 0             # a 调休 working weekend runs as a Monday (the week's backlog comes with it)


def schedule_day(day: date) -> int:
    """The weekday (0 = Monday) whose hours and load apply on `day`."""
    try:
        off, holiday_name = chinese_calendar.get_holiday_detail(day)
    except NotImplementedError:      # a year the calendar does not cover: the plain week
        return day.weekday()
    if off and holiday_name is not None:     # a named holiday, a weekend within one included
        return HOLIDAY
    if day.weekday() >= 5 and not off:
        return MAKE_UP
    return day.weekday()


def calendar_used(days: list[date]) -> str:
    """What the demo's summary says about the calendar of these days."""
    unknown = sorted({day.year for day in days if not _covered(day)})
    return PLAIN.format(years=", ".join(map(str, unknown))) if unknown else OFFICIAL


def _covered(day: date) -> bool:
    try:
        chinese_calendar.is_workday(day)
    except NotImplementedError:
        return False
    return True


def load(day: date) -> float:
    return WEEKDAY_LOAD[schedule_day(day)]


def periods(opening_hours: str, day: date, zone: ZoneInfo) -> list[tuple[datetime, datetime]]:
    """The unit's open periods on `day` (its local calendar day), as aware times, in order; [] when closed."""
    weekday = hours.DAYS[schedule_day(day)]
    found = [(datetime.combine(day, start, zone), datetime.combine(day, end, zone))
             for days, start, end in hours.parse(opening_hours) if weekday in days]
    return sorted(found)


def days_until(last: date, count: int) -> list[date]:
    """The `count` days that end with `last`, oldest first."""
    return [last - timedelta(days=back) for back in range(count - 1, -1, -1)]


def noon(day: date, zone: ZoneInfo) -> datetime:
    """Where a business hall open all day changes shifts."""
    return datetime.combine(day, time(12, 30), zone)
