"""The standard indicators (centre/indicators.py, docs/indicators.md): periods in each unit's zone, the
Wilson interval, the same numbers from the CLI, the API and the day summary."""
from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
import requests
from sqlalchemy import select

from centre import scopes
from centre.comparisons import breakdown, ranking, trend
from centre.db.tables import districts
from centre.errors import BadInput
from centre.indicators import (
    CITY,
    MIN_RATINGS,
    Interval,
    Period,
    PeriodKind,
    Scope,
    choose_period,
    compute,
    period_of,
    wilson,
)
from centre.registry import queries
from centre.registry.model import UnitSpec
from centre.rollup_reads import Spans, spans
from contract import iso_utc
from tests.centre.conftest import TIMEOUT


def figures(collector, headers: dict[str, str] | None = None, **params) -> requests.Response:
    return requests.get(collector.url + "/v1/indicators", params=params, headers=headers or collector.bearer(),
                        timeout=TIMEOUT)


def test_wilson_interval_against_known_values() -> None:
    # Wilson (1927), as tabled by Newcombe (1998) and Agresti & Coull (1998).
    for (successes, trials), (low, high) in (((81, 263), (0.2553, 0.3662)), ((5, 10), (0.2366, 0.7634)),
                                             ((0, 10), (0.0, 0.2775)), ((80, 100), (0.7112, 0.8666))):
        found = wilson(successes, trials)
        assert found is not None
        assert found == pytest.approx((low, high), abs=5e-5), (successes, trials)
    assert wilson(0, 0) is None


def test_periods() -> None:
    day = date(2026, 11, 4)   # a Wednesday
    assert (period_of(PeriodKind.WEEK, day).start, period_of(PeriodKind.WEEK, day).end) == (
        date(2026, 11, 2), date(2026, 11, 8))
    assert period_of(PeriodKind.MONTH, date(2028, 2, 10)).end == date(2028, 2, 29)
    assert (period_of(PeriodKind.QUARTER, day).start, period_of(PeriodKind.QUARTER, day).end) == (
        date(2026, 10, 1), date(2026, 12, 31))
    assert period_of(PeriodKind.YEAR, day).start == date(2026, 1, 1)
    assert choose_period(None, None, None, None, day) == period_of(PeriodKind.DAY, day)
    custom = choose_period(None, None, date(2026, 1, 5), date(2026, 2, 5), day)
    assert (custom.kind, custom.start, custom.end) == (PeriodKind.CUSTOM, date(2026, 1, 5), date(2026, 2, 5))
    for bad in (("month", None, date(2026, 1, 5), date(2026, 2, 5)), (None, None, date(2026, 1, 5), None),
                (None, None, date(2026, 2, 5), date(2026, 1, 5)), ("fortnight", None, None, None)):
        with pytest.raises(BadInput):
            choose_period(*bad, day)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def test_a_week_counts_each_units_own_local_days(collector, enroll_device) -> None:
    """Week 2026-11-02 (Mon) – 11-08 (Sun). New York leaves summer time on Sunday 1 November (a 25-hour
    day); Shanghai has no summer time. Ratings just inside and just outside each unit's local week."""
    shanghai = enroll_device(timezone_name="Asia/Shanghai")
    new_york = enroll_device(timezone_name="America/New_York")
    sh_rows = [shanghai.rating(5, recorded_at=at("2026-11-02T00:05:00+08:00")),     # Sunday 16:05 UTC: inside
               shanghai.rating(1, recorded_at=at("2026-11-08T23:30:00+08:00")),     # inside
               shanghai.rating(5, recorded_at=at("2026-11-09T00:10:00+08:00")),     # next Monday: outside
               shanghai.rating(4, recorded_at=at("2026-11-01T23:50:00+08:00"))]     # the Sunday before: outside
    ny_rows = [new_york.rating(2, recorded_at=at("2026-11-01T23:30:00-05:00")),     # Monday 04:30 UTC: outside
               new_york.rating(3, recorded_at=at("2026-11-02T00:30:00-05:00")),     # inside
               new_york.rating(5, recorded_at=at("2026-11-08T23:59:00-05:00"))]     # Monday 04:59 UTC: inside
    reason = [{"id": 1, "rating_uuid": sh_rows[1]["uuid"], "code": "slow", "recorded_at": sh_rows[1]["recorded_at"]}]
    assert shanghai.ingest(shanghai.batch(sh_rows, reasons=reason)).status_code == 200
    assert new_york.ingest(new_york.batch(ny_rows)).status_code == 200

    week = {"period": "week", "date": "2026-11-04"}
    sh = figures(collector, unit=shanghai.unit_id, **week).json()
    ny = figures(collector, unit=new_york.unit_id, **week).json()
    both = figures(collector, unit=[shanghai.unit_id, new_york.unit_id], **week).json()
    city = figures(collector, **week).json()
    assert (sh["from"], sh["to"], sh["period"]) == ("2026-11-02", "2026-11-08", "week")
    assert (sh["rated"], sh["by_level"], sh["bad_reasons"]) == (2, {"1": 1, "2": 0, "3": 0, "4": 0, "5": 1},
                                                                {"slow": 1})
    assert (ny["rated"], ny["good"], ny["bad"]) == (2, 2, 0)
    assert (both["rated"], both["good"], both["bad"], both["good_rate"], both["bad_rate"]) == (4, 3, 1, 0.75, 0.25)
    assert {key: city[key] for key in ("rated", "by_level", "bad_reasons")} == {
        key: both[key] for key in ("rated", "by_level", "bad_reasons")}
    custom = figures(collector, unit=new_york.unit_id, **{"from": "2026-11-01", "to": "2026-11-01"}).json()
    assert (custom["period"], custom["rated"], custom["bad"]) == ("custom", 1, 1)


