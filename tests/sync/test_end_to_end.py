"""The real uploader against a real collector process: provisioning, exactly-once, faults, integrity."""
from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from evaluator.terminal import open_store
from kiosk.config import load
from kiosk.rating.service import RatingService
from kiosk.store.outbox import Outbox
from kiosk.store.tables import Channel
from sync.uploader import SyncWorker
from tests.kiosk.virtual_time import VirtualTime
from tests.sync.conftest import Collector, fill, provisioned, running_collector
from tests.sync.fault_proxy import FAULTS, Blackout, FaultProxy

EVALUATOR = [sys.executable, "-m", "evaluator.cli"]
# A backlog of eight full batches (500 ratings each): every fault's plan is met at least twice within it, and
# each fault's retries cross batch boundaries. The connect-timeout test keeps ten thousand: its outages are
# timed, and only a long drain spans several of them.
BACKLOG = 4_000
# The faults that cost seconds each (an answer held past the read timeout, an ack dribbled 16 bytes at a time)
# come every fourth request, not every other: still at least twice within the eight batches, each on a batch.
SLOW_FAULTS = ("read-timeout", "trickle")


def evaluator(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*EVALUATOR, *args, "--config", str(config)], capture_output=True, text=True, timeout=120)


def test_provisioning_writes_a_private_key_and_the_centres_config(collector, terminal_config):
    config = terminal_config()
    code = collector.enroll_code(unit="unit-7", counter="c-3")
    done = evaluator(config, "provision", "--server", collector.url, "--code", code)
    assert done.returncode == 0, done.stderr
    settings = load(config)
    assert settings.device.id in done.stdout and settings.device.id != "dev-0001"
    assert (settings.unit.id, settings.unit.name, settings.counter.id) == ("unit-7", "测试中心", "c-3")
    key = settings.sync.state_dir / "device.json"
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    assert "secret" not in config.read_text()
    again = evaluator(config, "provision", "--server", collector.url, "--code", code)
    assert again.returncode == 2 and "has been used already" in again.stderr     # a code works once


def test_sync_once_drains_and_the_centre_agrees_with_the_terminal(collector, terminal_config):
    config = terminal_config()
    settings = provisioned(collector, config)
    store = open_store(settings)
    clock = VirtualTime()
    service = RatingService(settings, store, clock, monotonic=clock.monotonic)
    service.start()
    for level in (5, 5, 4, 3, 1, 2):
        service.press(level, Channel.TOUCH)
        if service.view.rating and service.view.rating.level in (1, 2):
            service.toggle_reason("slow")
            service.submit_reasons()
        clock.advance(settings.timings.cooldown_s)
    service.solicit(case_no="A-1")
    clock.advance(settings.timings.solicit_window_s)               # unrated
    store.close()

    done = evaluator(config, "sync", "--once", "--progress")
    assert done.returncode == 0, done.stderr
    assert "6/6 ratings" in done.stderr and "6 accepted" in done.stdout

    terminal = json.loads(evaluator(config, "summary", "--json").stdout)
    centre = collector.json("summary", "--unit", settings.unit.id, "--date", terminal["date"])
    assert centre == {**terminal, "before_enrollment": 0, "excluded": 0}   # the centre's keys of its own
    assert terminal["total"] == 6 and terminal["bad_reasons"] == {"slow": 2} and terminal["unrated"] == 1

    again = evaluator(config, "sync", "--once")
    assert again.returncode == 0 and "sent 0 batch(es)" in again.stdout


@pytest.fixture(scope="module")
def centre(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Collector]:
    """One collector for the exactly-once tests, each with a unit and a device of its own, as a city's centre
    serves many: each checks its own device and unit, and that the centre's integrity report is clean."""
    with running_collector(tmp_path_factory.mktemp("centre")) as started:
        yield started


@pytest.mark.parametrize("fault", FAULTS)
def test_a_backlog_arrives_exactly_once_through_each_fault(centre, terminal_config, fault):
    config = terminal_config()
    # A batch of 500 is answered within a tenth of a second even on a loaded machine: a read timeout of 1 s is
    # ten times that. The held answer is held half a second longer, so the client gives up on it first.
    settings = backlog(centre, config, f"unit-{fault}", BACKLOG, read_timeout_s=1.0)
    plan = [None, None, None, fault] if fault in SLOW_FAULTS else [fault, None]
    with FaultProxy(centre.url, plan, hold_s=1.5) as proxy:
        drain_through(settings, proxy.url)
    assert proxy.injected.get(fault, 0) >= 2, proxy.injected
    assert_exactly_once(centre, config, settings, BACKLOG)


def test_ten_thousand_ratings_arrive_exactly_once_through_connect_timeouts(centre, terminal_config, caplog):
    config = terminal_config()
    # A connect on loopback is the kernel's handshake, never slow: 0.2 s is a timeout only a dark link makes.
    # A connection that reached the accept queue before the blackout's own waits out the read timeout.
    settings = backlog(centre, config, "unit-blackout", 10_000, connect_timeout_s=0.2, read_timeout_s=0.5)
    # Short light phases (of traffic): a batch takes well under 0.1 s, so 10,000 ratings span several outages,
    # each long enough for the reset, a retry and a connect timed out.
    with Blackout(centre.url, light_s=0.2, dark_s=0.5) as blackout:
        drain_through(settings, blackout.url)
    timeouts = [record for record in caplog.records if "ConnectTimeout" in record.getMessage()]
    assert blackout.outages >= 2 and len(timeouts) >= 2, (blackout.outages, len(timeouts))
    assert_exactly_once(centre, config, settings, 10_000)


