"""The crafted city of the integrity tests, built once per session on a real SQLite file: an honest unit, and
one unit per signal kind where one counter (or the whole unit, for the kinds about a unit) is made to behave
as that kind says, beside an honest counter. `planted` names where each kind was planted."""
from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert

from centre.db.engine import open_engine
from centre.db.public_tables import receipt_misses
from centre.integrity.frame import Span
from centre.integrity.model import Finding, SignalKind
from centre.integrity.runner import find
from centre.integrity.settings import IntegritySettings
from contract import iso_utc
from tests.centre.integrity import crafted
from tests.centre.integrity.crafted import City, Counter, local

K = SignalKind
NOW = datetime(2026, 3, 1, tzinfo=UTC)       # when the analysis runs: every receipt's grace has passed


@dataclass(frozen=True)
class Crafted:
    path: Path
    findings: list[Finding]
    planted: dict[SignalKind, tuple[str, str | None]]     # kind → (unit, counter or None for the unit)

    def engine(self, tmp_path: Path) -> Engine:
        """A copy of the city's database, for a test that changes it."""
        copy = tmp_path / "crafted.db"
        shutil.copy(self.path, copy)
        return open_engine(f"sqlite:///{copy}", create=False)


def on(*numbers: int) -> set[date]:
    return {crafted.FIRST + timedelta(days=n) for n in numbers}


def _extra(days: set[date], extra: object) -> crafted.Twist:
    """A twist that adds to an honest day: `extra(counter, day)` on `days`."""
    def twist(counter: Counter, day: date) -> bool:
        if day in days:
            extra(counter, day)  # type: ignore[operator]
        return False
    return twist


def _plant_hours(city: City) -> None:
    def stays(counter: Counter, day: date) -> None:
        counter.terminal.record(local(day, 18, 55), "staff_sign_in", staff_id=counter.staff, source="counter")
        for minute in (0, 20, 40):
            counter.serve(local(day, 19, minute), rated=True)
        counter.terminal.record(local(day, 19, 50), "staff_sign_out", staff_id=counter.staff, source="counter")
    city.unit("ooh")[0].twists.append(_extra(on(5, 6), stays))

    def leaves_early(counter: Counter, day: date) -> bool:
        if day not in on(3, 9):
            return False
        for at in counter.service_times(day):
            if at < local(day, 15):
                counter.serve(at)
        counter.terminal.record(local(day, 15), "staff_sign_out", staff_id=counter.staff, source="counter")
        for minute in (30, 60, 90):
            counter.serve(local(day, 15, minute), 5, staff=None, rated=True)
        return True
    city.unit("nostaff")[0].twists.append(leaves_early)

    def technician(counter: Counter, day: date, rated: bool) -> None:
        counter.terminal.record(local(day, 10, 30), "access_granted", role="technician", user_id=None)
        counter.terminal.record(local(day, 10, 30, 20), "technician_action", action="opened")
        for minute in (1, 2, 3):
            if rated:
                counter.serve(local(day, 10, 30, 60 * minute), 5, rated=True)
            else:
                counter.terminal.record(local(day, 10, 30, 60 * minute), "technician_action", action="test_key")
    tech = city.unit("tech")
    tech[0].twists.append(_extra(on(7), lambda c, d: technician(c, d, True)))
    tech[1].twists.append(_extra(on(7), lambda c, d: technician(c, d, False)))     # an honest visit


def _plant_services(city: City) -> None:
    city.unit("unsol")[0].twists.append(_extra(on(4), lambda c, d: [
        c.terminal.rate(local(d, 14, 5 + 2 * n), 5, c.staff) for n in range(4)]))

    def asks_twice(counter: Counter, day: date) -> bool:
        if day not in on(5, 6):
            return False
        for index, at in enumerate(counter.service_times(day)):
            counter.serve(at, rated=True)
            if index < 3:
                counter.serve(at + timedelta(seconds=60), 5, case_no=f"{at:%m%d}-{counter.counter_id}-"
                                                                      f"{counter.cases:04d}")
        return True
    city.unit("cases", case_numbers=True)[0].twists.append(asks_twice)

    def quick(counter: Counter, day: date) -> bool:
        for at in counter.service_times(day):
            counter.serve(at, latency=0.4 if counter.rng.random() < 0.7 else None, rated=True)
        return True
    city.unit("fast")[0].twists.append(quick)


def _plant_timing(city: City) -> None:
    def hammer(counter: Counter, day: date) -> None:
        at = local(day, 11)
        for _ in range(8):
            counter.serve(at, 5)
            at += timedelta(seconds=counter.rng.uniform(5.3, 6.5))
    city.unit("cool", mode="open")[0].twists.append(_extra(on(3, 8, 12), hammer))
    city.unit("burst")[0].twists.append(_extra(on(10), lambda c, d: [
        c.serve(local(d, 14, m), 5, rated=True) for m in range(30)]))


def _plant_distribution(city: City) -> None:
    city.unit("nobad", weights=(0, 0, 10, 25, 55))
    ranked = date(2026, 2, 1)

    def collapse(counter: Counter, day: date) -> bool:
        if day < ranked:
            return False
        for at in counter.service_times(day):
            counter.serve(at, 5 if counter.rng.random() < 0.9 else None, rated=True)
        return True
    city.unit("collapse", per_day=12, unrated=0.35)[0].twists.append(collapse)

    def climbs(counter: Counter, day: date) -> bool:
        counter.weights = (0, 1, 4, 15, 80) if day >= ranked else (12, 18, 10, 20, 40)
        return False
    for counter in city.unit("step"):
        counter.twists.append(climbs)