def test_figures_requests_suppressed_too_few_and_the_loop(collector, enroll_device) -> None:
    device = enroll_device()
    moment = at("2026-11-20T10:00:00+08:00")
    rows = [device.rating(level, recorded_at=moment) for level in (5, 4, 3, 1)]
    event = {"recorded_at": iso_utc(moment), "mono_ns": 1, "boot_id": "b"}
    events = [{"id": i, "kind": kind, "detail": {"staff_id": "s-1"}, **event} for i, kind in
              enumerate(("solicited", "solicited", "solicited", "solicited", "unrated", "suppressed"), start=1)]
    assert device.ingest(device.batch(rows, events=events)).status_code == 200
    got = figures(collector, unit=device.unit_id, period="month", date="2026-11-01").json()
    assert (got["rated"], got["good"], got["bad"], got["requests"], got["unrated"], got["suppressed"]) == (
        4, 3, 1, 4, 1, 1)
    assert (got["unrated_rate"], got["active_rate"], got["too_few"], got["min_ratings"]) == (0.25, 0.75, True, 100)
    low, high = wilson(3, 4)  # type: ignore[misc]
    assert got["good_rate_interval"] == {"low": low, "high": high}
    # the bad review's case has just opened (its rectification due in 15 working days): none answered yet
    assert got["loop"] == {"reply_rate": 0.0, "rectified_rate": None, "rectified_satisfied_rate": None,
                           "callback_rate": None, "cases": 1, "overdue": 0, "median_hours_to_contact": None,
                           "median_hours_to_close": None, "status": "measured"}
    enough = figures(collector, unit=device.unit_id, period="month", date="2026-11-01", min_ratings="4").json()
    assert enough["too_few"] is False


def test_cli_api_and_summary_give_the_same_numbers(collector, enroll_device) -> None:
    device = enroll_device()
    moment = at("2026-10-08T09:00:00+08:00")
    rows = [device.rating(level, recorded_at=moment, staff_id=staff) for level, staff in
            ((5, "s-1"), (2, "s-2"), (1, None), (3, "s-1"))]
    reasons = [{"id": 1, "rating_uuid": rows[1]["uuid"], "code": "rude", "recorded_at": iso_utc(moment)},
               {"id": 2, "rating_uuid": rows[2]["uuid"], "code": "slow", "recorded_at": iso_utc(moment)}]
    events = [{"id": 1, "kind": "unrated", "recorded_at": iso_utc(moment), "mono_ns": 1, "boot_id": "b",
               "detail": {"staff_id": "s-1"}}]
    assert device.ingest(device.batch(rows, reasons=reasons, events=events)).status_code == 200

    api = figures(collector, unit=device.unit_id, date="2026-10-08").json()
    cli = collector.cli("indicators", "--unit", device.unit_id, "--date", "2026-10-08", "--json")
    assert cli.returncode == 0, cli.stderr
    assert json.loads(cli.stdout) == api
    text = collector.cli("indicators", "--unit", device.unit_id, "--period", "quarter", "--date", "2026-10-08")
    assert "评价数 rated               4" in text.stdout and "good rate           50.0 %" in text.stdout

    day = requests.get(collector.url + "/v1/reports/summary", params={"unit": device.unit_id, "date": "2026-10-08"},
                       headers=collector.bearer(), timeout=TIMEOUT).json()
    assert (api["rated"], api["by_level"], api["good_rate"], api["bad_reasons"], api["unrated"], api["suppressed"],
            api["before_enrollment"]) == (day["total"], day["by_level"], day["good_rate"], day["bad_reasons"],
                                          day["unrated"], day["suppressed"], day["before_enrollment"])


