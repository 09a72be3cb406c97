"""`evaluator centre demo --manipulate KIND:COUNT,…`: which units, counters, staff or devices of the demo city
behave dishonestly, in which of the agreed ways (centre/integrity/model.py's SignalKind), on which days; and
the ground truth, written apart from the database (`--truth FILE`, JSON lines).

Each manipulation takes a unit of its own, chosen from the seed among the units where it can happen (a
cooldown is an open-mode terminal's, case numbers come from a counter PC, …), and starts a while into the
run, so that the subject's honest days come first. Beside them, whenever `--manipulate` is given (`none`
too), a few honest but unusual units (centre/demo/honest.py), chosen from the seed alone: a city built with
`--manipulate none` is the same city with nothing planted, the control a signal's false alarms are counted
on. What each does, day by day: centre/demo/cheats.py (a counter's day), centre/demo/tampered.py (the
device's store and clock), centre/demo/scenario.py (the run: moves, heartbeats, receipts, the truth).
"""
from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from centre.demo import workdays
from centre.demo.city import City, DemoCounter, DemoUnit, TerminalMode
from centre.demo.honest import Unusual, eligible, reshaped
from centre.integrity.model import SignalKind, SubjectKind

NONE = "none"
MAX_COUNT = 999
UNUSUAL_EVERY = 50           # one unit of each unusual kind per this many units (at least one from 10 units)
UNUSUAL_FROM = 10

Wanted = dict[SignalKind, int]

SUBJECTS: dict[SignalKind, SubjectKind] = {
    SignalKind.OUT_OF_HOURS: SubjectKind.COUNTER, SignalKind.NO_STAFF: SubjectKind.COUNTER,
    SignalKind.TECHNICIAN_MODE: SubjectKind.DEVICE, SignalKind.UNSOLICITED: SubjectKind.COUNTER,
    SignalKind.MORE_RATINGS_THAN_CASES: SubjectKind.COUNTER, SignalKind.FAST_PRESS: SubjectKind.STAFF,
    SignalKind.COOLDOWN_EDGE: SubjectKind.COUNTER, SignalKind.TOP_BURST: SubjectKind.COUNTER,
    SignalKind.NO_BAD_REVIEWS: SubjectKind.UNIT, SignalKind.UNRATED_COLLAPSE: SubjectKind.UNIT,
    SignalKind.STEP_AFTER_RANKING: SubjectKind.UNIT, SignalKind.SUPPRESSED_SPIKE: SubjectKind.COUNTER,
    SignalKind.SELECTIVE_SILENCE: SubjectKind.DEVICE, SignalKind.CHAIN_PROBLEM: SubjectKind.DEVICE,
    SignalKind.CLOCK_JUMP: SubjectKind.DEVICE, SignalKind.COUNTER_CHANGE: SubjectKind.DEVICE,
    SignalKind.RECEIPT_MISSING: SubjectKind.DEVICE,
}


def _solicited(unit: DemoUnit) -> bool:
    return unit.behaviour.mode is TerminalMode.SOLICITED


def _counter_pc(unit: DemoUnit) -> bool:
    return _solicited(unit) and unit.behaviour.counter_pc


# Where each kind can happen; a kind not named here can happen at any unit.
ELIGIBLE: dict[SignalKind, tuple[str, Callable[[DemoUnit], bool]]] = {
    SignalKind.COOLDOWN_EDGE: ("open-mode", lambda unit: unit.behaviour.mode is TerminalMode.OPEN),
    SignalKind.UNSOLICITED: ("solicited-mode", _solicited),
    SignalKind.FAST_PRESS: ("solicited-mode", _solicited),
    SignalKind.MORE_RATINGS_THAN_CASES: ("counter-PC", _counter_pc),
    SignalKind.SELECTIVE_SILENCE: ("counter-PC, several-counter",
                                   lambda unit: _counter_pc(unit) and len(unit.counters) > 1),
    # Something to collapse: at least a tenth of the requests left unrated.
    SignalKind.UNRATED_COLLAPSE: ("solicited-mode, ≥ 10 % unrated",
                                  lambda unit: _solicited(unit) and unit.behaviour.press_share <= 0.9),
    # Room for a step of the good rate.
    SignalKind.STEP_AFTER_RANKING: ("good rate ≤ 90 %", lambda unit: unit.behaviour.good_target <= 0.9),
    SignalKind.COUNTER_CHANGE: ("several-counter", lambda unit: len(unit.counters) > 1),
}


def parse(text: str) -> Wanted:
    """`KIND:COUNT,…` (or `none`) → {kind: count}; ValueError with what is wrong, for the command line."""
    if text.strip() == NONE:
        return {}
    wanted: Wanted = {}
    for item in text.split(","):
        name, sep, count = item.strip().partition(":")
        name = name.strip()
        if not name:
            raise ValueError(f"an empty item in {text!r}: give KIND:COUNT items separated by commas, or none")
        try:
            kind = SignalKind(name)
        except ValueError:
            raise ValueError(f"unknown kind {name!r}; the kinds are: {', '.join(k.value for k in SignalKind)}") \
                from None
        if not sep or not count.strip().isdigit() or not 1 <= int(count) <= MAX_COUNT:
            raise ValueError(f"{name}: COUNT must be a whole number from 1 to {MAX_COUNT}, got {count.strip()!r}"
                             if sep else f"{name}: give a count, as in {name}:2")
        if kind in wanted:
            raise ValueError(f"{name} is given twice")
        wanted[kind] = int(count)
    return wanted


