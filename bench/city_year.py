"""A city year for bench/centre_reports.py: the registry, and a year of ratings, reasons and events.

Deterministic from its parameters (a seed): 1,000 units in 16 districts and the 21 shipped sectors, 5,000
counters (one terminal each, 1 to ~20 per unit), a roster of two staff per counter (morning, afternoon;
7 % of ratings with nobody signed in), each unit's opening hours (weekdays with a lunch break; some open
Saturday mornings, hospitals all week) and China's 2025 public holidays closed. Every unit has its own
level mix (好评率 from ~0.78 to ~0.99) and volume (log-normal: a few units are too small to rank); one in
five units works solicited (一次一评: a `solicited` event before each rating, 6 % more requests that end
`unrated`), the others open (2 % of presses `suppressed` by the cooldown). Bad reviews carry 1–2 reasons
(85 %). Every rating's hash chain is real (contract.rating_hash, seq 1 from the genesis hash), so the
integrity report finds every chain whole; nothing is before enrollment, no device moved, no clock skewed.

This module only makes rows (`city`, `unit_year`); bench/city_load.py writes them.
"""
from __future__ import annotations

import bisect
import json
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from centre.registry import hours
from contract import GENESIS_HASH, RATING_FIELDS, rating_hash

FIXTURE_VERSION = 1                 # bump when the generated rows change: the cached city is reloaded
YEAR = 2025
TIMEZONE = "Asia/Shanghai"
ZONE = ZoneInfo(TIMEZONE)
APP_VERSION = "0.9.0"
ENROLLED_AT = "2024-12-20T02:00:00.000000+00:00"
BOOTED_BEFORE_S = 1800              # each terminal starts half an hour before its unit opens
DISTRICTS = (("东城区", "Dongcheng"), ("西城区", "Xicheng"), ("南湖区", "Nanhu"), ("北湖区", "Beihu"),
             ("江东区", "Jiangdong"), ("江北区", "Jiangbei"), ("高新区", "Gaoxin"), ("经开区", "Jingkai"),
             ("临江县", "Linjiang"), ("青山县", "Qingshan"), ("白沙县", "Baisha"), ("石桥镇", "Shiqiao"),
             ("新港区", "Xingang"), ("滨海区", "Binhai"), ("城南区", "Chengnan"), ("城北区", "Chengbei"))
DISTRICT_WEIGHTS = (14, 12, 10, 9, 8, 8, 7, 6, 5, 4, 4, 3, 3, 3, 2, 2)
SECTOR_WEIGHTS = {"hrss": 8, "public_security": 9, "health": 7, "national_tax": 6, "local_tax": 6,
                  "industry_commerce": 5, "housing": 4, "transport": 4, "education": 4, "construction": 3,
                  "land": 3, "planning": 2, "environment": 2, "agriculture": 2, "water": 2, "culture": 2,
                  "urban_management": 3, "finance": 2, "banking": 3, "power": 3, "telecom": 3}
HOURS = {"weekdays": "mon-fri 09:00-12:00 13:30-17:30",
         "saturday": "mon-fri 08:30-12:00 13:00-17:00; sat 09:00-12:00",
         "all_week": "mon-sun 08:00-17:30"}
CLOSED = {date(2025, 1, 1), *(date(2025, 1, 28) + timedelta(days=i) for i in range(8)),
          *(date(2025, 4, 4) + timedelta(days=i) for i in range(3)),
          *(date(2025, 5, 1) + timedelta(days=i) for i in range(5)),
          *(date(2025, 5, 31) + timedelta(days=i) for i in range(3)),
          *(date(2025, 10, 1) + timedelta(days=i) for i in range(8))}
WEEKDAY_LOAD = (1.25, 1.1, 1.0, 1.0, 0.9, 0.6, 0.5)           # Monday is the busiest
REASONS = ("wait", "slow", "attitude", "unclear", "extra_trips", "environment")
REASON_WEIGHTS = (30, 25, 15, 15, 10, 5)
CENTRE_COLUMNS = ("delivered_by", "placed_unit_id", "placed_counter_id", "before_enrollment", "placement_differs",
                  "received_at", "sent_at", "corrected_at", "counted_at", "clock_corrected", "conflict")
RATING_COLUMNS = (*(name for name in RATING_FIELDS), *CENTRE_COLUMNS)
REASON_COLUMNS = ("device_id", "id", "rating_uuid", "code", "recorded_at", "received_at")
EVENT_COLUMNS = ("device_id", "id", "kind", "recorded_at", "mono_ns", "boot_id", "detail", "received_at",
                 "counted_at")


@dataclass(frozen=True)
class Params:
    units: int = 1000
    counters: int = 5000
    ratings: int = 20_000_000
    seed: int = 20251231

    def key(self) -> str:
        """What the cached city was made from: a different key means another city, reloaded."""
        return json.dumps({"version": FIXTURE_VERSION, "year": YEAR, "units": self.units, "counters": self.counters,
                           "ratings": self.ratings, "seed": self.seed}, sort_keys=True)


