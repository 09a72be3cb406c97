"""A small crafted city for the integrity signals' tests, built through the real path: registered units with
opening hours, devices enrolled with one-time codes, each device's records appended to its own hash chain as the
terminal's store appends them, sent as signed gzipped batches through the ingest's own functions
(centre/demo/sender.py deliver: signature, body, ingest with its chain check and rollups).

Every counter lives honest days (a citizen every ~45 minutes, a request, the press a few seconds later, one in
ten requests unrated, a tenth of the ratings bad); a test's manipulation replaces or adds to what one counter
records on some days. Two things cannot go through a device batch and are written as the centre's own code
writes them: a device move in the registry (centre/registry/placements.move) and a heartbeat
(centre.enroll.record_heartbeat). Receipts looked up for ratings never delivered are rows of receipt_misses,
which the citizen pages write (the test inserts them with the table's definition).
"""
from __future__ import annotations

import random
import uuid as uuids
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from centre.demo import sender
from centre.registry import queries
from centre.registry.model import CounterSpec, UnitSpec
from contract import GENESIS_HASH, PROTOCOL_VERSION, canonical_json, iso_utc, rating_hash

ZONE = ZoneInfo("Asia/Shanghai")
HOURS = "mon-sun 09:00-12:00 13:00-17:00"
PERIODS = ((time(9, 0), time(12, 0)), (time(13, 0), time(17, 0)))
FIRST, LAST = date(2026, 1, 20), date(2026, 2, 12)     # a month's first in between: a ranking's publication
LEVELS = (1, 2, 3, 4, 5)
HONEST_WEIGHTS = (4, 6, 10, 25, 55)          # a tenth bad, a good rate of 90 %
APP_VERSION = "0.1.0"


def days() -> list[date]:
    return [FIRST + timedelta(days=n) for n in range((LAST - FIRST).days + 1)]


def local(day: date, hour: int, minute: int = 0, second: float = 0.0) -> datetime:
    return datetime.combine(day, time(hour), ZONE) + timedelta(minutes=minute, seconds=second)


