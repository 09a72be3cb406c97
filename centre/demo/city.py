"""The demo city, planned from a seed: its units (district, sector, names, hours), counters, staff rosters,
how each unit's citizens rate and how busy it is, and which devices have clocks that are off.

Pure: nothing here touches a database. The same seed plans the same city, and build.py registers it through
the registry's own checks and writes (centre/registry/queries.py).
"""
from __future__ import annotations

import random
import zlib
from dataclasses import dataclass
from enum import Enum

from centre.demo.names import DISTRICTS, GIVEN_NAMES, POSTS, SURNAMES, District, unit_kind
from centre.registry.codes import credit_check_char
from centre.registry.model import DEFAULT_TIMEZONE, CounterSpec, UnitSpec
from centre.registry.sectors import SHIPPED, Sector, read_file
from contract import StaffRecord

BELOW_LINE_SHARE = 0.25          # about a quarter of the units fall short of the 80 % target: rankings show both
SKEWED_SHARE = 0.05              # "a few" devices whose clock is off
# Off by more than the ingest's 60 s tolerance (so it corrects their times) and less than the ±300 s the
# signature allows (a terminal further off is refused 401 and syncs nothing until its clock is set).
SKEW_RANGE_S = (90.0, 280.0)
# Bad reviews' reasons as the terminal sends them: the codes of config.yaml's default `bad_reasons`, with
# how often citizens pick each (waiting and slowness lead, as in the 好差评 platforms' published figures).
REASON_WEIGHTS = {"wait": 30, "slow": 25, "attitude": 15, "unclear": 15, "extra_trips": 10, "environment": 5}


class TerminalMode(str, Enum):
    """The terminal's `mode`, as a rating's `mode` field carries it."""

    SOLICITED = "solicited"      # 一次一评: a press counts only after the staff or the counter PC asks
    OPEN = "open"                # always ready, a cooldown after each rating


class Channel(str, Enum):
    """How the citizen pressed, as a rating's `channel` field carries it."""

    PANEL = "panel"              # the physical key panel
    TOUCH = "touch"              # the touchscreen


@dataclass(frozen=True)
class Behaviour:
    """How a unit's citizens rate and how its terminals are used."""

    good_target: float           # the share of levels 3–5 its level mix aims at
    levels: tuple[float, ...]    # weights of levels 1…5
    services_per_hour: float     # at one counter, at an ordinary hour of an ordinary weekday
    press_share: float           # of the requests, those that end with the citizen's press (the rest: unrated)
    mode: TerminalMode
    channel: Channel
    counter_pc: bool             # requests come from the counter PC, with the case number and the staff id


@dataclass(frozen=True)
class DemoCounter:
    spec: CounterSpec
    regulars: tuple[str, ...]    # staff ids who usually serve here, the first in the morning
    clock_offset_s: float        # the device's clock minus the true time; 0 for a good clock


@dataclass(frozen=True)
class DemoUnit:
    spec: UnitSpec
    counters: tuple[DemoCounter, ...]
    staff: tuple[StaffRecord, ...]
    bad_factor: dict[str, float]  # per staff id: how much likelier (> 1) or rarer (< 1) their bad reviews are
    behaviour: Behaviour


@dataclass(frozen=True)
class City:
    seed: int
    units: tuple[DemoUnit, ...]

    @property
    def counters(self) -> int:
        return sum(len(unit.counters) for unit in self.units)

    @property
    def skewed(self) -> int:
        return sum(1 for unit in self.units for counter in unit.counters if counter.clock_offset_s)

    @property
    def districts(self) -> int:
        return len({unit.spec.district for unit in self.units})

    @property
    def sectors(self) -> int:
        return len({unit.spec.sector for unit in self.units})


def plan_city(units: int, counters_per_unit: int, seed: int) -> City:
    """`units` units of `counters_per_unit` counters each, across the shipped sectors and the districts."""
    rng = random.Random(f"demo-city:{seed}")
    sectors = read_file(SHIPPED)
    rng.shuffle(sectors)
    districts = list(DISTRICTS)
    rng.shuffle(districts)
    below = set(rng.sample(range(units), _below_line(units)))
    skewed = set(rng.sample(range(units * counters_per_unit), _skewed(units * counters_per_unit)))
    planned: list[DemoUnit] = []
    taken: dict[tuple[str, str], int] = {}
    for index in range(units):
        sector, district = sectors[index % len(sectors)], districts[index % len(districts)]
        branch = taken[(district.code, sector.code)] = taken.get((district.code, sector.code), 0) + 1
        spec = _unit_spec(district, sector, branch)
        staff = _roster(rng, index, 2 * counters_per_unit + 1)
        counters = tuple(_counter(rng, spec.id, number, staff, index * counters_per_unit + number - 1 in skewed)
                         for number in range(1, counters_per_unit + 1))
        planned.append(DemoUnit(spec, counters, staff, {member.id: rng.uniform(0.7, 1.4) for member in staff},
                                _behaviour(rng, below=index in below)))
    return City(seed, tuple(planned))


