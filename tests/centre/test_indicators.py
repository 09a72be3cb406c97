"""The standard indicators (centre/indicators.py, docs/indicators.md): periods in each unit's zone, the
Wilson interval, the same numbers from the CLI, the API and the day summary."""
from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
import requests

from centre.errors import BadInput
from centre.indicators import PeriodKind, choose_period, period_of, wilson
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
    assert got["loop"] == {"reply_rate": None, "rectified_rate": None, "rectified_satisfied_rate": None,
                           "status": "not yet measured"}
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
