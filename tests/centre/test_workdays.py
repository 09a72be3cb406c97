"""Deadlines in working days (centre/cases/workdays.py, deadlines.py), in the unit's time zone, by China's
calendar as the chinese_calendar package has it (1.11: 2004–2026) and the office's corrections over it.

The 2026 dates are the package's: 国庆节 is 1–7 October (Thursday to Wednesday) with make-up working days
on Sunday 20 September and Saturday 10 October. 2027 is a year the package does not know.
"""
from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
from sqlalchemy import Engine, insert

from centre.cases import workdays
from centre.cases.calendar_commands import store
from centre.cases.calendar_file import DayRow
from centre.cases.deadlines import DueState, due_state
from centre.cases.workdays import Correction, WorkingCalendar, load_calendar
from centre.db.engine import open_engine
from centre.db.loop_tables import calendar_days
from centre.errors import BadInput
from contract import iso_utc

SHANGHAI, URUMQI = "Asia/Shanghai", "Asia/Urumqi"
TODAY = date(2026, 12, 5)


def local(tz: str, year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(tz))


def end_of(day: str, tz: str = SHANGHAI) -> datetime:
    """24:00 local of `day`, in UTC: what a deadline ending that day is."""
    return (datetime.combine(date.fromisoformat(day), datetime.min.time(), ZoneInfo(tz))
            + timedelta(days=1)).astimezone(UTC)


@pytest.fixture
def calendar() -> WorkingCalendar:
    return WorkingCalendar({}, TODAY)


def test_the_package_knows_2026s_national_day_and_its_make_up_days_as_the_tests_assume():
    assert all(chinese_calendar.is_holiday(date(2026, 10, day)) for day in range(1, 8))
    assert chinese_calendar.is_workday(date(2026, 9, 20)) and chinese_calendar.is_workday(date(2026, 10, 10))
    assert not workdays.library_knows(2027) and workdays.library_knows(2026)


def test_a_deadline_across_national_day_skips_the_holiday_week(calendar):
    review = local(SHANGHAI, 2026, 9, 30, 10, 0)           # Wednesday, the last working day before the holiday
    assert calendar.add_working_days(review, 1, SHANGHAI) == end_of("2026-10-08")
    # 8, 9 Oct, Saturday 10 Oct (调休), 12–16, 19–23, 26, 27: the 15th working day is Tuesday 27 October.
    assert calendar.add_working_days(review, 15, SHANGHAI) == end_of("2026-10-27")
    assert calendar.working_days_between(review, local(SHANGHAI, 2026, 10, 9, 12, 0), SHANGHAI) == 2


def test_a_make_up_saturday_is_a_working_day(calendar):
    friday = local(SHANGHAI, 2026, 10, 9, 16, 0)
    assert calendar.is_working(date(2026, 10, 10))
    assert calendar.add_working_days(friday, 1, SHANGHAI) == end_of("2026-10-10")
    saturday_before = local(SHANGHAI, 2026, 9, 19, 11, 0)   # Sunday 20 September is a make-up day too
    assert calendar.add_working_days(saturday_before, 1, SHANGHAI) == end_of("2026-09-20")


def test_a_review_on_a_weekend_counts_from_the_next_working_day(calendar):
    for day in (14, 15):   # Saturday and Sunday 14–15 November 2026
        review = local(SHANGHAI, 2026, 11, day, 10, 0)
        assert calendar.add_working_days(review, 1, SHANGHAI) == end_of("2026-11-16")
        assert calendar.add_working_days(review, 2, SHANGHAI) == end_of("2026-11-17")


def test_a_review_on_a_public_holiday_counts_from_the_first_working_day_after_it(calendar):
    review = local(SHANGHAI, 2026, 10, 3, 9, 0)
    assert calendar.add_working_days(review, 1, SHANGHAI) == end_of("2026-10-08")