class Terminal:
    """One device's store: its chain, its events, its clock (which a test may set off)."""

    def __init__(self, device: sender.Device, unit_id: str, counter_id: str, mode: str, rng: random.Random):
        self.device, self.unit_id, self.counter_id, self.mode, self.rng = device, unit_id, counter_id, mode, rng
        self.seq, self.last_hash, self.event_id = 0, GENESIS_HASH, 0
        self.boot_id, self.booted = "", datetime.min.replace(tzinfo=ZONE)
        self.offset = timedelta(0)
        self.ratings: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.claimed_counter: str | None = None      # set on the terminal: ratings name this counter

    def clock(self, at: datetime) -> datetime:
        return at + self.offset

    def boot(self, at: datetime) -> None:
        self.boot_id, self.booted = str(uuids.UUID(int=self.rng.getrandbits(128), version=4)), at

    def mono(self, at: datetime) -> int:
        return (at - self.booted) // timedelta(microseconds=1) * 1000

    def rate(self, at: datetime, level: int, staff_id: str | None, case_no: str | None = None) -> str:
        self.seq += 1
        row: dict[str, Any] = {
            "uuid": self.uuid(at), "seq": self.seq, "device_id": self.device.device_id, "unit_id": self.unit_id,
            "counter_id": self.claimed_counter or self.counter_id, "staff_id": staff_id, "case_no": case_no,
            "level": level, "channel": "panel", "mode": self.mode, "recorded_at": iso_utc(self.clock(at)),
            "mono_ns": self.mono(at), "boot_id": self.boot_id, "clock_suspect": False, "app_version": APP_VERSION,
            "prev_hash": self.last_hash}
        row["hash"] = self.last_hash = rating_hash(row)
        self.ratings.append(row)
        return str(row["uuid"])

    def record(self, at: datetime, kind: str, **detail: Any) -> None:
        self.event_id += 1
        self.events.append({"id": self.event_id, "kind": kind, "recorded_at": iso_utc(self.clock(at)),
                            "mono_ns": self.mono(at), "boot_id": self.boot_id, "detail": detail})

    def uuid(self, at: datetime) -> str:
        ms = int(self.clock(at).timestamp() * 1000)
        rand_a, rand_b = self.rng.getrandbits(12), self.rng.getrandbits(62)
        return str(uuids.UUID(int=(ms << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b))

    def send(self, engine: Engine, at: datetime) -> None:
        """Everything pending, as one signed batch received at `at`."""
        if not (self.ratings or self.events):
            return
        body = canonical_json({"protocol": PROTOCOL_VERSION, "device_id": self.device.device_id,
                               "sent_at": iso_utc(self.clock(at)), "ratings": self.ratings, "reasons": [],
                               "events": self.events})
        self.ratings, self.events = [], []
        sender.deliver(engine, self.device, body, self.clock(at), at, self.rng)


Twist = Callable[["Counter", date], bool]     # records the counter's day its own way; False: the honest day too


@dataclass
class Counter:
    unit_id: str
    counter_id: str
    terminal: Terminal
    staff: str
    rng: random.Random
    per_day: int = 8
    weights: tuple[int, ...] = HONEST_WEIGHTS
    unrated: float = 0.1
    case_numbers: bool = False
    latency: tuple[float, float] = (2.0, 10.0)
    twists: list[Twist] = field(default_factory=list)
    cases: int = 0

    def service_times(self, day: date) -> list[datetime]:
        """`per_day` services spread over the day's opening periods, a little jittered."""
        minutes = [(start.hour * 60 + start.minute, end.hour * 60 + end.minute) for start, end in PERIODS]
        total = sum(end - start for start, end in minutes)
        found = []
        for index in range(self.per_day):
            offset = (index + 0.5) * total / self.per_day + self.rng.uniform(-5, 5)
            for start, end in minutes:
                if offset < end - start:
                    found.append(local(day, 0, 0, (start + offset) * 60))
                    break
                offset -= end - start
        return found

    def serve(self, at: datetime, level: int | None = None, *, latency: float | None = None,
              case_no: str | None = None, rated: bool | None = None, staff: str | None = "") -> str | None:
        """One service: its request, then its rating (or `unrated`); the rating's uuid."""
        staff_id = self.staff if staff == "" else staff
        if self.case_numbers and case_no is None:
            self.cases += 1
            case_no = f"{at:%m%d}-{self.counter_id}-{self.cases:04d}"
        if self.terminal.mode == "open":
            return self.terminal.rate(at, level or self.level(), staff_id)
        self.terminal.record(at, "solicited", case_no=case_no, staff_id=staff_id,
                             source="counter" if self.case_numbers else "panel")
        if rated is False or (rated is None and self.rng.random() < self.unrated):
            self.terminal.record(at + timedelta(seconds=15), "unrated", case_no=case_no, staff_id=staff_id)
            return None
        wait = latency if latency is not None else self.rng.uniform(*self.latency)
        return self.terminal.rate(at + timedelta(seconds=wait), level or self.level(), staff_id, case_no)

    def level(self) -> int:
        return self.rng.choices(LEVELS, self.weights)[0]

    def live(self, engine: Engine, day: date) -> None:
        terminal = self.terminal
        terminal.boot(local(day, 8, 30))
        terminal.record(local(day, 8, 50), "staff_sign_in", staff_id=self.staff, source="counter")
        replaced = [twist(self, day) for twist in self.twists]     # every twist runs, none short-circuits
        if not any(replaced):
            for at in self.service_times(day):
                self.serve(at)
        terminal.record(local(day, 17, 10), "staff_sign_out", staff_id=self.staff, source="counter")
        terminal.send(engine, local(day, 22, 0))


@dataclass
class City:
    engine: Engine
    counters: dict[tuple[str, str], Counter] = field(default_factory=dict)
    rng: random.Random = field(default_factory=lambda: random.Random(19))

    def unit(self, unit_id: str, count: int = 2, mode: str = "solicited", sector: str = "education",
             **options: Any) -> list[Counter]:
        """Register a unit with `count` counters and enroll a device at each."""
        spec = UnitSpec(id=unit_id, name=unit_id, name_en=None, district="测试区", district_en=None, sector=sector,
                        timezone="Asia/Shanghai", opening_hours=HOURS)
        places = [CounterSpec(unit_id=unit_id, id=f"c-{n}", name=f"{n}号窗口", name_en=None)
                  for n in range(1, count + 1)]
        with self.engine.begin() as conn:
            queries.save(conn, [spec], places)
        devices = sender.enroll_devices(self.engine, [(unit_id, place.id) for place in places])
        made = []
        for place, device in zip(places, devices, strict=True):
            rng = random.Random(f"{unit_id}/{place.id}")
            terminal = Terminal(device, unit_id, place.id, mode, rng)
            made.append(self.counters.setdefault((unit_id, place.id), Counter(
                unit_id, place.id, terminal, f"{unit_id}-{place.id}-staff", rng, **options)))
        return made

    def live(self) -> None:
        for day in days():
            for counter in self.counters.values():
                counter.live(self.engine, day)