@dataclass(frozen=True)
class Plant:
    """One planted manipulation: its kind, its subject, the days it acts on, and how."""

    kind: SignalKind
    unit: DemoUnit
    counter: DemoCounter
    days: tuple[date, ...]
    how: str
    staff_id: str | None = None
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def subject(self) -> SubjectKind:
        return SUBJECTS[self.kind]


@dataclass(frozen=True)
class Odd:
    """One honest but unusual unit."""

    kind: Unusual
    unit: DemoUnit
    counter: DemoCounter | None
    days: tuple[date, ...]


@dataclass(frozen=True)
class Casting:
    """The city as it will be registered (the unusual units reshaped), who is unusual, who is planted where."""

    city: City
    odd: list[Odd]
    chosen: list[tuple[SignalKind, DemoUnit]]


def cast(city: City, wanted: Wanted) -> Casting:
    """The unusual units (from the seed alone), then a unit of its own for each manipulation wanted."""
    rng = random.Random(f"demo-unusual:{city.seed}")
    pool = list(city.units)
    rng.shuffle(pool)
    per_kind = 0 if len(pool) < UNUSUAL_FROM else max(1, len(pool) // UNUSUAL_EVERY)
    reshape: dict[str, tuple[Unusual, DemoUnit]] = {}
    for kind in Unusual:
        for unit in [unit for unit in pool if unit.spec.id not in reshape and eligible(kind, unit)][:per_kind]:
            reshape[unit.spec.id] = (kind, reshaped(kind, unit, rng))
    units = tuple(reshape[unit.spec.id][1] if unit.spec.id in reshape else unit for unit in city.units)
    odd = [Odd(kind, unit, None, ()) for kind, unit in reshape.values()]
    free = [unit for unit in units if unit.spec.id not in reshape]
    random.Random(f"demo-manipulate:{city.seed}").shuffle(free)
    return Casting(City(city.seed, units), odd, _choose(free, wanted))


def _choose(free: list[DemoUnit], wanted: Wanted) -> list[tuple[SignalKind, DemoUnit]]:
    """A unit for each manipulation, the kinds with the fewest possible units chosen first."""
    def possible(kind: SignalKind) -> list[DemoUnit]:
        check = ELIGIBLE.get(kind, ("", lambda unit: True))[1]
        return [unit for unit in free if check(unit)]

    chosen: list[tuple[SignalKind, DemoUnit]] = []
    taken: set[str] = set()
    for kind in sorted(wanted, key=lambda kind: (len(possible(kind)), kind.value)):
        left = [unit for unit in possible(kind) if unit.spec.id not in taken]
        if len(left) < wanted[kind]:
            where = ELIGIBLE[kind][0] + " " if kind in ELIGIBLE else ""
            raise ValueError(f"{kind.value}:{wanted[kind]}: the city has {len(left)} {where}"
                             "unit(s) left for it (each manipulation takes a unit of its own, and the honest but "
                             "unusual units take none): ask for fewer, or for more --units")
        for unit in left[:wanted[kind]]:
            taken.add(unit.spec.id)
            chosen.append((kind, unit))
    return sorted(chosen, key=lambda item: (item[0].value, item[1].spec.id))


def open_days(unit: DemoUnit, days: list[date]) -> list[date]:
    zone = ZoneInfo(unit.spec.timezone)
    return [on for on in days if workdays.periods(unit.spec.opening_hours, on, zone)]


def later(rng: random.Random, days: list[date], low: float = 0.2, high: float = 0.4) -> list[date]:
    """The days from a start some way into `days`: the subject's honest days come first."""
    return days[int(len(days) * rng.uniform(low, high)):] or days[-1:]


def some(rng: random.Random, days: list[date], share: float, least: int = 2) -> list[date]:
    """About `share` of `days` (at least `least` of them, as many as there are), in order."""
    count = min(len(days), max(least, round(len(days) * share)))
    return sorted(rng.sample(days, count))


def ranking_day(days: list[date], opened: list[date]) -> date | None:
    """The first of a month in the run (a ranking's publication: the monthly notice) with the most open days
    of the unit on its quieter side within four weeks; None when the run holds no such first."""
    firsts = [on for on in days if on.day == 1 and on != days[0]]
    def room(first: date) -> int:
        before = sum(1 for on in opened if 0 < (first - on).days <= 28)
        after = sum(1 for on in opened if 0 <= (on - first).days < 28)
        return min(before, after)
    return max(firsts, key=room, default=None)
