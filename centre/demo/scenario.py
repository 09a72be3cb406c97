"""A demo city's planted manipulation and unusual honest units, through the run: which twist each counter's
day takes (centre/demo/cheats.py, centre/demo/honest.py), which tampering each device's store takes
(centre/demo/tampered.py), the moves of devices between counters, and at the end the devices' heartbeats, the
receipts citizens looked up, and the ground truth (JSON lines, never in the database).
"""
from __future__ import annotations

import json
import random
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from centre.demo import cheats, honest, manipulate, workdays
from centre.demo.city import City, DemoUnit
from centre.demo.day import PLAIN, Twist
from centre.demo.manipulate import Odd, Plant, Wanted, later, open_days, some
from centre.demo.sender import Device
from centre.demo.tampered import Tamper, TamperedTerminal, heartbeat, write_lookups
from centre.demo.terminal import Identity, SimTerminal
from centre.integrity.model import SignalKind, SubjectKind
from centre.registry import placements
from contract import iso_utc

Key = tuple[str, str]            # (unit id, counter id) as planned: a station's name for the whole run
HEARTBEAT_AT = time(21, 0)       # the last evening's heartbeat, after every hall has closed and synced


class Station(Protocol):
    device: Device
    terminal: SimTerminal


def _store(station: Station) -> TamperedTerminal:
    """The station's store: a tampered one (honest or not) for every device of a scenario's city."""
    terminal = station.terminal
    assert isinstance(terminal, TamperedTerminal)
    return terminal


@dataclass(frozen=True)
class Move:
    key: Key
    counter_id: str              # where the device stands (or claims to stand) from that day
    at: datetime
    registered: bool             # moved in the registry (else only set on the terminal)


