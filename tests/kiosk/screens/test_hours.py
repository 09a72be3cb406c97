"""Opening hours: config, "open now", the table the waiting screen shows, and when they change."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from kiosk.config import ConfigError, Locale, Settings, load
from kiosk.screens import hours

ZONE = ZoneInfo("Asia/Shanghai")
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]


def at(day: int, hhmm: str) -> dt.datetime:
    """2026-11-23 is a Monday: day 0 = Monday … 6 = Sunday."""
    h, m = map(int, hhmm.split(":"))
    return dt.datetime(2026, 11, 23 + day, h, m, tzinfo=ZONE)


def settings_with(periods) -> Settings:
    return Settings.model_validate({"unit": {"opening_hours": periods}})


DEFAULT = Settings().unit.opening_hours


@pytest.mark.parametrize(("moment", "expected"), [
    (at(0, "08:59"), False), (at(0, "09:00"), True), (at(0, "11:59"), True), (at(0, "12:00"), False),
    (at(2, "13:30"), True), (at(4, "17:29"), True), (at(4, "17:30"), False), (at(5, "10:00"), False),
    (at(6, "10:00"), False),
])
def test_open_from_the_opening_minute_until_the_closing_one(moment, expected):
    assert hours.is_open(DEFAULT, moment) is expected


def rows(model) -> list[tuple[str, tuple[str, ...]]]:
    return [(row.days, row.sessions) for row in model.rows]


def test_days_with_the_same_periods_share_a_row_each_period_a_line_and_missing_days_are_closed():
    # Days | sessions, each session on its own line: the afternoon lines up under the morning, in the
    # sessions' column (one text "周一至周五  09:00–12:00  13:30–17:30" wrapped it under the days).
    model = hours.present(DEFAULT, at(0, "10:00"), Locale.ZH)
    assert rows(model) == [("周一至周五", ("09:00–12:00", "13:30–17:30")), ("周六、周日", ("休息",))]
    assert (model.heading, model.status, model.open_now) == ("办公时间", "正在办公", True)
    english = hours.present(DEFAULT, at(5, "10:00"), Locale.EN)
    assert rows(english) == [("Mon–Fri", ("09:00–12:00", "13:30–17:30")), ("Sat, Sun", ("closed",))]
    assert (english.status, english.open_now) == ("Closed now", False)


def test_irregular_days_are_listed_and_runs_become_ranges():
    settings = settings_with([{"days": ["mon", "wed", "thu", "fri"], "open": "08:30", "close": "17:00"},
                              {"days": ["tue"], "open": "08:30", "close": "20:00"},
                              {"days": ["sat"], "open": "09:00", "close": "12:00"}])
    model = hours.present(settings.unit.opening_hours, at(1, "19:00"), Locale.ZH)
    assert rows(model) == [("周一、周三至周五", ("08:30–17:00",)), ("周二", ("08:30–20:00",)),
                           ("周六", ("09:00–12:00",)), ("周日", ("休息",))]


def test_no_hours_configured_shows_nothing():
    assert hours.present(settings_with([]).unit.opening_hours, at(0, "10:00"), Locale.ZH) is None


@pytest.mark.parametrize(("moment", "expected"), [
    (at(0, "08:00"), at(0, "09:00")), (at(0, "09:00"), at(0, "12:00")), (at(0, "12:10"), at(0, "13:30")),
    (at(4, "18:00"), at(7, "09:00")),           # Friday evening → Monday morning
])
def test_next_change_is_the_next_opening_or_closing(moment, expected):
    assert hours.next_change(DEFAULT, moment) == expected


def test_unquoted_yaml_times_mean_hours_and_minutes(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("unit:\n  opening_hours:\n    - {days: [sat], open: 9:30, close: 12:00}\n")
    period = load(path).unit.opening_hours[0]
    assert (period.open, period.close) == (dt.time(9, 30), dt.time(12, 0))


@pytest.mark.parametrize(("period", "named"), [
    ({"days": ["mon"], "open": "12:00", "close": "09:00"}, "closes at 09:00, not after it opens at 12:00"),
    ({"days": ["monday"], "open": "09:00", "close": "12:00"}, "unit.opening_hours.0.days.0"),
    ({"days": [], "open": "09:00", "close": "12:00"}, "unit.opening_hours.0.days"),
    ({"days": ["mon"], "open": "25:00", "close": "26:00"}, "unit.opening_hours.0.open"),
])
def test_bad_hours_are_config_errors_naming_the_field(tmp_path, period, named):
    import yaml

    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"unit": {"opening_hours": [period]}}))
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert named in str(caught.value)
