"""Build the demo city in a database: register it, enroll its devices, give the units their rosters, then
live its days, each counter's terminal sending its day after closing time.

Only into an empty database: demo ratings mixed into a real centre's would be indistinguishable from real
ones (they are signed by enrolled devices like any other), and a second demo run into the same database
would make two cities. The database is created (and migrated) when there is none.
"""
from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, event, func, select
from sqlalchemy.engine import make_url

from centre.db.engine import NoDatabase, migrate, open_engine
from centre.db.tables import devices, ratings, units
from centre.demo import casework, sender, workdays
from centre.demo import day as day_sim
from centre.demo.city import City, DemoCounter, DemoUnit, plan_city
from centre.demo.day import PLAIN, Twist
from centre.demo.manipulate import Wanted
from centre.demo.scenario import Scenario
from centre.demo.terminal import Identity, SimTerminal
from centre.errors import BadInput
from centre.registry import queries, sectors
from centre.registry import staff as staff_roster
from centre.registry.model import DEFAULT_TIMEZONE, refuse

SEND_DELAY_MIN = (2.0, 20.0)     # after closing time, the terminal's worker sends the day (minutes)
# The devices are installed and enrolled the evening before the first day: their placements (where their
# ratings count, and what the integrity analysis reads) begin before anything they record.
ENROLLED_HOUR = 18

Progress = Callable[[str], None]

DAY_END = clock_time(22, 0)      # the units' last steps on their cases: that evening, at the latest

@dataclass(frozen=True)
class Options:
    units: int
    counters_per_unit: int
    days: int
    seed: int
    until: date                  # the last simulated day
    db_url: str
    manipulate: Wanted | None = None    # None: no manipulation and no unusual units; {}: the unusual units only
    truth: Path | None = None    # where the planted manipulation's ground truth goes (JSON lines)
    sync_days: int = 1           # the terminals send every this many days (a bench's city: fewer batches)
    pace: float = 1.0            # citizens an hour at each counter, times this (a bench's city: fewer rows)


@dataclass
class Built:
    """What the run made: the city, what its terminals recorded (all of it acknowledged), how long it took."""

    city: City
    days: list[date]
    total: day_sim.DayTally = field(default_factory=day_sim.DayTally)
    by_unit: dict[str, day_sim.DayTally] = field(default_factory=dict)
    batches: int = 0
    seconds: float = 0.0
    scenario: Scenario | None = None
    withheld: int = 0            # ratings the tampered terminals recorded (or showed) and never delivered
    worked: casework.Worked = field(default_factory=casework.Worked)   # the steps the units took in their cases

    @property
    def below_line(self) -> list[str]:
        """The units whose good rate fell short of the 80 % target."""
        return sorted(unit for unit, tally in self.by_unit.items()
                      if tally.ratings and (tally.ratings - tally.bad) / tally.ratings < 0.8)


@dataclass
class _Station:
    """One counter's device: the simulated terminal, its credentials, its own random stream."""

    unit: DemoUnit
    counter: DemoCounter
    device: sender.Device
    terminal: SimTerminal
    rng: random.Random
    twist: Twist = PLAIN
    closed: datetime | None = None     # when its hall last closed with rows not sent yet

    @property
    def key(self) -> tuple[str, str]:
        return self.unit.spec.id, self.counter.spec.id


def build(options: Options, progress: Progress) -> Built:
    started = time.monotonic()
    days = workdays.days_until(options.until, options.days)
    city, scenario = _plan(options, days)
    engine = open_database(options.db_url)
    try:
        refuse_populated(engine, options.db_url)
        register(engine, city)
        stations = _enroll(engine, city, scenario, days[0])
        progress(f"registered {len(city.units)} units, enrolled {len(stations)} devices")
        built = Built(city, days, scenario=scenario)
        built.by_unit = {unit.spec.id: day_sim.DayTally() for unit in city.units}
        keyed = {station.key: station for station in stations}
        for number, day in enumerate(built.days, start=1):
            if scenario is not None:
                scenario.before_day(engine, day, keyed)
            _live(engine, day, stations, built, send=number % options.sync_days == 0 or number == len(days))
            elapsed = time.monotonic() - started
            progress(f"day {number}/{len(built.days)} {day} ({day:%a}): {built.total.ratings:,} ratings so far, "
                     f"{built.total.ratings / elapsed:,.0f} ratings/s")
        if scenario is not None:
            _finish(engine, scenario, keyed, options, built)
        # The units work their cases up to the last day's evening (its own hour in the city's zone).
        evening = datetime.combine(days[-1], DAY_END, ZoneInfo(DEFAULT_TIMEZONE))
        built.worked = casework.work(engine, options.seed, evening)
        progress(f"the units worked their cases: {built.worked.rectified:,} rectified, {built.worked.closed:,} "
                 "closed")
    finally:
        engine.dispose()
    built.seconds = time.monotonic() - started
    return built


def _plan(options: Options, days: list[date]) -> tuple[City, Scenario | None]:
    """The city, paced, and what is planted in it (refused before any database is touched)."""
    city = plan_city(options.units, options.counters_per_unit, options.seed)
    if options.pace != 1.0:
        city = City(city.seed, tuple(replace(unit, behaviour=replace(
            unit.behaviour, services_per_hour=unit.behaviour.services_per_hour * options.pace))
            for unit in city.units))
    if options.manipulate is None:
        return city, None
    try:
        scenario = Scenario(city, options.manipulate, days)
    except ValueError as exc:
        raise BadInput(f"--manipulate: {exc}") from None
    return scenario.city, scenario