def test_indicators_answer_only_within_the_tokens_scope(collector, enroll_device) -> None:
    mine, other = enroll_device(), enroll_device()
    unit_token = collector.bearer(mine.unit_id)
    assert figures(collector, unit_token, unit=mine.unit_id).status_code == 200
    assert figures(collector, unit_token, unit=other.unit_id).status_code == 403
    own = figures(collector, unit_token)       # nothing named: the token's whole scope, never the city
    assert own.status_code == 200 and (own.json()["scope"], own.json()["unit_ids"]) == (f"unit: {mine.unit_id}",
                                                                                        [mine.unit_id])
    assert requests.get(collector.url + "/v1/indicators", timeout=TIMEOUT).status_code == 401
    assert figures(collector, unit="no-such-unit").status_code == 404
    assert figures(collector, unit=mine.unit_id, **{"from": "2026-02-01"}).status_code == 422
    assert figures(collector, unit=mine.unit_id, period="fortnight").status_code == 422
    bad = collector.cli("indicators", "--unit", mine.unit_id, "--from", "2026-03-01", "--to", "2026-02-01")
    assert bad.returncode == 2 and "before it starts" in bad.stderr


# -- many scopes at once: ranking, trend, breakdown, against a recount of the ratings sent ----------------

# Each unit: (district, sector, zone, [(local time, level), …]). The range 2026-01-20 – 03-10 holds the
# month's edges: its days from rollup_days, February from rollup_months. New York's 23:30 on 28 February is
# 1 March in UTC, Shanghai's 00:10 on 1 March is 28 February in UTC: each counts on its unit's own day (New
# York's offsets are its own: summer time from 8 March).
RANGE = (date(2026, 1, 20), date(2026, 3, 10))
CITY_UNITS = {
    "u-a": ("东区", "education", "Asia/Shanghai", [
        ("2026-01-19T23:50:00+08:00", 1), ("2026-01-20T00:10:00+08:00", 5), ("2026-01-31T23:59:00+08:00", 4),
        ("2026-02-01T09:00:00+08:00", 5), ("2026-02-15T09:00:00+08:00", 1), ("2026-02-28T23:00:00+08:00", 3),
        ("2026-03-01T00:10:00+08:00", 5), ("2026-03-09T12:00:00+08:00", 4), ("2026-03-10T23:59:00+08:00", 5),
        ("2026-03-11T00:01:00+08:00", 1)]),
    "u-b": ("东区", "health", "Asia/Shanghai", [
        ("2026-01-25T10:00:00+08:00", 5), ("2026-02-02T10:00:00+08:00", 2), ("2026-02-20T10:00:00+08:00", 4),
        ("2026-03-02T10:00:00+08:00", 3), ("2026-03-05T10:00:00+08:00", 5)]),
    "u-c": ("西区", "education", "America/New_York", [
        ("2026-01-20T00:30:00-05:00", 4), ("2026-02-10T10:00:00-05:00", 1), ("2026-02-28T23:30:00-05:00", 5),
        ("2026-03-01T00:30:00-05:00", 5), ("2026-03-10T23:00:00-04:00", 3), ("2026-03-11T00:30:00-04:00", 1)]),
    "u-d": ("西区", "health", "Asia/Shanghai", []),
    "u-e": ("东区", "education", "Asia/Shanghai", [("2026-02-03T10:00:00+08:00", 5), ("2026-02-04T10:00:00+08:00", 5)]),
}


def local_rows(units_: list[str] | None = None) -> list[tuple[str, date, int]]:
    """(unit, local day, level) of every rating sent, of these units (None: all)."""
    return [(unit, datetime.fromisoformat(moment).date(), level) for unit, (*_, rows) in CITY_UNITS.items()
            if units_ is None or unit in units_ for moment, level in rows]