@dataclass(frozen=True)
class Counter:
    unit_id: str
    id: str
    device_id: str
    channel: str                     # the terminal's own: panel or touch (5 % keyboard beside a panel)
    staff: tuple[str, str]           # morning, afternoon
    ratings: int                     # its share of the year


@dataclass(frozen=True)
class Unit:
    index: int
    id: str
    district: int                    # index into DISTRICTS
    sector: str
    hours: str
    good: float                      # the unit's own 好评率
    solicited: bool
    counters: tuple[Counter, ...] = field(default=())

    @property
    def name(self) -> str:
        return f"{DISTRICTS[self.district][0]}政务服务点{self.index + 1:04d}"


def _split(total: int, weights: list[float], offset: float = 0.5) -> list[int]:
    """`total` shared out in proportion to `weights` by cumulative rounding (each part within one of its
    share, the parts summing to `total`); `offset` in [0, 1) shifts where the roundings fall."""
    scale, cumulative, parts, before = total / sum(weights), 0.0, [], 0
    for weight in weights:
        cumulative += weight * scale
        upto = min(total, int(cumulative + offset))
        parts.append(upto - before)
        before = upto
    parts[-1] += total - before
    return parts


def city(params: Params) -> list[Unit]:
    """The city's units and counters, each counter's share of the year's ratings."""
    rng = random.Random(params.seed)
    sectors, sector_weights = list(SECTOR_WEIGHTS), list(SECTOR_WEIGHTS.values())
    activity = [rng.lognormvariate(0, 0.9) for _ in range(params.units)]
    extra = _split(params.counters - params.units, [a ** 0.5 for a in activity])
    drafts, weights = [], []
    for i in range(params.units):
        sector = rng.choices(sectors, sector_weights)[0]
        kind = "all_week" if sector == "health" else ("saturday" if rng.random() < 0.25 else "weekdays")
        unit = Unit(i, f"u{i + 1:04d}", rng.choices(range(len(DISTRICTS)), DISTRICT_WEIGHTS)[0], sector,
                    HOURS[kind], min(0.995, max(0.7, rng.betavariate(30, 2))), rng.random() < 0.2)
        count = 1 + extra[i]
        channels = [rng.choice(("panel", "panel", "touch")) for _ in range(count)]
        shares = [activity[i] / count * rng.lognormvariate(0, 0.3) for _ in range(count)]
        drafts.append((unit, channels))
        weights.extend(shares)
    per_counter = iter(_split(params.ratings, weights))
    units = []
    for unit, channels in drafts:
        counters = tuple(Counter(unit.id, f"c{k + 1:02d}", f"dev-{unit.id}-c{k + 1:02d}", channel,
                                 (f"{unit.id}-E{2 * k + 1:02d}", f"{unit.id}-E{2 * k + 2:02d}"), next(per_counter))
                         for k, channel in enumerate(channels))
        units.append(replace(unit, counters=counters))
    return units


def open_days(unit: Unit) -> list[tuple[date, list[tuple[int, int]], float]]:
    """Each day the unit opens: its periods in local seconds since midnight, and its share of the traffic."""
    periods = hours.parse(unit.hours)
    days = []
    day = date(YEAR, 1, 1)
    while day.year == YEAR:
        weekday = day.weekday()
        spans = [(start.hour * 3600 + start.minute * 60, end.hour * 3600 + end.minute * 60)
                 for days_of, start, end in periods if hours.DAYS[weekday] in days_of]
        if spans and day not in CLOSED:
            days.append((day, spans, WEEKDAY_LOAD[weekday] * sum(end - start for start, end in spans)))
        day += timedelta(days=1)
    return days


@dataclass
class Rows:
    """One unit's year: rows as the centre stores them (tuples in *_COLUMNS order) and, for the rollups,
    the rows as rollups.maintain takes them, per device."""

    ratings: list[tuple[Any, ...]] = field(default_factory=list)
    reasons: list[tuple[Any, ...]] = field(default_factory=list)
    events: list[tuple[Any, ...]] = field(default_factory=list)
    new_ratings: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    new_reasons: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    new_events: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def _level_table(good: float) -> tuple[list[float], list[int]]:
    bad = 1 - good
    shares = [(5, 0.68 * good), (4, 0.22 * good), (3, 0.10 * good), (2, 0.55 * bad), (1, 0.45 * bad)]
    cumulative, total = [], 0.0
    for _, share in shares:
        total += share
        cumulative.append(total)
    return cumulative, [level for level, _ in shares]


def unit_year(params: Params, unit: Unit) -> Rows:
    rng = random.Random(params.seed * 7919 + unit.index)
    days = open_days(unit)
    day_weights = [weight for _, _, weight in days]
    rows = Rows()
    for counter in unit.counters:
        device = _Device(rng, unit, counter, rows)
        for (day, spans, _), count in zip(days, _split(counter.ratings, day_weights, rng.random())):
            if count:
                device.day(day, spans, count)
    return rows


def _moments(rng: random.Random, spans: list[tuple[int, int]], count: int) -> Iterator[int]:
    """`count` sorted local seconds within the day's open periods, uniformly."""
    total = sum(end - start for start, end in spans)
    for offset in sorted(rng.random() * total for _ in range(count)):
        for start, end in spans:
            if offset < end - start:
                yield int(start + offset)
                break
            offset -= end - start