def _finish(engine: Engine, scenario: Scenario, keyed: dict[tuple[str, str], _Station], options: Options,
            built: Built) -> None:
    scenario.finish(engine, keyed)
    built.withheld = scenario.withheld(keyed)
    if options.truth is not None:
        scenario.write_truth(options.truth, keyed)


def open_database(url: str) -> Engine:
    """The centre's database at `url`, created and migrated when there is none (an existing one is opened as
    it is: one behind this release is refused with the advice to migrate it, never upgraded behind its
    owner's back)."""
    try:
        engine = open_engine(url, create=False)
    except NoDatabase:
        migrate(url)
        engine = open_engine(url, create=False)
    _without_flush_waits(engine)
    return engine


def _without_flush_waits(engine: Engine) -> None:
    """A demo city is built again, not recovered: the demo's own connections do not wait for each commit to
    reach the disk (SQLite in WAL mode: synchronous=NORMAL; PostgreSQL: synchronous_commit off). A crash may
    lose the last batches, never consistency, and a run no longer waits out a flush per batch, which on a
    busy disk was most of its time. The centre's own connections (serve, ingest) keep full durability."""
    @event.listens_for(engine, "connect")
    def _relaxed(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        if engine.dialect.name == "sqlite":
            cursor.execute("PRAGMA synchronous = NORMAL")
        elif engine.dialect.name == "postgresql":
            cursor.execute("SET synchronous_commit = off")
            dbapi_connection.commit()      # a SET inside a transaction rolled back later would not last
        cursor.close()

    engine.dispose()     # the connection open_engine pooled was made before the listener


def refuse_populated(engine: Engine, url: str) -> None:
    with engine.connect() as conn:
        held = {name: conn.execute(select(func.count()).select_from(table)).scalar_one()
                for name, table in (("unit", units), ("device", devices), ("rating", ratings))}
    if any(held.values()):
        found = ", ".join(f"{count} {name}(s)" for name, count in held.items())
        shown = make_url(url).render_as_string(hide_password=True)
        raise BadInput(f"{shown} already holds {found}: the demo builds its city only in an empty database, so "
                       "it never mixes with real data or with another demo city (give another --db, "
                       "or delete this one to build it again)")


def register(engine: Engine, city: City) -> None:
    """The city's units and counters, through the registry's checks and writes (as `unit import` does)."""
    unit_specs = [unit.spec for unit in city.units]
    counter_specs = [counter.spec for unit in city.units for counter in unit.counters]
    refuse([*(problem for spec in unit_specs for problem in spec.problems()),
            *(problem for spec in counter_specs for problem in spec.problems())])
    with engine.begin() as conn:
        sectors.ensure_shipped(conn)
        queries.save(conn, unit_specs, counter_specs)
    for unit in city.units:
        staff_roster.set_roster(engine, unit.spec.id, [staff_roster.Entry(member) for member in unit.staff])


def _enroll(engine: Engine, city: City, scenario: Scenario | None, first: date) -> list[_Station]:
    placed = [(unit, counter) for unit in city.units for counter in unit.counters]
    at = datetime(first.year, first.month, first.day, ENROLLED_HOUR, tzinfo=ZoneInfo(DEFAULT_TIMEZONE)) \
        - timedelta(days=1)
    enrolled = sender.enroll_devices(engine, [(unit.spec.id, counter.spec.id) for unit, counter in placed], at)
    stations = []
    for (unit, counter), device in zip(placed, enrolled, strict=True):
        key = (unit.spec.id, counter.spec.id)
        rng = random.Random(f"demo-device:{city.seed}:{unit.spec.id}:{counter.spec.id}")
        identity = Identity(device.device_id, unit.spec.id, counter.spec.id)
        offset = timedelta(seconds=counter.clock_offset_s)
        mode, channel = unit.behaviour.mode.value, unit.behaviour.channel.value
        if scenario is None:
            stations.append(_Station(unit, counter, device, SimTerminal(identity, mode, channel, offset, rng), rng))
            continue
        terminal = scenario.terminal(key, identity, mode, channel, offset, rng, ZoneInfo(unit.spec.timezone))
        stations.append(_Station(unit, counter, device, terminal, rng, scenario.twist(key)))
    return stations


def _live(engine: Engine, day: date, stations: list[_Station], built: Built, send: bool = True) -> None:
    """Every counter's day; on a sync day each device sends what it holds (in as many batches as it takes) a
    little after its hall last closed."""
    for station in stations:
        tally, closed = day_sim.simulate(station.unit, station.counter, day, station.terminal, station.rng,
                                         station.twist)
        if closed is not None:
            station.closed = closed
            built.total.add(tally)
            built.by_unit[station.unit.spec.id].add(tally)
        if not send or station.closed is None:
            continue
        sent = station.closed + timedelta(minutes=station.rng.uniform(*SEND_DELAY_MIN))
        station.closed = None
        for batch in station.terminal.take_batches(sent):
            _send(engine, station, batch, sent)
            built.batches += 1


def _send(engine: Engine, station: _Station, batch: bytes, sent: datetime) -> None:
    # The device signs by its own clock; the centre receives a moment later by the true one.
    received = sent + timedelta(seconds=station.rng.uniform(0.05, 0.6))
    sender.deliver(engine, station.device, batch, station.terminal.device_time(sent), received, station.rng)