def backlog(collector, config: Path, unit: str, count: int, **timeouts: float):
    """A terminal provisioned for `unit` with `count` ratings queued; its sync settings with `timeouts` (s)."""
    settings = provisioned(collector, config, unit)
    fill(settings, count)
    return settings.model_copy(update={"sync": settings.sync.model_copy(update=timeouts)})


def drain_through(settings, url: str, timeout_s: float = 240) -> None:
    """Run the real worker against `url` until the outbox is empty."""
    credentials = settings.sync.state_dir / "device.json"
    credentials.write_text(json.dumps({**json.loads(credentials.read_text()), "server": url}))
    store = open_store(settings)
    stop = threading.Event()
    thread = threading.Thread(target=SyncWorker(settings, store, stop).run)
    thread.start()
    try:
        deadline = time.monotonic() + timeout_s
        while Outbox(store).depth().ratings and time.monotonic() < deadline:
            stop.wait(0.1)
    finally:
        stop.set()
        thread.join(30)
        store.close()


def assert_exactly_once(collector, config: Path, settings, count: int) -> None:
    with sqlite3.connect(settings.store.path) as raw:                   # every rating marked synced
        assert raw.execute("SELECT sync_state, count(*) FROM ratings GROUP BY sync_state").fetchall() \
            == [("synced", count)]
    integrity = {d["device_id"]: d for d in collector.json("integrity")["devices"]}[settings.device.id]
    assert integrity["gaps"] == [] and integrity["chain_breaks"] == [] and integrity["conflicts"] == 0
    assert integrity["last_seq"] == count == integrity["ratings_held"]  # none lost, none duplicated
    terminal = json.loads(evaluator(config, "summary", "--json").stdout)
    centre = collector.json("summary", "--unit", settings.unit.id, "--date", terminal["date"])
    assert centre == {**terminal, "before_enrollment": 0, "excluded": 0} and terminal["total"] == count


def test_ratings_made_before_enrollment_reach_the_centre_apart_and_leave_no_gap(collector, terminal_config):
    """The README in order: rate, then enroll, then sync. No rating is stranded, none inflates a score."""
    config = terminal_config()
    fill(load(config), 2)                                      # under the default identity (dev-0001)
    settings = provisioned(collector, config)
    assert settings.device.id != "dev-0001"
    fill(settings, 3)                                          # the same chain, seq 3–5, under the enrolled id
    done = evaluator(config, "sync", "--once")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "5 accepted" in done.stdout and "0 rejected" in done.stdout
    with sqlite3.connect(settings.store.path) as raw:
        assert raw.execute("SELECT sync_state, count(*) FROM ratings GROUP BY sync_state").fetchall() \
            == [("synced", 5)]

    check = collector.cli("integrity", "--json")
    assert check.returncode == 0, check.stdout + check.stderr
    integrity = {d["device_id"]: d for d in json.loads(check.stdout)["devices"]}[settings.device.id]
    assert integrity["gaps"] == [] and integrity["chain_breaks"] == [] and integrity["last_seq"] == 5
    assert (integrity["ratings_held"], integrity["before_enrollment"]) == (5, 2)

    day = json.loads(evaluator(config, "summary", "--json").stdout)["date"]
    centre = collector.json("summary", "--unit", settings.unit.id, "--date", day)
    assert centre["total"] == 3 and centre["before_enrollment"] == 2
    assert centre["by_level"] == {"1": 0, "2": 0, "3": 1, "4": 1, "5": 1}    # fill presses 5, 4, 3 again


def test_a_rating_deleted_before_sync_shows_as_a_gap_at_the_centre(collector, terminal_config):
    config = terminal_config()
    settings = provisioned(collector, config)
    fill(settings, 5)
    with sqlite3.connect(settings.store.path) as raw:                    # someone with root and sqlite3
        raw.execute("DROP TRIGGER ratings_no_delete")
        raw.execute("DELETE FROM ratings WHERE seq = 3")
    assert evaluator(config, "sync", "--once").returncode == 0
    done = collector.cli("integrity", "--json")
    assert done.returncode == 1                                          # a problem: exit 1
    report = json.loads(done.stdout)
    integrity = {d["device_id"]: d for d in report["devices"]}[settings.device.id]
    assert report["ok"] is False and integrity["gaps"] == [[3, 3]]


def test_a_revoked_device_is_refused_and_nothing_is_stored(collector, terminal_config):
    config = terminal_config()
    settings = provisioned(collector, config)
    fill(settings, 3)
    assert collector.cli("revoke", settings.device.id).returncode == 0
    done = evaluator(config, "sync", "--once")
    assert done.returncode == 1 and "403" in done.stderr
    store = open_store(settings)
    assert Outbox(store).depth().ratings == 3
    store.close()
    devices = {d["device_id"]: d for d in collector.json("integrity")["devices"]}
    assert devices[settings.device.id]["ratings_held"] == 0 and devices[settings.device.id]["revoked"]