class _Device:
    """One terminal's year, in seq order: its chain, its reason and event row ids."""

    def __init__(self, rng: random.Random, unit: Unit, counter: Counter, rows: Rows) -> None:
        self.rng, self.unit, self.counter, self.rows = rng, unit, counter, rows
        self.levels = _level_table(unit.good)
        self.seq, self.prev_hash, self.reason_id, self.event_id = 0, GENESIS_HASH, 0, 0
        self.new_ratings = rows.new_ratings.setdefault(counter.device_id, [])
        self.new_reasons = rows.new_reasons.setdefault(counter.device_id, [])
        self.new_events = rows.new_events.setdefault(counter.device_id, [])

    def day(self, day: date, spans: list[tuple[int, int]], count: int) -> None:
        rng, counter = self.rng, self.counter
        midnight = datetime(day.year, day.month, day.day, tzinfo=ZONE).astimezone(UTC)
        boot_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        opening = spans[0][0]
        staffed = rng.random() < 0.97
        for second in _moments(rng, spans, count):
            moment = midnight + timedelta(seconds=second, microseconds=rng.randrange(1_000_000))
            staff = (counter.staff[0] if second < 12 * 3600 + 1800 else counter.staff[1]) \
                if staffed and rng.random() > 0.07 else None
            channel = "keyboard" if counter.channel == "panel" and rng.random() < 0.05 else counter.channel
            if self.unit.solicited:
                if rng.random() < 0.06:
                    self._event("solicited", moment - timedelta(seconds=90), opening, midnight, boot_id,
                                {"case_no": None, "source": "staff_key", "staff_id": staff})
                    self._event("unrated", moment - timedelta(seconds=75), opening, midnight, boot_id,
                                {"case_no": None, "source": "staff_key", "staff_id": staff})
                self._event("solicited", moment - timedelta(seconds=20), opening, midnight, boot_id,
                            {"case_no": None, "source": "staff_key", "staff_id": staff})
            level = self.levels[1][bisect.bisect_left(self.levels[0], rng.random() * self.levels[0][-1])]
            self._rating(moment, second - opening + BOOTED_BEFORE_S, boot_id, staff, channel, level)
            if not self.unit.solicited and rng.random() < 0.02:
                self._event("suppressed", moment + timedelta(seconds=2), opening, midnight, boot_id,
                            {"level": level, "channel": channel, "why": "cooldown"})

    def _rating(self, moment: datetime, since_boot: int, boot_id: str, staff: str | None, channel: str,
                level: int) -> None:
        rng, counter = self.rng, self.counter
        self.seq += 1
        recorded = moment.isoformat(timespec="microseconds")
        received = (moment + timedelta(seconds=3)).isoformat(timespec="microseconds")
        row = {"uuid": str(uuid.UUID(int=rng.getrandbits(128), version=4)), "seq": self.seq,
               "device_id": counter.device_id, "unit_id": counter.unit_id, "counter_id": counter.id,
               "staff_id": staff, "case_no": None, "level": level, "channel": channel,
               "mode": "solicited" if self.unit.solicited else "open", "recorded_at": recorded,
               "mono_ns": since_boot * 1_000_000_000 + moment.microsecond * 1000, "boot_id": boot_id,
               "clock_suspect": False, "app_version": APP_VERSION, "prev_hash": self.prev_hash}
        row["hash"] = self.prev_hash = rating_hash(row)
        centre = (counter.device_id, counter.unit_id, counter.id, False, False, received, received, None, recorded,
                  False, False)
        self.rows.ratings.append((*(row[name] for name in RATING_FIELDS), *centre))
        self.new_ratings.append({"uuid": row["uuid"], "placed_unit_id": counter.unit_id,
                                 "placed_counter_id": counter.id, "staff_id": staff, "channel": channel,
                                 "level": level, "counted_at": recorded, "before_enrollment": False})
        if level <= 2 and rng.random() < 0.85:
            for code in set(rng.choices(REASONS, REASON_WEIGHTS, k=1 if rng.random() < 0.7 else 2)):
                self.reason_id += 1
                self.rows.reasons.append((counter.device_id, self.reason_id, row["uuid"], code,
                                          (moment + timedelta(seconds=8)).isoformat(timespec="microseconds"),
                                          (moment + timedelta(seconds=11)).isoformat(timespec="microseconds")))
                self.new_reasons.append({"rating_uuid": row["uuid"], "code": code})

    def _event(self, kind: str, moment: datetime, opening: int, midnight: datetime, boot_id: str,
               detail: dict[str, Any]) -> None:
        self.event_id += 1
        at = moment.isoformat(timespec="microseconds")
        since = int((moment - midnight).total_seconds() - opening + BOOTED_BEFORE_S) * 1_000_000_000
        self.rows.events.append((self.counter.device_id, self.event_id, kind, at, since, boot_id,
                                 json.dumps(detail, ensure_ascii=False, sort_keys=True), at, at))
        self.new_events.append({"kind": kind, "detail": detail, "counted_at": at})