class Scenario:
    def __init__(self, city: City, wanted: Wanted, days: list[date]) -> None:
        casting = manipulate.cast(city, wanted)
        self.city, self.days = casting.city, days
        self.plants: list[Plant] = []
        self.odd: list[Odd] = []
        self._twists: dict[Key, Twist] = {}
        self._tampers: dict[Key, Tamper] = {}
        self._moves: dict[date, list[Move]] = defaultdict(list)
        for index, (kind, unit) in enumerate(casting.chosen):
            rng = random.Random(f"demo-plant:{city.seed}:{kind.value}:{unit.spec.id}")
            self.plants.append(PLANTERS[kind](self, rng, unit, index))
        for odd in casting.odd:
            self.odd.append(self._unusual(odd, random.Random(f"demo-odd:{city.seed}:{odd.unit.spec.id}")))

    # -- what the run asks --------------------------------------------------------------------

    def twist(self, key: Key) -> Twist:
        return self._twists.get(key, PLAIN)

    def terminal(self, key: Key, identity: Identity, mode: str, channel: str, offset: timedelta,
                 rng: random.Random, zone: ZoneInfo) -> TamperedTerminal:
        tamper = self._tampers.get(key) or Tamper(zone)
        return TamperedTerminal(identity, mode, channel, offset, rng, tamper=tamper,
                                seed=f"demo-store:{self.city.seed}:{key[0]}:{key[1]}")

    def before_day(self, engine: Engine, on: date, stations: Mapping[Key, Station]) -> None:
        """The day's moves, before its halls open: in the registry (as `device move` does) or on the terminal
        alone; either way the terminal claims its new counter from then on."""
        for move in self._moves.get(on, []):
            station = stations[move.key]
            identity = station.terminal.identity
            if move.registered:
                placements.move(engine, identity.device_id, identity.unit_id, move.counter_id, at=iso_utc(move.at))
            station.terminal.identity = replace(identity, counter_id=move.counter_id)

    def finish(self, engine: Engine, stations: Mapping[Key, Station]) -> None:
        """After the last sync: tails cut, every device's heartbeat, the receipts citizens looked up."""
        rng = random.Random(f"demo-finish:{self.city.seed}")
        zones = {unit.spec.id: ZoneInfo(unit.spec.timezone) for unit in self.city.units}
        for key, station in sorted(stations.items()):
            store = _store(station)
            store.cut_tail()
            heartbeat(engine, station.device, store, datetime.combine(self.days[-1], HEARTBEAT_AT, zones[key[0]]), rng)
            write_lookups(engine, station.device.device_id, store.lookups)

    def withheld(self, stations: Mapping[Key, Station]) -> int:
        return sum(_store(station).withheld for station in stations.values())

    def truth(self, stations: Mapping[Key, Station]) -> list[dict[str, Any]]:
        """One line per planted manipulation, then one per unusual honest unit."""
        lines = []
        for plant in self.plants:
            key = (plant.unit.spec.id, plant.counter.spec.id)
            unit_wide = plant.subject is SubjectKind.UNIT
            lines.append({"planted": True, "kind": plant.kind.value, "subject": plant.subject.value,
                          "unit_id": plant.unit.spec.id, "counter_id": None if unit_wide else plant.counter.spec.id,
                          "staff_id": plant.staff_id,
                          "device_id": None if unit_wide else stations[key].device.device_id,
                          "day_from": plant.days[0].isoformat(), "day_to": plant.days[-1].isoformat(),
                          "days": len(plant.days), "how": plant.how, **plant.params})
        for odd in self.odd:
            lines.append({"planted": False, "unusual": odd.kind.value, "unit_id": odd.unit.spec.id,
                          "counter_id": odd.counter.spec.id if odd.counter else None,
                          "day_from": odd.days[0].isoformat() if odd.days else None,
                          "day_to": odd.days[-1].isoformat() if odd.days else None, "days": len(odd.days),
                          "how": honest.HOW[odd.kind]})
        return lines

    def write_truth(self, path: Path, stations: Mapping[Key, Station]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in self.truth(stations)),
                        encoding="utf-8")

    # -- planting -------------------------------------------------------------------------------

    def _counter(self, kind: SignalKind, rng: random.Random, unit: DemoUnit, twist: Callable[[list[date], str], Twist],
                 days: list[date], how: str) -> Plant:
        counter = rng.choice(unit.counters)
        self._twists[(unit.spec.id, counter.spec.id)] = twist(days, f"demo-twist:{self.city.seed}:{unit.spec.id}")
        return Plant(kind, unit, counter, tuple(days), how)

    def _unit_wide(self, kind: SignalKind, unit: DemoUnit, twist: Callable[[list[date], str], Twist],
                   days: list[date], how: str, **params: Any) -> Plant:
        for counter in unit.counters:
            key = (unit.spec.id, counter.spec.id)
            self._twists[key] = twist(days, f"demo-twist:{self.city.seed}:{key[0]}:{key[1]}")
        return Plant(kind, unit, unit.counters[0], tuple(days), how, params=params)

    def _device(self, kind: SignalKind, rng: random.Random, unit: DemoUnit, days: list[date], how: str,
                **tamper: Any) -> Plant:
        counter = rng.choice(unit.counters)
        self._tampers[(unit.spec.id, counter.spec.id)] = Tamper(ZoneInfo(unit.spec.timezone), **tamper)
        return Plant(kind, unit, counter, tuple(days), how)

    def _unusual(self, odd: Odd, rng: random.Random) -> Odd:
        opened = open_days(odd.unit, self.days)
        if odd.kind is honest.Unusual.BUSY_HOLIDAY:
            busy = honest.busy_days(odd.unit, self.days)
            for counter in odd.unit.counters:
                self._twists[(odd.unit.spec.id, counter.spec.id)] = honest.BusyHoliday(busy)
            return replace(odd, days=tuple(busy))
        if odd.kind is honest.Unusual.BROKEN_PANEL:
            counter = rng.choice(odd.unit.counters)
            broken = some(rng, opened, 0.0, rng.randint(2, 3))
            self._twists[(odd.unit.spec.id, counter.spec.id)] = honest.BrokenPanel(
                broken, f"demo-odd-twist:{self.city.seed}:{odd.unit.spec.id}")
            return replace(odd, counter=counter, days=tuple(broken))
        return replace(odd, days=tuple(opened))


def _opened(scenario: Scenario, unit: DemoUnit) -> list[date]:
    return open_days(unit, scenario.days)


def _scripted(kind: SignalKind, cls: Callable[[list[date], str], Twist], share: float, least: int,
              how: str) -> Callable[[Scenario, random.Random, DemoUnit, int], Plant]:
    def plant(scenario: Scenario, rng: random.Random, unit: DemoUnit, index: int) -> Plant:
        days = some(rng, later(rng, _opened(scenario, unit)), share, least)
        return scenario._counter(kind, rng, unit, cls, days, how)
    return plant