def recount(units_: list[str] | None, first: date, last: date) -> tuple[int, int]:
    """(rated, good) of the units' ratings on local days first … last, from the ratings as sent."""
    levels = [level for _, day, level in local_rows(units_) if first <= day <= last]
    return len(levels), sum(1 for level in levels if level >= 3)


def assert_figures(found, rated_good: tuple[int, int], min_ratings: int) -> None:
    rated, good = rated_good
    interval = wilson(good, rated)
    assert (found.rated, found.good, found.bad, found.too_few) == (rated, good, rated - good, rated < min_ratings)
    assert found.good_rate == (good / rated if rated else None)
    assert found.good_rate_interval == (Interval(low=interval[0], high=interval[1]) if interval else None)


@pytest.fixture
def city(collector, enroll_device) -> dict[str, int]:
    """The units of CITY_UNITS enrolled, placed in their districts and sectors, their ratings ingested; the
    districts' ids by name."""
    for unit, (district, sector, zone, rows) in CITY_UNITS.items():
        device = enroll_device(unit=unit, timezone_name=zone)
        with collector.engine.begin() as conn:
            queries.save(conn, [UnitSpec(id=unit, name=f"单位{unit[-1]}", name_en=f"Unit {unit[-1].upper()}",
                                         district=district, district_en=None, sector=sector, timezone=zone)], [])
        if rows:
            batch = device.batch([device.rating(level, recorded_at=at(moment)) for moment, level in rows])
            assert device.ingest(batch).status_code == 200
    with collector.engine.connect() as conn:
        return {row.name: row.id for row in conn.execute(select(districts.c.id, districts.c.name))}


def test_spans_read_whole_months_from_the_month_sums_and_the_edges_from_the_day_sums() -> None:
    assert spans(*RANGE) == Spans(("2026-02", "2026-02"), (("2026-01-20", "2026-01-31"), ("2026-03-01", "2026-03-10")))
    assert spans(date(2026, 1, 1), date(2026, 3, 31)) == Spans(("2026-01", "2026-03"), ())
    assert spans(date(2026, 1, 15), date(2026, 2, 10)) == Spans(None, (("2026-01-15", "2026-02-10"),))
    assert spans(date(2028, 2, 1), date(2028, 2, 29)) == Spans(("2028-02", "2028-02"), ())
    assert spans(date(2026, 2, 1), date(2026, 2, 27)) == Spans(None, (("2026-02-01", "2026-02-27"),))
    assert spans(date(2026, 1, 1), date(2026, 3, 31), by_day=True) == Spans(None, (("2026-01-01", "2026-03-31"),))


def test_a_period_over_months_and_days_counts_as_the_ratings_say(collector, city) -> None:
    period = Period(PeriodKind.CUSTOM, *RANGE)
    assert_figures(compute(collector.engine, CITY, period), recount(None, *RANGE), MIN_RATINGS)
    for unit in CITY_UNITS:
        assert_figures(compute(collector.engine, Scope.units([unit]), period), recount([unit], *RANGE), MIN_RATINGS)
    february = period_of(PeriodKind.MONTH, date(2026, 2, 1))
    assert_figures(compute(collector.engine, CITY, february), recount(None, february.start, february.end),
                   MIN_RATINGS)


def test_the_ranking_orders_by_the_wilson_lower_bound_and_lists_too_few_after(collector, city) -> None:
    period = Period(PeriodKind.CUSTOM, *RANGE)
    ranked = ranking(collector.engine, period, min_ratings=3)
    assert [(unit.unit_id, unit.rank) for unit in ranked.units] == [
        ("u-a", 1), ("u-b", 2), ("u-c", 2), ("u-d", None), ("u-e", None)]   # b and c: 4 of 5 each, a tie
    for unit in ranked.units:
        assert_figures(unit, recount([unit.unit_id], *RANGE), 3)
    assert (ranked.units[0].name, ranked.units[0].name_en) == ("单位a", "Unit A")
    assert ranked.units[4].good_rate == 1.0 and ranked.units[4].too_few      # 2 of 2: shown, never ranked
    assert (ranked.date_from, ranked.date_to, ranked.min_ratings) == ("2026-01-20", "2026-03-10", 3)
    some = ranking(collector.engine, period, ["u-c", "u-a", "u-x"], min_ratings=3)
    assert [(unit.unit_id, unit.rank, unit.rated) for unit in some.units] == [
        ("u-a", 1, 8), ("u-c", 2, 5), ("u-x", None, 0)]
    assert all(unit.rank is None for unit in ranking(collector.engine, period).units)   # 100 ratings: none has


