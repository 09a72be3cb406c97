"""The loop's indicators (centre/cases/figures.py) on a real database, SQLite and PostgreSQL, from cases opened
by the real ingest and moved by the real flow: each rate's numerator and denominator per unit, district and
city; overdue and late cases; the medians; an upheld appeal in no figure; and a unit with an overdue case
held out of the model-unit round (while the city's setting says so)."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from sqlalchemy import Engine

from centre import cityconfig, modelround
from centre.cases import figures, flow, opening
from centre.cases.model import ContactOutcome, Verdict, VerdictSource
from centre.cases.settings import CaseSettings
from centre.db.tables import callbacks
from centre.modelround import Gate
from tests.centre.casekit import MONDAY, WEST, Terminal, actors, case_of, engine_fixture, terminal

engine_on_each_backend = engine_fixture()
MARCH = (date(2026, 3, 1), date(2026, 3, 31))
NOW = MONDAY + timedelta(days=23)          # past every case's rectification deadline (23 March, 24:00 local)
HOUR = timedelta(hours=1)


def number(engine: Engine, device: Terminal, uuid: str, row_id: int) -> None:
    with engine.begin() as conn:
        conn.execute(callbacks.insert().values(device_id=device.device_id, id=row_id, rating_uuid=uuid,
                                               phone="13800000000", consent_version="v1",
                                               requested_at="2026-03-02T02:00:00+00:00",
                                               received_at="2026-03-02T02:00:00+00:00"))
        opening.open_for_callbacks(conn, [uuid], MONDAY)


@pytest.fixture
def loop(engine: Engine) -> Iterator[Engine]:
    """u-a: a bad review handled end to end on time (satisfied), one left alone (overdue), a good rating with a
    call-back nobody made; u-b (same district): a bad review whose appeal was upheld; u-w (another district):
    a bad review handled, the citizen unsatisfied."""
    east, west = terminal(engine, "u-a"), terminal(engine, "u-w", WEST)
    handled, ignored, good = east.rate(1), east.rate(2), east.rate(4)
    number(engine, east, handled, 1)
    number(engine, east, good, 2)
    appealed = terminal(engine, "u-b").rate(1)
    other = west.rate(2)
    number(engine, west, other, 1)
    who, them = actors(engine, "u-a"), actors(engine, "u-w")
    with engine.begin() as conn:
        _handle(conn, case_of(engine, handled)["id"], who, Verdict.SATISFIED)
        _handle(conn, case_of(engine, other)["id"], them, Verdict.UNSATISFIED, close=False)
        flow.assign(conn, case_of(engine, ignored)["id"], who["unit"], assignee="x", now=MONDAY + HOUR)
        appeal_case = case_of(engine, appealed)["id"]
        flow.appeal(conn, appeal_case, actors(engine, "u-b")["unit"], grounds="pressed by mistake", now=MONDAY)
        flow.decide_appeal(conn, appeal_case, who["city"], upheld=True, reason="the video shows it", now=MONDAY)
    yield engine


def _handle(conn, case_id: int, who: dict, verdict: Verdict, close: bool = True) -> None:
    flow.assign(conn, case_id, who["unit"], assignee="x", now=MONDAY + HOUR)
    flow.record_contact_attempt(conn, case_id, who["district"], outcome=ContactOutcome.REACHED, now=MONDAY + 2 * HOUR)
    flow.rectify(conn, case_id, who["unit"], cause="c", measures="m", now=MONDAY + 3 * HOUR)
    flow.verify(conn, case_id, who["district"], now=MONDAY + 4 * HOUR)
    flow.record_verdict(conn, case_id, who["district"], verdict=verdict, source=VerdictSource.CALLBACK,
                        now=MONDAY + 5 * HOUR)
    if close:
        flow.close(conn, case_id, who["city"], now=MONDAY + 24 * HOUR)


def test_a_units_figures(loop: Engine) -> None:
    with loop.connect() as conn:
        unit = figures.loop_figures(conn, ("u-a",), *MARCH, now=NOW)
    assert (unit.cases, unit.bad, unit.answered, unit.reply_rate) == (3, 2, 1, 0.5)
    assert (unit.with_number, unit.contacted, unit.callback_rate) == (2, 1, 0.5)
    assert (unit.rectify_owed, unit.verified, unit.rectified_rate) == (3, 1, pytest.approx(1 / 3))
    assert (unit.verdicts, unit.satisfied, unit.satisfied_rate) == (1, 1, 1.0)
    assert (unit.overdue, unit.late, unit.excluded) == (2, 2, 0)
    assert (unit.median_hours_to_contact, unit.median_hours_to_close) == (2.0, 24.0)


def test_the_citys_and_each_districts_figures(loop: Engine) -> None:
    with loop.connect() as conn:
        city = figures.loop_figures(conn, None, *MARCH, now=NOW)
        by_district = figures.loop_by(conn, None, *MARCH, by="district", now=NOW)
        by_unit = figures.loop_by(conn, None, *MARCH, now=NOW)
        april = figures.loop_figures(conn, None, date(2026, 4, 1), date(2026, 4, 30), now=NOW)
    assert (city.cases, city.bad, city.answered, city.with_number, city.contacted) == (4, 3, 2, 3, 2)
    assert (city.verdicts, city.satisfied, city.satisfied_rate, city.excluded) == (2, 1, 0.5, 1)
    assert sorted(item.cases for item in by_district.values()) == [1, 3]
    assert sorted(by_unit) == ["u-a", "u-b", "u-w"] and by_unit["u-b"].excluded == 1 and by_unit["u-b"].cases == 0
    assert (april.cases, april.reply_rate, april.median_hours_to_close) == (0, None, None)


def test_before_the_deadlines_nothing_is_overdue(loop: Engine) -> None:
    with loop.connect() as conn:
        early = figures.loop_figures(conn, ("u-a",), *MARCH, now=MONDAY + 6 * HOUR)
        assert figures.overdue_units(conn, *MARCH, now=MONDAY + 6 * HOUR) == set()
        assert figures.overdue_units(conn, *MARCH, now=NOW) == {"u-a"}
    assert (early.overdue, early.late, early.rectify_owed, early.rectified_rate) == (0, 0, 1, 1.0)


def test_an_overdue_case_marks_its_unit_in_the_model_round(loop: Engine) -> None:
    ranked = modelround.year_figures(loop, 2026, min_ratings=1)
    with loop.connect() as conn:
        standing = {item.unit_id: item.overdue_cases for item in modelround.candidates(conn, 2026, ranked).standings}
    assert standing == {"u-a": Gate.HELD, "u-b": Gate.CLEAR, "u-w": Gate.CLEAR}


def test_the_hold_follows_the_citys_setting(engine: Engine) -> None:
    east = terminal(engine, "u-a")
    for _ in range(4):
        east.send(east.batch([east.rating(5) for _ in range(10)]))
    late = east.rate(1)                                     # never handled: overdue after 15 working days
    assert case_of(engine, late)["state"] == "new"
    with engine.begin() as conn:
        modelround.apply(conn, 2026, "u-a", "manager")
        modelround.record_check(conn, 2026, "u-a", "ledger", "passed", "", "office")
    ranked = modelround.year_figures(engine, 2026, min_ratings=10)
    try:
        for blocks, chosen in ((True, False), (False, True)):
            cityconfig.install(cityconfig.CityConfig(cases=CaseSettings(overdue_blocks_candidacy=blocks)))
            with engine.connect() as conn:
                [standing] = modelround.candidates(conn, 2026, ranked).standings
            assert (standing.overdue_cases, standing.chosen) == (Gate.HELD, chosen)
    finally:
        cityconfig.install(cityconfig.DEFAULT)