def _below_line(units: int) -> int:
    """How many units fall short: about a quarter, at least one, and never all (a ranking needs both)."""
    return 0 if units < 2 else min(units - 1, max(1, round(units * BELOW_LINE_SHARE)))


def _skewed(devices: int) -> int:
    return min(devices, max(1, round(devices * SKEWED_SHARE)))


def _unit_spec(district: District, sector: Sector, branch: int) -> UnitSpec:
    kind = unit_kind(sector.code, sector.name, sector.name_en)
    suffix, suffix_en, id_suffix = ("", "", "") if branch == 1 else (f"第{branch}分部", f" Branch {branch}",
                                                                     f"-{branch}")
    return UnitSpec(id=f"{district.code}-{sector.code}{id_suffix}", name=f"{district.short}{kind.name}{suffix}",
                    name_en=f"{district.short_en} {kind.name_en}{suffix_en}", district=district.name,
                    district_en=district.name_en, sector=sector.code, timezone=DEFAULT_TIMEZONE,
                    opening_hours=kind.hours, address=f"{district.name}政务服务中心{sector.name}窗口",
                    **_codes(district, f"{district.code}-{sector.code}{id_suffix}"))


def _codes(district: District, unit_id: str) -> dict[str, str]:
    """Plausible, made-up codes for the province's records (as the district names are made up): a region code
    of a city that does not exist (province 33, city 99, the district's place in DISTRICTS), and a credit code of
    a 机关 (authority 1, kind 1) there whose organisation code and check characters are computed as the
    standards say (GB 11714, GB 32100), so the registry's checks take it."""
    region = f"3399{DISTRICTS.index(district) + 1:02d}"
    organisation = f"MB{zlib.crc32(unit_id.encode()) % 1_000_000:06d}"
    weighted = sum(int(char, 36) * weight for char, weight in zip(organisation, (3, 7, 9, 10, 5, 8, 4, 2), strict=True))
    first17 = f"11{region}{organisation}{'0123456789X0'[11 - weighted % 11]}"
    return {"region_code": region, "credit_code": first17 + credit_check_char(first17)}


def _roster(rng: random.Random, unit_index: int, size: int) -> tuple[StaffRecord, ...]:
    """`size` staff with distinct names, the last the hall's supervisor (who covers any counter); ids unique
    across the city (S003-02: the third unit's second)."""
    names: set[tuple[str, str]] = set()
    while len(names) < size:
        (surname, surname_en), (given, given_en) = rng.choice(SURNAMES), rng.choice(GIVEN_NAMES)
        names.add((surname + given, f"{surname_en} {given_en}"))
    staff = []
    for number, (name, name_en) in enumerate(sorted(names), start=1):
        post, post_en = POSTS[2] if number == size else rng.choice(POSTS[:2])   # the last one runs the hall
        staff.append(StaffRecord(id=f"S{unit_index + 1:03d}-{number:02d}", name=name, name_en=name_en, post=post,
                                 post_en=post_en))
    return tuple(staff)


def _counter(rng: random.Random, unit_id: str, number: int, staff: tuple[StaffRecord, ...],
             skewed: bool) -> DemoCounter:
    offset = rng.choice((-1, 1)) * rng.uniform(*SKEW_RANGE_S) if skewed else 0.0
    regulars = (staff[2 * (number - 1)].id, staff[2 * (number - 1) + 1].id, staff[-1].id)
    return DemoCounter(CounterSpec(unit_id=unit_id, id=f"c-{number}", name=f"{number}号窗口",
                                   name_en=f"Counter {number}"), regulars, round(offset, 3))


def _behaviour(rng: random.Random, below: bool) -> Behaviour:
    # Well clear of the line on either side, so that a small city's few hundred ratings still land on the
    # side planned for them.
    good = rng.uniform(0.62, 0.74) if below else rng.uniform(0.86, 0.985)
    top, second = rng.uniform(0.5, 0.75), rng.uniform(0.6, 0.8)
    dissatisfied = rng.uniform(0.55, 0.8)
    levels = ((1 - good) * (1 - dissatisfied), (1 - good) * dissatisfied, good * (1 - top) * (1 - second),
              good * (1 - top) * second, good * top)
    mode = TerminalMode.OPEN if rng.random() < 0.2 else TerminalMode.SOLICITED
    return Behaviour(good_target=good, levels=levels, services_per_hour=rng.uniform(3.5, 8.0),
                     press_share=rng.uniform(0.82, 0.97), mode=mode,
                     channel=Channel.PANEL if rng.random() < 0.6 else Channel.TOUCH,
                     counter_pc=mode is TerminalMode.SOLICITED and rng.random() < 0.5)
