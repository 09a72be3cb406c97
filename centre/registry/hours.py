"""Opening hours as one line of text, the terminal's `unit.opening_hours` written compactly.

The terminal's config lists periods as `{days: [mon, …], open: "HH:MM", close: "HH:MM"}` (days mon … sun,
local times, a lunch break is two periods). In a spreadsheet cell the same is written as groups of days,
each with its periods, groups separated by ";":

    mon-fri 09:00-12:00 13:30-17:30; sat 09:00-12:00

Days are a comma list of days or ranges (`mon,wed,fri`, `mon-fri`); a period is `HH:MM-HH:MM` (an en dash
is taken too), closing after opening on the same day. An empty text means no hours are shown.
"""
from __future__ import annotations

import re
from datetime import time

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_PERIOD = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")


class BadHours(ValueError):
    """The text is not opening hours; the message says what is wrong, for an office to fix."""


def parse(text: str) -> list[tuple[tuple[str, ...], time, time]]:
    """[(days, open, close)], one per period, in the order written; raises BadHours."""
    periods: list[tuple[tuple[str, ...], time, time]] = []
    for group in re.split(r"[;；]", text.replace("–", "-").replace("—", "-")):
        words = group.replace("，", ",").split()
        if not words:
            continue
        days = _days(words[0])
        if len(words) == 1:
            raise BadHours(f"{group.strip()!r}: days without hours (write e.g. 'mon-fri 09:00-17:00')")
        for word in words[1:]:
            for item in filter(None, word.split(",")):
                periods.append((days, *_period(item)))
    return periods


def normalise(text: str) -> str:
    """The text in its one spelling (`mon-fri 09:00-12:00 13:30-17:30; sat 09:00-12:00`); raises BadHours."""
    groups: dict[tuple[str, ...], list[str]] = {}
    for days, start, end in parse(text):
        groups.setdefault(days, []).append(f"{start:%H:%M}-{end:%H:%M}")
    return "; ".join(f"{_days_text(days)} {' '.join(spans)}" for days, spans in groups.items())


def as_config(text: str) -> list[dict[str, object]]:
    """The terminal's `opening_hours` list for this text."""
    return [{"days": list(days), "open": f"{start:%H:%M}", "close": f"{end:%H:%M}"} for days, start, end in parse(text)]


def _days(word: str) -> tuple[str, ...]:
    chosen: set[int] = set()
    for part in filter(None, word.lower().split(",")):
        first, _, last = part.partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise BadHours(f"{part!r} is not a day or a range of days (mon, tue, wed, thu, fri, sat, sun; mon-fri)")
        start, end = DAYS.index(first), DAYS.index(last or first)
        if end < start:
            raise BadHours(f"{part!r}: a range of days runs forward, mon to sun")
        chosen.update(range(start, end + 1))
    if not chosen:
        raise BadHours(f"{word!r}: no days")
    return tuple(DAYS[index] for index in sorted(chosen))


def _period(item: str) -> tuple[time, time]:
    match = _PERIOD.match(item)
    if match is None:
        raise BadHours(f"{item!r} is not a period like 09:00-12:00")
    hours_open, minutes_open, hours_close, minutes_close = (int(value) for value in match.groups())
    if hours_open > 23 or hours_close > 23 or minutes_open > 59 or minutes_close > 59:
        raise BadHours(f"{item!r}: not a time of day (00:00 to 23:59)")
    start, end = time(hours_open, minutes_open), time(hours_close, minutes_close)
    if end <= start:
        raise BadHours(f"{item!r}: closes at {end:%H:%M}, not after it opens at {start:%H:%M}")
    return start, end


def _days_text(days: tuple[str, ...]) -> str:
    """Runs of three or more days as a range: (mon, tue, wed, thu, fri, sun) → mon-fri,sun."""
    indexes, parts, run = [DAYS.index(day) for day in days], [], [DAYS.index(days[0])]
    for index in [*indexes[1:], None]:
        if index is not None and index == run[-1] + 1:
            run.append(index)
            continue
        parts.extend([f"{DAYS[run[0]]}-{DAYS[run[-1]]}"] if len(run) >= 3 else [DAYS[i] for i in run])
        if index is not None:
            run = [index]
    return ",".join(parts)