def _fast_press(scenario: Scenario, rng: random.Random, unit: DemoUnit, index: int) -> Plant:
    counter = rng.choice(unit.counters)
    staff_id = counter.regulars[0]          # the counter's morning regular
    days = later(rng, _opened(scenario, unit))
    scenario._twists[(unit.spec.id, counter.spec.id)] = cheats.FastPress(
        days, f"demo-twist:{scenario.city.seed}:{unit.spec.id}", staff_id)
    return Plant(SignalKind.FAST_PRESS, unit, counter, tuple(days),
                 "presses the top key 0.25–0.85 s after their own request, for most of their services", staff_id)


def _no_bad(scenario: Scenario, rng: random.Random, unit: DemoUnit, index: int) -> Plant:
    return scenario._unit_wide(SignalKind.NO_BAD_REVIEWS, unit, cheats.NoBadReviews, _opened(scenario, unit),
                               "no bad review is ever recorded: each would-be one becomes a good level")


def _collapse(scenario: Scenario, rng: random.Random, unit: DemoUnit, index: int) -> Plant:
    opened = _opened(scenario, unit)
    days = opened[len(opened) // 2 - rng.randint(0, 2):]
    return scenario._unit_wide(
        SignalKind.UNRATED_COLLAPSE, unit, lambda on, seed: cheats.UnratedCollapse(on, seed, helped=0.6), days,
        "from the change day, unrated requests are rated top by the staff and 60 % of levels 3–4 pressed to 5")


def _step(scenario: Scenario, rng: random.Random, unit: DemoUnit, index: int) -> Plant:
    opened = _opened(scenario, unit)
    first = manipulate.ranking_day(scenario.days, opened)
    if first is None:
        raise ValueError("step_after_ranking needs a first of a month inside the run (a ranking's publication), "
                         "with days before it: ask for more --days")
    return scenario._unit_wide(SignalKind.STEP_AFTER_RANKING, unit, cheats.StepAfterRanking,
                               [on for on in opened if on >= first],
                               "from the ranking published on the first of the month, bad and middling levels "
                               "turn top", published=first.isoformat())


def _chain(scenario: Scenario, rng: random.Random, unit: DemoUnit, index: int) -> Plant:
    opened = _opened(scenario, unit)
    middle = later(rng, opened)[:-1] or opened[:1]
    kind = SignalKind.CHAIN_PROBLEM
    variant = ("gap", "break", "cut_tail")[index % 3]
    if variant == "gap":
        days = some(rng, middle, 0.0, 2)
        plant = scenario._device(kind, rng, unit, days, "ratings (the bad first) deleted from the store before "
                                 "they were sent: the seqs skip", deleted_days=frozenset(days))
    elif variant == "break":
        days = some(rng, middle, 0.0, rng.randint(1, 2))
        plant = scenario._device(kind, rng, unit, days, "a rating's level raised to 5 in the store before it was "
                                 "sent, its hash left as it was", edited_days=frozenset(days))
    else:
        plant = scenario._device(kind, rng, unit, opened[-1:], "the store's last ratings deleted after the last "
                                 "sync: the heartbeat reports a lower last seq", cut=rng.randint(5, 15))
    return replace(plant, params={"variant": variant})


def _clock(scenario: Scenario, rng: random.Random, unit: DemoUnit, index: int) -> Plant:
    zone = ZoneInfo(unit.spec.timezone)
    days = some(rng, later(rng, _opened(scenario, unit))[:-1] or _opened(scenario, unit), 0.0, rng.randint(1, 2))
    jumps = {}
    for on in days:
        start, end = max(workdays.periods(unit.spec.opening_hours, on, zone), key=lambda span: span[1] - span[0])
        begin = start + timedelta(minutes=rng.uniform(20, 60))
        finish = min(end, begin + timedelta(minutes=rng.uniform(60, 150)))
        step = rng.choice((timedelta(hours=rng.uniform(2, 5)), -timedelta(hours=rng.uniform(1, 4)),
                           -timedelta(days=1)))
        jumps[on] = (begin, finish, step)
    return scenario._device(SignalKind.CLOCK_JUMP, rng, unit, days, "the clock set hours (or a day) off for an "
                            "hour or two, then back before the sync", jumps=jumps)


def _counter_change(scenario: Scenario, rng: random.Random, unit: DemoUnit, index: int) -> Plant:
    opened = _opened(scenario, unit)
    counter = rng.choice(unit.counters)
    other = rng.choice([each for each in unit.counters if each is not counter])
    start = later(rng, opened, 0.2, 0.5)[0]
    back = next((on for on in opened if (on - start).days >= rng.randint(5, 12)), opened[-1])
    key, zone = (unit.spec.id, counter.spec.id), ZoneInfo(unit.spec.timezone)
    registered = index % 2 == 0
    for on, where in ((start, other.spec.id), (back, counter.spec.id)):
        at = workdays.periods(unit.spec.opening_hours, on, zone)[0][0] - timedelta(minutes=50)
        scenario._moves[on].append(Move(key, where, at, registered))
    how = (f"moved in the registry to {other.spec.id} and back" if registered
           else f"set on the terminal to claim {other.spec.id}, then back")
    return Plant(SignalKind.COUNTER_CHANGE, unit, counter, tuple(on for on in opened if start <= on <= back), how,
                 params={"variant": "moves" if registered else "claims"})


def _receipts(scenario: Scenario, rng: random.Random, unit: DemoUnit, index: int) -> Plant:
    days = later(rng, _opened(scenario, unit))
    return scenario._device(SignalKind.RECEIPT_MISSING, rng, unit, days, "most bad presses swallowed: a receipt "
                            "shown, nothing stored; some citizens look theirs up", swallow_days=frozenset(days))


def _silence(scenario: Scenario, rng: random.Random, unit: DemoUnit, index: int) -> Plant:
    days = some(rng, later(rng, _opened(scenario, unit)), 0.8, 3)
    return scenario._counter(SignalKind.SELECTIVE_SILENCE, rng, unit, cheats.SelectiveSilence, days,
                             "on most of its days, silent for the longest shift and whenever a bad review "
                             "would come; the counter PC goes on calling cases")


PLANTERS: dict[SignalKind, Callable[[Scenario, random.Random, DemoUnit, int], Plant]] = {
    SignalKind.OUT_OF_HOURS: _scripted(SignalKind.OUT_OF_HOURS, cheats.OutOfHours, 0.5, 3,
                                       "services go on 75–150 min after closing, rated top"),
    SignalKind.NO_STAFF: _scripted(SignalKind.NO_STAFF, cheats.NoStaff, 0.4, 3,
                                   "the staff signs out 45–90 min before closing; services go on, rated top"),
    SignalKind.TECHNICIAN_MODE: _scripted(SignalKind.TECHNICIAN_MODE, cheats.TechnicianMode, 0.3, 2,
                                          "a technician signs in on the screen and rates top 3–5 times"),
    SignalKind.UNSOLICITED: _scripted(SignalKind.UNSOLICITED, cheats.Unsolicited, 0.5, 3,
                                      "40 % of services rated top with no request before"),
    SignalKind.MORE_RATINGS_THAN_CASES: _scripted(SignalKind.MORE_RATINGS_THAN_CASES, cheats.MoreRatingsThanCases,
                                                  0.5, 3, "45 % of cases asked for again, the second rating top"),
    SignalKind.FAST_PRESS: _fast_press,
    SignalKind.COOLDOWN_EDGE: _scripted(SignalKind.COOLDOWN_EDGE, cheats.CooldownEdge, 0.5, 3,
                                        "6–12 top presses in a row, each 5.15–7.5 s after the last"),
    SignalKind.TOP_BURST: _scripted(SignalKind.TOP_BURST, cheats.TopBurst, 0.0, 3,
                                    "25–40 min of services a minute apart, each rated top"),
    SignalKind.NO_BAD_REVIEWS: _no_bad,
    SignalKind.UNRATED_COLLAPSE: _collapse,
    SignalKind.STEP_AFTER_RANKING: _step,
    SignalKind.SUPPRESSED_SPIKE: _scripted(SignalKind.SUPPRESSED_SPIKE, cheats.SuppressedSpike, 0.0, 2,
                                           "40–80 min of 6–15 extra top presses after each service"),
    SignalKind.SELECTIVE_SILENCE: _silence,
    SignalKind.CHAIN_PROBLEM: _chain,
    SignalKind.CLOCK_JUMP: _clock,
    SignalKind.COUNTER_CHANGE: _counter_change,
    SignalKind.RECEIPT_MISSING: _receipts,
}