@pytest.mark.parametrize("step", ["day", "week", "month"])
def test_a_trend_has_every_bucket_of_the_range_with_its_ratings(collector, city, step: str) -> None:
    east = city["东区"]
    found = trend(collector.engine, scopes.Scope(districts=(east,)), *RANGE, step, min_ratings=2)
    assert (found.scope, found.step.value, found.date_from, found.date_to) == (
        "district: 东区", step, "2026-01-20", "2026-03-10")
    firsts = [date.fromisoformat(bucket.date_from) for bucket in found.buckets]
    lasts = [date.fromisoformat(bucket.date_to) for bucket in found.buckets]
    assert firsts[0] == RANGE[0] and lasts[-1] == RANGE[1]
    assert all(following == last + timedelta(days=1) for last, following in zip(lasts, firsts[1:]))
    expected_count = {"day": 50, "week": 8, "month": 3}[step]
    assert len(found.buckets) == expected_count
    if step == "week":
        assert all(first.weekday() == 0 for first in firsts[1:]) and all(last.weekday() == 6 for last in lasts[:-1])
    if step == "month":
        assert [(b.date_from, b.date_to) for b in found.buckets] == [
            ("2026-01-20", "2026-01-31"), ("2026-02-01", "2026-02-28"), ("2026-03-01", "2026-03-10")]
    east_units = [unit for unit, (district, *_) in CITY_UNITS.items() if district == "东区"]
    for bucket, first, last in zip(found.buckets, firsts, lasts):
        assert_figures(bucket, recount(east_units, first, last), 2)
    assert sum(bucket.rated for bucket in found.buckets) == recount(east_units, *RANGE)[0] == 15


def test_a_trend_of_units_or_the_city_and_its_bad_input(collector, city) -> None:
    one = trend(collector.engine, scopes.Scope(units=("u-c",)), date(2026, 2, 28), date(2026, 3, 1), "day")
    assert [(b.date_from, b.rated, b.good) for b in one.buckets] == [("2026-02-28", 1, 1), ("2026-03-01", 1, 1)]
    everything = trend(collector.engine, scopes.CITY, *RANGE, "month")
    assert [b.rated for b in everything.buckets] == [recount(None, date(2026, 1, 20), date(2026, 1, 31))[0],
                                                     recount(None, date(2026, 2, 1), date(2026, 2, 28))[0],
                                                     recount(None, date(2026, 3, 1), date(2026, 3, 10))[0]]
    with pytest.raises(BadInput):
        trend(collector.engine, scopes.CITY, *RANGE, "fortnight")
    with pytest.raises(BadInput):
        trend(collector.engine, scopes.CITY, RANGE[1], RANGE[0], "day")


def test_a_breakdown_by_district_sector_or_unit(collector, city) -> None:
    period = Period(PeriodKind.CUSTOM, *RANGE)
    by_district = breakdown(collector.engine, scopes.CITY, period, "district", min_ratings=3)
    assert [(group.key, group.name) for group in by_district.groups] == [
        (str(city["东区"]), "东区"), (str(city["西区"]), "西区")]
    for group in by_district.groups:
        members = [unit for unit, (district, *_) in CITY_UNITS.items() if district == group.name]
        assert_figures(group, recount(members, *RANGE), 3)
    assert sum(group.rated for group in by_district.groups) == compute(collector.engine, CITY, period).rated

    west = breakdown(collector.engine, scopes.Scope(districts=(city["西区"],)), period, "sector", min_ratings=3)
    assert (west.scope, west.by.value) == ("district: 西区", "sector")
    assert [(group.key, group.name, group.name_en) for group in west.groups] == [
        ("education", "教育", "Education"), ("health", "卫生", "Health")]   # health's unit has no rating: zeros
    assert_figures(west.groups[0], recount(["u-c"], *RANGE), 3)
    assert_figures(west.groups[1], (0, 0), 3)

    february = period_of(PeriodKind.MONTH, date(2026, 2, 1))
    by_unit = breakdown(collector.engine, scopes.Scope(sectors=("education",)), february, "unit")
    assert [group.key for group in by_unit.groups] == ["u-a", "u-c", "u-e"]
    for group in by_unit.groups:
        assert_figures(group, recount([group.key], february.start, february.end), MIN_RATINGS)
    with pytest.raises(BadInput):
        breakdown(collector.engine, scopes.CITY, period, "counter")
