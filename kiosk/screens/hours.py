"""Opening hours: whether the hall is open at a moment, and the table the waiting screen shows. No Kivy.

The table has one row per group of days that share the same periods: the days in one column ("周一至周五",
runs of consecutive days as a range), each period on its own line in the other ("09:00–12:00", "13:30–17:30"),
so that a second period lines up under the first, never under the days. Days not listed are closed.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from kiosk.config import Locale, OpeningPeriod, Weekday
from kiosk.screens.texts import Voice

say = Voice("hours")
Period = tuple[dt.time, dt.time]   # open, close


@dataclass(frozen=True)
class HoursRow:
    days: str                  # "周一至周五"
    sessions: tuple[str, ...]  # one line each: ("09:00–12:00", "13:30–17:30"), or ("休息",)


@dataclass(frozen=True)
class HoursModel:
    heading: str
    rows: tuple[HoursRow, ...]     # one per group of days with the same periods
    status: str                    # open now / closed now
    open_now: bool


def periods_on(hours: Iterable[OpeningPeriod], weekday: int) -> list[Period]:
    """The (open, close) periods of one weekday (Monday = 0), in order."""
    return sorted((p.open, p.close) for p in hours if any(day.index == weekday for day in p.days))


def is_open(hours: Iterable[OpeningPeriod], local: dt.datetime) -> bool:
    """Open at this local wall-clock time: inside a period, opening minute included, closing minute not."""
    now = local.time()
    return any(start <= now < end for start, end in periods_on(hours, local.weekday()))


def present(hours: tuple[OpeningPeriod, ...], local: dt.datetime, locale: Locale) -> HoursModel | None:
    """What the waiting screen shows at `local` (the unit's wall clock); None when no hours are configured."""
    if not hours:
        return None
    by_day = [tuple(periods_on(hours, day)) for day in range(7)]
    groups: list[tuple[list[int], tuple[Period, ...]]] = []      # days in order, grouped by identical periods
    for day, periods in enumerate(by_day):
        for days, shared in groups:
            if shared == periods:
                days.append(day)
                break
        else:
            groups.append(([day], periods))
    rows = tuple(HoursRow(_days(days, locale), tuple(f"{start:%H:%M}–{end:%H:%M}" for start, end in periods)
                          or (say("closed", locale),)) for days, periods in groups)
    now_open = is_open(hours, local)
    return HoursModel(say("heading", locale), rows, say("open_now" if now_open else "closed_now", locale), now_open)


def _days(days: list[int], locale: Locale) -> str:
    """[0, 1, 2, 3, 4] → 周一至周五; [0, 2, 5] → 周一、周三、周六; runs of three or more become ranges."""
    names, parts, run = [say(day, locale) for day in Weekday], [], [days[0]]
    for day in [*days[1:], None]:
        if day is not None and day == run[-1] + 1:
            run.append(day)
            continue
        if len(run) >= 3:
            parts.append(f"{names[run[0]]}{say('through', locale)}{names[run[-1]]}")
        else:
            parts.extend(names[d] for d in run)
        if day is not None:
            run = [day]
    return say("and", locale).join(parts)


def next_change(hours: Iterable[OpeningPeriod], local: dt.datetime) -> dt.datetime | None:
    """The next opening or closing moment after `local` (within a week), when "open now" flips; None if never."""
    hours = tuple(hours)
    for ahead in range(8):
        day = local.date() + dt.timedelta(days=ahead)
        for start, end in periods_on(hours, day.weekday()):
            for moment in (start, end):
                when = dt.datetime.combine(day, moment, tzinfo=local.tzinfo)
                if when > local:
                    return when
    return None