def test_the_local_day_decides_not_the_utc_one(calendar):
    late_thursday = local(SHANGHAI, 2026, 11, 12, 23, 30)
    assert late_thursday.astimezone(UTC) == datetime(2026, 11, 12, 15, 30, tzinfo=UTC)
    assert calendar.add_working_days(late_thursday, 1, SHANGHAI) == end_of("2026-11-13")
    # Half past midnight on Friday in Shanghai, still Thursday in UTC: the clock starts on Friday.
    early_friday = local(SHANGHAI, 2026, 11, 13, 0, 30)
    assert early_friday.astimezone(UTC).date() == date(2026, 11, 12)
    assert calendar.add_working_days(early_friday, 1, SHANGHAI) == end_of("2026-11-16")
    assert end_of("2026-11-16") == datetime(2026, 11, 16, 16, 0, tzinfo=UTC)


def test_the_same_moment_is_thursday_in_urumqi_and_friday_in_shanghai(calendar):
    moment = datetime(2026, 11, 12, 17, 30, tzinfo=UTC)   # 23:30 in Urumqi (UTC+6), 01:30 Friday in Shanghai
    assert calendar.add_working_days(moment, 1, URUMQI) == end_of("2026-11-13", URUMQI)
    assert end_of("2026-11-13", URUMQI) == datetime(2026, 11, 13, 18, 0, tzinfo=UTC)
    assert calendar.add_working_days(moment, 1, SHANGHAI) == end_of("2026-11-16")


def test_zero_days_is_the_end_of_the_day_and_bad_arguments_are_refused(calendar):
    review = local(SHANGHAI, 2026, 11, 12, 9, 0)
    assert calendar.add_working_days(review, 0, SHANGHAI) == end_of("2026-11-12")
    with pytest.raises(ValueError):
        calendar.add_working_days(review, -1, SHANGHAI)
    with pytest.raises(ValueError):
        calendar.add_working_days(datetime(2026, 11, 12, 9, 0), 1, SHANGHAI)
    with pytest.raises(BadInput, match="Mars/Olympus"):
        calendar.add_working_days(review, 1, "Mars/Olympus")


def test_working_days_between_counts_local_days_and_is_negative_backwards(calendar):
    a, b = local(SHANGHAI, 2026, 9, 30, 10, 0), local(SHANGHAI, 2026, 10, 12, 10, 0)
    assert calendar.working_days_between(a, b, SHANGHAI) == 4        # 8, 9, 10 (调休), 12 October
    assert calendar.working_days_between(b, a, SHANGHAI) == -4
    assert calendar.working_days_between(a, a + timedelta(hours=1), SHANGHAI) == 0


def test_an_office_correction_overrides_the_package_both_ways():
    corrections = {date(2026, 10, 8): Correction(False, "extra day off"),
                   date(2026, 10, 10): Correction(False, "make-up day cancelled"),
                   date(2026, 10, 4): Correction(True, "the hall opens")}
    calendar = WorkingCalendar(corrections, TODAY)
    review = local(SHANGHAI, 2026, 9, 30, 10, 0)
    assert calendar.add_working_days(review, 1, SHANGHAI) == end_of("2026-10-04")
    assert calendar.add_working_days(review, 2, SHANGHAI) == end_of("2026-10-09")
    assert calendar.add_working_days(review, 3, SHANGHAI) == end_of("2026-10-12")


def test_an_unknown_year_falls_back_to_the_plain_week_and_is_named(calendar):
    assert calendar.unknown_years == frozenset({2027})
    assert not calendar.year_known(2027)
    new_years_eve = local(SHANGHAI, 2026, 12, 31, 10, 0)
    assert calendar.is_working(date(2027, 1, 1))      # a Friday: the plain week knows no 元旦
    assert not calendar.is_working(date(2027, 1, 2))
    assert calendar.add_working_days(new_years_eve, 1, SHANGHAI) == end_of("2027-01-01")


def test_only_years_near_today_are_named_unknown():
    assert WorkingCalendar({}, date(2026, 6, 1)).unknown_years == frozenset()
    assert WorkingCalendar({}, date(2026, 11, 20)).unknown_years == frozenset({2027})
    assert WorkingCalendar({}, date(2027, 3, 1)).unknown_years == frozenset({2027})


