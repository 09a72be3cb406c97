"""The fleet (centre/fleet.py): each device's state against the thresholds, the listing's order and scope, and
today's coverage with the devices silent while their unit is open, on a real SQLite centre whose devices
are enrolled and deliver through the real ingest; their heartbeats are written as the heartbeat route
stores them, at the times each test needs."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, update

from centre import coverage, enroll, fleet
from centre.db.engine import open_engine
from centre.db.tables import device_placements, devices
from centre.demo.sender import enroll_devices
from centre.fleet import Concern, DeviceState, FleetSettings, PanelState
from centre.ingest import ingest
from centre.registry import placements, queries
from centre.registry.model import CounterSpec, UnitSpec
from contract import GENESIS_HASH, Heartbeat, canonical_json, iso_utc, rating_hash

ZONE = ZoneInfo("Asia/Shanghai")
# A Wednesday afternoon in the city: the all-week unit is open, the mornings-only unit closed.
NOW = datetime(2026, 11, 4, 14, 0, tzinfo=ZONE).astimezone(UTC)
HOURS = {"u-open": "mon-sun 09:00-17:00", "u-morning": "mon-fri 09:00-12:00", "u-none": ""}


def beat(device_id: str = "d", *, queue: int = 0, oldest: datetime | None = None, offset_s: float | None = 0.0,
         last_seq: int = 0, panel: dict[str, Any] | None = None, last_error: str | None = None) -> dict[str, Any]:
    """A heartbeat as the terminal sends it (its own clock is the centre's minus `offset_s`)."""
    device_clock = timedelta(seconds=-(offset_s or 0.0))
    return Heartbeat(device_id=device_id, sent_at=iso_utc(NOW + device_clock), app_version="0.2.0",
                     queue_depth=queue, oldest_unsynced_at=iso_utc(oldest + device_clock) if oldest else None,
                     last_seq=last_seq, last_hash=GENESIS_HASH, verify_ok=True, clock_offset_s=offset_s,
                     panel=panel or {}, last_error=last_error).model_dump(mode="json")


def state(last_seen: datetime | None, sent: dict[str, Any] | None = None, revoked: bool = False,
          settings: FleetSettings = fleet.DEFAULT_SETTINGS) -> DeviceState:
    return fleet.state_of(revoked, last_seen, fleet.read_beat(sent), NOW, settings)


def test_a_device_state_follows_the_thresholds() -> None:
    minutes = lambda n: NOW - timedelta(minutes=n)   # noqa: E731
    assert state(None) is DeviceState.NEVER_SEEN
    assert state(minutes(1), beat(), revoked=True) is DeviceState.REVOKED
    assert state(minutes(14), beat()) is DeviceState.ONLINE
    assert state(minutes(16), beat()) is DeviceState.OFFLINE
    assert state(minutes(16), beat(queue=500)) is DeviceState.OFFLINE           # silent outranks lagging
    assert state(minutes(1), beat(queue=50)) is DeviceState.ONLINE
    assert state(minutes(1), beat(queue=51)) is DeviceState.LAGGING
    assert state(minutes(1), beat(queue=1, oldest=minutes(9))) is DeviceState.ONLINE
    assert state(minutes(1), beat(queue=1, oldest=minutes(11))) is DeviceState.LAGGING
    # A device clock 5 min fast says its oldest rating waits 7 min; on the centre's clock it waits 12.
    fast = beat(queue=1, oldest=minutes(12), offset_s=-300)
    assert fast["oldest_unsynced_at"] == iso_utc(minutes(7))
    assert state(minutes(1), fast) is DeviceState.LAGGING
    assert state(minutes(6), beat(), settings=FleetSettings(offline_after_minutes=5)) is DeviceState.OFFLINE
    assert fleet.read_beat({"device_id": "d", "queue_depth": -1}) is None        # not a heartbeat: no verdict on it


@dataclass
class City:
    engine: Engine
    ids: dict[str, str]                     # "unit/counter" → device id
    seqs: dict[str, int] = field(default_factory=dict)
    hashes: dict[str, str] = field(default_factory=dict)

    def rate(self, place: str, at: datetime, n: int = 1) -> None:
        """`n` ratings at `at` delivered by the device of `place` through the ingest, its clock right."""
        unit_id, counter_id = place.split("/")
        device_id = self.ids[place]
        rows = []
        for _ in range(n):
            seq = self.seqs.get(device_id, 0) + 1
            fields = {"uuid": str(uuid.uuid4()), "seq": seq, "device_id": device_id, "unit_id": unit_id,
                      "counter_id": counter_id, "staff_id": None, "case_no": None, "level": 5, "channel": "touch",
                      "mode": "open", "recorded_at": iso_utc(at), "mono_ns": seq, "boot_id": "boot-1",
                      "clock_suspect": False, "app_version": "0.2.0",
                      "prev_hash": self.hashes.get(device_id, GENESIS_HASH)}
            fields["hash"] = rating_hash(fields)
            self.seqs[device_id], self.hashes[device_id] = seq, fields["hash"]
            rows.append(fields)
        batch = {"protocol": 1, "device_id": device_id, "sent_at": iso_utc(at + timedelta(minutes=1)),
                 "ratings": rows, "reasons": [], "events": []}
        ack = ingest(self.engine, device_id, canonical_json(batch), received=at + timedelta(minutes=1))
        assert not ack.rejected, ack.rejected

    def heartbeat(self, place: str, seen: datetime, **sent: Any) -> None:
        device_id = self.ids[place]
        with self.engine.begin() as conn:
            conn.execute(update(devices).where(devices.c.id == device_id)
                         .values(last_heartbeat=beat(device_id, **sent), last_seen=iso_utc(seen)))


@pytest.fixture
def city(tmp_path: Path) -> City:
    engine = open_engine(f"sqlite:///{tmp_path / 'centre.db'}")
    places = [(unit, f"c-{n}") for unit in HOURS for n in (1, 2, 3)]
    with engine.begin() as conn:
        queries.save(conn, [UnitSpec(id=unit, name=f"{unit} 大厅", name_en=None, district="测试区", district_en=None,
                                     sector="education", opening_hours=hours) for unit, hours in HOURS.items()],
                     [CounterSpec(unit_id=unit, id=counter, name=f"{counter} 窗口", name_en=None)
                      for unit, counter in places])
    enrolled = enroll_devices(engine, places)
    return City(engine, {f"{unit}/{counter}": device.device_id for (unit, counter), device in zip(places, enrolled)})


def test_the_fleet_lists_offline_and_lagging_first_and_keeps_to_its_units(city: City) -> None:
    ago = lambda n: NOW - timedelta(minutes=n)    # noqa: E731
    city.rate("u-open/c-1", ago(90), n=3)
    city.heartbeat("u-open/c-1", ago(1), last_seq=1)                        # says 1, the centre holds 3: cut tail
    city.heartbeat("u-open/c-2", ago(40))                                    # offline
    city.heartbeat("u-open/c-3", ago(2), queue=80, panel={"connected": False})   # lagging, panel off
    city.heartbeat("u-morning/c-1", ago(3), offset_s=90.0)                   # online, clock 90 s off
    city.heartbeat("u-morning/c-2", ago(3), panel={"connected": True, "model": "EVP-1"})
    assert enroll.revoke(city.engine, city.ids["u-morning/c-3"])

    listed = fleet.fleet(city.engine, None, NOW)
    states = [(s.place.unit_id + "/" + s.place.counter_id, s.state) for s in listed]
    assert states == [
        ("u-open/c-2", DeviceState.OFFLINE), ("u-open/c-3", DeviceState.LAGGING),
        ("u-none/c-1", DeviceState.NEVER_SEEN), ("u-none/c-2", DeviceState.NEVER_SEEN),
        ("u-none/c-3", DeviceState.NEVER_SEEN),
        ("u-morning/c-1", DeviceState.ONLINE),   # a concern (its clock) before the online devices without one
        ("u-open/c-1", DeviceState.ONLINE),      # its chain's cut tail, likewise
        ("u-morning/c-2", DeviceState.ONLINE), ("u-morning/c-3", DeviceState.REVOKED)]
    by_place = {place: status for (place, _), status in zip(states, listed)}
    assert by_place["u-open/c-3"].concerns == (Concern.PANEL,)
    assert by_place["u-open/c-3"].panel is PanelState.DISCONNECTED and by_place["u-open/c-3"].beat.queue_depth == 80
    assert by_place["u-morning/c-1"].concerns == (Concern.CLOCK,)
    assert by_place["u-morning/c-2"].panel is PanelState.CONNECTED and not by_place["u-morning/c-2"].concerns
    cut = by_place["u-open/c-1"]
    assert cut.concerns == (Concern.CHAIN,) and cut.chain.missing_tail and cut.chain.ratings_held == 3
    assert by_place["u-open/c-2"].silent_for == timedelta(minutes=40)
    assert by_place["u-none/c-1"].panel is PanelState.UNKNOWN and by_place["u-none/c-1"].app_version == "0.1.0"
    assert listed.by_state() == {DeviceState.OFFLINE: 1, DeviceState.LAGGING: 1, DeviceState.NEVER_SEEN: 3,
                                      DeviceState.ONLINE: 3, DeviceState.REVOKED: 1}

    mine = fleet.fleet(city.engine, ("u-morning",), NOW)
    assert {s.place.unit_id for s in mine} == {"u-morning"} and len(mine) == 3
    assert fleet.device(city.engine, city.ids["u-open/c-2"], NOW).state is DeviceState.OFFLINE
    assert fleet.device(city.engine, "dev-nobody", NOW) is None
    report = fleet.chain_report(city.engine, ("u-open",))
    assert report[0].place.counter_id == "c-1" and not report[0].chain.ok
    assert all(row.chain.ok for row in report[1:]) and {row.place.unit_id for row in report} == {"u-open"}


def test_coverage_counts_today_and_names_the_devices_silent_while_their_unit_is_open(city: City) -> None:
    morning = datetime(2026, 11, 4, 10, 0, tzinfo=ZONE)
    city.rate("u-open/c-1", morning, n=2)
    city.rate("u-morning/c-1", morning)
    city.rate("u-open/c-2", datetime(2026, 11, 3, 23, 30, tzinfo=ZONE))   # yesterday, local: not today
    city.heartbeat("u-open/c-1", NOW - timedelta(minutes=2))
    city.heartbeat("u-open/c-3", NOW - timedelta(hours=3))                 # silent: its unit is open
    city.heartbeat("u-morning/c-1", NOW - timedelta(hours=4))              # longer, but its unit has closed
    assert enroll.revoke(city.engine, city.ids["u-none/c-3"])
    today = NOW.astimezone(ZONE).date()

    with city.engine.connect() as conn:
        found = coverage.coverage(conn, None, today, NOW)
        assert (found.units.rated, found.units.of) == (2, 3)
        assert (found.counters.rated, found.counters.of) == (2, 9)
        assert (found.devices.rated, found.devices.of) == (2, 8)   # the revoked device is not counted
        assert found.open_units == 1                                 # u-open; u-morning closed, u-none has no hours
        # Never heard from first, then the longest silent; the open unit's device that beats is not listed.
        assert [s.device_id for s in found.silent] == [city.ids["u-open/c-2"], city.ids["u-open/c-3"]]
        assert found.silent[1].silent_for == timedelta(hours=3)

        closed = coverage.coverage(conn, ("u-morning",), today, NOW)
        assert (closed.units.rated, closed.units.of, closed.devices.of) == (1, 1, 3)
        assert closed.open_units == 0 and closed.silent == [] and closed.silent_count == 0

        # At 10:30 the morning unit is open too: its devices without a heartbeat for 15 min are silent.
        half_past_ten = datetime(2026, 11, 4, 10, 30, tzinfo=ZONE).astimezone(UTC)
        opened = coverage.coverage(conn, ("u-morning",), today, half_past_ten)
        assert opened.open_units == 1
        assert {s.device_id for s in opened.silent} == {city.ids[f"u-morning/c-{n}"] for n in (1, 2, 3)}


def test_opening_hours_are_read_in_the_unit_zone() -> None:
    lunch = "mon-fri 09:00-12:00 13:30-17:30"
    at = lambda *hm: datetime(2026, 11, 4, *hm, tzinfo=ZONE)   # noqa: E731   a Wednesday
    assert coverage.is_open(lunch, ZONE, at(9, 0)) and coverage.is_open(lunch, ZONE, at(17, 29))
    assert not coverage.is_open(lunch, ZONE, at(12, 0)) and not coverage.is_open(lunch, ZONE, at(17, 30))
    assert not coverage.is_open(lunch, ZONE, datetime(2026, 11, 7, 10, 0, tzinfo=ZONE))     # Saturday
    assert coverage.is_open(lunch, ZONE, at(10, 0).astimezone(UTC))                         # the same moment in UTC
    assert not coverage.is_open(lunch, ZoneInfo("Europe/London"), at(10, 0))                # 02:00 in London
    assert not coverage.is_open("", ZONE, at(10, 0)) and not coverage.is_open("not hours", ZONE, at(10, 0))


def test_coverage_counts_a_device_by_its_counter_unless_its_place_changed(city: City) -> None:
    today = NOW.astimezone(ZONE).date()
    city.rate("u-open/c-1", NOW - timedelta(hours=3))
    city.rate("u-open/c-2", NOW - timedelta(days=1))                # yesterday: its counter did not rate today
    with city.engine.begin() as conn:    # every device has stood at its counter for a month: read by the counter
        conn.execute(update(device_placements).values(from_at=iso_utc(NOW - timedelta(days=30))))
    with city.engine.connect() as conn:
        assert coverage.coverage(conn, None, today, NOW).devices == coverage.Share(1, 9)
    # c-2's device now stands at c-1 too, which rated today, but not by it: both are asked of the ratings
    placements.move(city.engine, city.ids["u-open/c-2"], "u-open", "c-1")
    with city.engine.connect() as conn:
        assert coverage.coverage(conn, None, today, NOW).devices == coverage.Share(1, 9)
    assert enroll.revoke(city.engine, city.ids["u-open/c-1"])         # its rating today counts for no active one
    with city.engine.connect() as conn:
        assert coverage.coverage(conn, None, today, NOW).devices == coverage.Share(0, 8)
