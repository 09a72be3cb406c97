"""China's working-day calendar as the centre counts deadlines: the State Council's, corrected by the office.

Three sources, the first that has a word on a day wins:
1. the office's corrections (table calendar_days, `evaluator centre calendar import`), day by day;
2. the `chinese_calendar` package: weekends, public holidays and the weekends made working days (调休);
3. for a year that package does not know (it raises NotImplementedError past its last year), the plain
   week: Monday to Friday. The State Council publishes a year's holidays in November or December, and a
   new release of the package follows weeks later, so each new year starts here unless the office has
   imported that year's notice. `unknown_years` names such years near today so the console can warn.

The office imports a year's notice as a whole, so any correction in a year counts as "imported": in that
year its rows are the holidays and make-up days, and the plain week fills the rest.

Loading is per ingest (cases open in the ingest's transaction), so `load_calendar` keeps the corrections in
a module cache per database and re-reads them only when count(*) and max(imported_at) of calendar_days
change: one aggregate over a table of a few dozen rows a year. A time-to-live would be as cheap but
wrong for a while after an import: the CLI imports from its own process, and each of a server's workers
must count the next deadline by the new calendar at once, not minutes later.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from threading import Lock

import chinese_calendar
from sqlalchemy import Connection, func, select

from centre.cases import deadlines
from centre.db.loop_tables import calendar_days
from centre.db.rows import utcnow

# How far ahead the console warns of a year nobody knows: deadlines of 15 working days reach about four
# weeks ahead (more across the Spring Festival), and the notice usually comes out in November.
UNKNOWN_AHEAD_DAYS = 45

_library_years: dict[int, bool] = {}


def library_knows(year: int) -> bool:
    """Whether the chinese_calendar package holds the State Council's holidays of `year`."""
    if year not in _library_years:
        try:
            chinese_calendar.is_workday(date(year, 6, 1))
            _library_years[year] = True
        except NotImplementedError:
            _library_years[year] = False
    return _library_years[year]


def library_working(day: date) -> bool | None:
    """The package's word on `day`: True for a working day (调休 weekends included), None for a year it does
    not know."""
    if not library_knows(day.year):
        return None
    return bool(chinese_calendar.is_workday(day))


@dataclass(frozen=True)
class Correction:
    """One of the office's corrections: a day made working (True) or a day off (False)."""

    working: bool
    note: str


class WorkingCalendar:
    """Working days: the office's corrections over the package's calendar over the plain week."""

    def __init__(self, corrections: Mapping[date, Correction], today: date | None = None):
        self.corrections = dict(corrections)
        self.imported_years = frozenset(day.year for day in self.corrections)
        today = today or utcnow().date()
        near = {today.year, (today + timedelta(days=UNKNOWN_AHEAD_DAYS)).year}
        # Years near today that only the plain week covers: the console asks for the State Council's notice.
        self.unknown_years = frozenset(year for year in near
                                       if not library_knows(year) and year not in self.imported_years)
        self._memo: dict[date, bool] = {}

    def is_working(self, day: date) -> bool:
        found = self._memo.get(day)
        if found is None:
            found = self._memo[day] = self._decide(day)
        return found

    def _decide(self, day: date) -> bool:
        correction = self.corrections.get(day)
        if correction is not None:
            return correction.working
        library = library_working(day)
        return library if library is not None else day.weekday() < 5

    def year_known(self, year: int) -> bool:
        """Whether `year` has real holidays (the package's or the office's import), not only the plain week."""
        return library_knows(year) or year in self.imported_years

    def add_working_days(self, start: datetime, n: int, tz: str) -> datetime:
        """The deadline: 24:00 local (as aware UTC) of the n-th working day after `start`'s local day in `tz`."""
        return deadlines.add_working_days(self.is_working, start, n, tz)

    def working_days_between(self, a: datetime, b: datetime, tz: str) -> int:
        return deadlines.working_days_between(self.is_working, a, b, tz)


@dataclass(frozen=True)
class _Cached:
    stamp: tuple[int, str | None]
    today: date
    calendar: WorkingCalendar


_cache: dict[str, _Cached] = {}
_cache_lock = Lock()


def load_calendar(conn: Connection, today: date | None = None) -> WorkingCalendar:
    """The calendar with the office's corrections in `conn`'s database; cached until they change."""
    today = today or utcnow().date()
    count, latest = conn.execute(select(func.count(), func.max(calendar_days.c.imported_at))).one()
    stamp = (int(count), latest)
    key = conn.engine.url.render_as_string(hide_password=False)
    cached = _cache.get(key)
    if cached is not None and cached.stamp == stamp and cached.today == today:
        return cached.calendar
    if cached is not None and cached.stamp == stamp:
        calendar = WorkingCalendar(cached.calendar.corrections, today)
    else:
        calendar = WorkingCalendar(read_corrections(conn), today)
    with _cache_lock:
        _cache[key] = _Cached(stamp, today, calendar)
    return calendar


def read_corrections(conn: Connection) -> dict[date, Correction]:
    rows = conn.execute(select(calendar_days.c.day, calendar_days.c.working, calendar_days.c.note))
    return {date.fromisoformat(day): Correction(bool(working), note) for day, working, note in rows}


def forget_cache() -> None:
    """Drop every cached calendar (an import calls it so its own process sees the change at once)."""
    with _cache_lock:
        _cache.clear()