def test_a_calendar_with_no_working_day_stops_with_an_error():
    never = {date(2026, 11, 13) + timedelta(days=step): Correction(False, "shut") for step in range(800)}
    with pytest.raises(BadInput, match="no working day"):
        WorkingCalendar(never, TODAY).add_working_days(local(SHANGHAI, 2026, 11, 12, 9, 0), 1, SHANGHAI)


def test_due_state_in_the_units_zone():
    due = end_of("2026-11-16")                           # Monday 24:00 in Shanghai
    assert due_state(due, local(SHANGHAI, 2026, 11, 13, 9, 0), SHANGHAI) is DueState.ON_TIME
    assert due_state(due, local(SHANGHAI, 2026, 11, 16, 0, 5), SHANGHAI) is DueState.DUE_TODAY
    assert due_state(due, local(SHANGHAI, 2026, 11, 16, 23, 59), SHANGHAI) is DueState.DUE_TODAY
    assert due_state(due, local(SHANGHAI, 2026, 11, 17, 0, 0), SHANGHAI) is DueState.OVERDUE


# -- the office's corrections in the database, on SQLite and PostgreSQL --------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        made = open_engine(f"sqlite:///{tmp_path / 'centre.db'}")
        yield made
        made.dispose()
        return
    shared: Engine = request.getfixturevalue("pg_engine")
    with shared.begin() as conn:
        conn.execute(calendar_days.delete())
    yield shared


def rows(*days: tuple[str, bool, str]) -> list[DayRow]:
    return [DayRow(date.fromisoformat(day), working, note, line) for line, (day, working, note)
            in enumerate(days, start=2)]


def test_an_imported_year_is_no_longer_unknown_and_its_holidays_count(engine):
    with engine.connect() as conn:
        before = load_calendar(conn, TODAY)
    assert before.unknown_years == frozenset({2027})
    store(engine, rows(("2027-01-01", False, "元旦")), "office", datetime(2026, 12, 5, 8, 0, tzinfo=UTC))
    with engine.connect() as conn:
        after = load_calendar(conn, TODAY)
    assert after.unknown_years == frozenset() and after.year_known(2027)
    assert after.add_working_days(local(SHANGHAI, 2026, 12, 31, 10, 0), 1, SHANGHAI) == end_of("2027-01-04")


def test_re_importing_a_day_replaces_the_correction(engine):
    at = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)
    assert store(engine, rows(("2026-11-16", False, "typhoon")), "a", at) == (1, 0)
    assert store(engine, rows(("2026-11-16", True, "typhoon passed"), ("2026-11-17", False, "x")), "b",
                 at + timedelta(minutes=1)) == (1, 1)
    with engine.connect() as conn:
        held = conn.execute(calendar_days.select().order_by(calendar_days.c.day)).mappings().all()
        calendar = load_calendar(conn, TODAY)
    assert [(row["day"], bool(row["working"]), row["note"], row["imported_by"]) for row in held] == [
        ("2026-11-16", True, "typhoon passed", "b"), ("2026-11-17", False, "x", "b")]
    assert calendar.is_working(date(2026, 11, 16)) and not calendar.is_working(date(2026, 11, 17))


def test_the_cache_serves_until_another_process_changes_the_table(engine):
    with engine.connect() as conn:
        first = load_calendar(conn, TODAY)
        assert load_calendar(conn, TODAY) is first
    # A row written behind the module's back (as another process's import would): the stamp sees it.
    with engine.begin() as conn:
        conn.execute(insert(calendar_days).values(day="2026-11-16", working=False, note="typhoon",
                                                  imported_at=iso_utc(datetime(2026, 12, 5, tzinfo=UTC)),
                                                  imported_by="other"))
    with engine.connect() as conn:
        second = load_calendar(conn, TODAY)
    assert second is not first and not second.is_working(date(2026, 11, 16))