def _plant_devices(city: City) -> None:
    def hammered(counter: Counter, day: date) -> None:
        for n in range(40):
            counter.terminal.record(local(day, 15, 0, 40 * n), "suppressed", level=5, channel="panel",
                                    why="not_requested")

    def broken_panel(counter: Counter, day: date) -> None:
        counter.terminal.record(local(day, 10), "panel_disconnected", role="panel")
        for n in range(40):
            counter.terminal.record(local(day, 10, 1, 40 * n), "suppressed", level=3, channel="panel",
                                    why="not_requested")
        counter.terminal.record(local(day, 10, 35), "panel_connected", role="panel")
    spike = city.unit("supp")
    spike[0].twists.append(_extra(on(11), hammered))
    spike[1].twists.append(_extra(on(11), broken_panel))
    silent = city.unit("silent", 4, per_day=20)
    silent[0].twists.append(lambda counter, day: day in on(2, 6, 10, 14, 18))   # signed in, never asked
    _plant_device_records(city)


def _plant_device_records(city: City) -> None:
    def deleted(counter: Counter, day: date) -> bool:
        if day not in on(6):
            return False
        for at in counter.service_times(day):
            counter.serve(at, rated=True)
        del counter.terminal.ratings[1:3]       # two ratings gone from the store before the sync: a gap
        return True
    city.unit("chain")[0].twists.append(deleted)

    def jumped(counter: Counter, day: date) -> bool:
        if day not in on(8):
            return False
        for at in counter.service_times(day):
            counter.terminal.offset = timedelta(hours=2) if local(day, 10) <= at < local(day, 11, 30) else \
                timedelta(0)
            counter.serve(at)
        counter.terminal.offset = timedelta(0)
        return True
    city.unit("clock")[0].twists.append(jumped)

    def claims(counter: Counter, day: date) -> bool:
        counter.terminal.claimed_counter = "c-2" if day in on(5, 6, 7) else None
        return False
    city.unit("claims")[0].twists.append(claims)
    city.unit("receipt")


def _receipts(city: City) -> None:
    """A rating swallowed at the receipt unit's c-1 (its receipt looked up, the rating never sent), and at c-2 a
    receipt looked up before its rating arrived (found later): only the first is missing."""
    swallowed = city.counters[("receipt", "c-1")].terminal
    pressed = local(crafted.FIRST + timedelta(days=9), 11)
    late = city.counters[("receipt", "c-2")].terminal
    rows = [{"rating_uuid": swallowed.uuid(pressed), "device_id": swallowed.device.device_id,
             "first_at": iso_utc(pressed + timedelta(hours=2)), "last_at": iso_utc(pressed + timedelta(hours=5)),
             "lookups": 2, "found_at": None},
            {"rating_uuid": late.uuid(pressed), "device_id": late.device.device_id,
             "first_at": iso_utc(pressed + timedelta(hours=1)), "last_at": iso_utc(pressed + timedelta(hours=1)),
             "lookups": 1, "found_at": iso_utc(pressed + timedelta(hours=12))}]
    with city.engine.begin() as conn:
        conn.execute(insert(receipt_misses), rows)


PLANTED: dict[SignalKind, tuple[str, str | None]] = {
    K.OUT_OF_HOURS: ("ooh", "c-1"), K.NO_STAFF: ("nostaff", "c-1"), K.TECHNICIAN_MODE: ("tech", "c-1"),
    K.UNSOLICITED: ("unsol", "c-1"), K.MORE_RATINGS_THAN_CASES: ("cases", "c-1"), K.FAST_PRESS: ("fast", "c-1"),
    K.COOLDOWN_EDGE: ("cool", "c-1"), K.TOP_BURST: ("burst", "c-1"), K.NO_BAD_REVIEWS: ("nobad", None),
    K.UNRATED_COLLAPSE: ("collapse", "c-1"), K.STEP_AFTER_RANKING: ("step", None),
    K.SUPPRESSED_SPIKE: ("supp", "c-1"), K.SELECTIVE_SILENCE: ("silent", "c-1"), K.CHAIN_PROBLEM: ("chain", "c-1"),
    K.CLOCK_JUMP: ("clock", "c-1"), K.COUNTER_CHANGE: ("claims", "c-1"), K.RECEIPT_MISSING: ("receipt", "c-1"),
}


@pytest.fixture(scope="session")
def city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crafted]:
    path = tmp_path_factory.mktemp("integrity") / "city.db"
    engine = open_engine(f"sqlite:///{path}")
    built = City(engine)
    built.unit("honest", 3)
    for plant in (_plant_hours, _plant_services, _plant_timing, _plant_distribution, _plant_devices):
        plant(built)
    built.live()
    _receipts(built)
    found = find(engine, Span(crafted.FIRST, crafted.LAST), IntegritySettings(workers=1), now=NOW)
    engine.dispose()
    yield Crafted(path, found.findings, PLANTED)
