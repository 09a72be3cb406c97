"""The sync worker's other duties against a real collector: config pulls with ETags, and heartbeats."""
from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import yaml
from sqlalchemy import create_engine, select

from centre.db.engine import open_engine
from centre.db.tables import devices
from centre.registry import staff as roster_of_staff
from centre.registry import staff_file
from evaluator.terminal import open_store
from kiosk.config import load
from kiosk.store.outbox import Outbox
from kiosk.store.status import read_sync_status
from kiosk.store.tables import Channel, EventKind
from sync.client import CentreClient, Credentials
from sync.provision import ETAG_FILE
from sync.uploader import SyncWorker
from tests.sync.conftest import fill, provisioned


def set_roster(collector, tmp_path: Path, unit: str, staff: list[dict]) -> None:
    """The unit's roster from a file, as `evaluator centre roster` sets it (the file read and checked, then stored),
    by the same functions in this process: the command is tested in tests/centre, and a start costs half a second."""
    roster = tmp_path / f"roster-{len(staff)}.yaml"
    roster.write_text(yaml.safe_dump(staff, allow_unicode=True), encoding="utf-8")
    engine = open_engine(collector.db, create=False)
    try:
        roster_of_staff.set_roster(engine, unit, staff_file.read(roster))
    finally:
        engine.dispose()


def run_worker_until(settings, config: Path, condition, timeout_s: float = 30) -> SyncWorker:
    store = open_store(settings)
    stop = threading.Event()
    worker = SyncWorker(settings, store, stop, config_path=config)
    thread = threading.Thread(target=worker.run)
    thread.start()
    try:
        deadline = time.monotonic() + timeout_s
        while not condition(worker):
            assert time.monotonic() < deadline, f"condition not met; last error {worker.last_error}"
            stop.wait(0.05)
    finally:
        stop.set()
        thread.join(30)
        store.close()
    return worker


def last_heartbeat(collector, device_id: str) -> dict | None:
    engine = create_engine(collector.db)
    try:
        with engine.connect() as conn:
            return conn.execute(select(devices.c.last_heartbeat).where(devices.c.id == device_id)).scalar()
    finally:
        engine.dispose()


def test_a_new_roster_reaches_the_terminal_and_etags_spare_the_download(collector, terminal_config, tmp_path):
    config = terminal_config()
    settings = provisioned(collector, config)
    assert load(config).staff == ()
    staff = [{"id": "E1023", "name": "李明", "post": "综合窗口"}, {"id": "E2000", "name": "王芳"}]
    set_roster(collector, tmp_path, settings.unit.id, staff)

    run_worker_until(settings, config, lambda _w: len(load(config).staff) == 2)
    staff = [(m.id, m.name, m.post) for m in load(config).staff]
    assert staff == [("E1023", "李明", "综合窗口"), ("E2000", "王芳", "")]
    etag = (settings.sync.state_dir / ETAG_FILE).read_text()
    credentials = Credentials.load(settings.sync.state_dir)
    client = CentreClient(credentials.server, credentials)
    try:
        assert client.config(etag) == (None, etag)                       # 304: nothing downloaded
        fresh, new_etag = client.config(None)
        assert new_etag == etag and [member["id"] for member in fresh.staff] == ["E1023", "E2000"]
    finally:
        client.close()


def test_a_roster_that_does_not_fit_the_config_is_refused_and_the_old_one_kept(collector, terminal_config,
                                                                                 tmp_path):
    config = terminal_config()
    settings = provisioned(collector, config)
    set_roster(collector, tmp_path, settings.unit.id, [{"id": "E1", "name": "李明"}, {"id": "E2", "name": "王芳"}])
    run_worker_until(settings, config, lambda _w: len(load(config).staff) == 2)
    # The technician signs E2 in at start; then the centre drops E2 from the roster.
    config.write_text(config.read_text() + "counter: {staff_id: E2}\n", encoding="utf-8")
    set_roster(collector, tmp_path, settings.unit.id, [{"id": "E1", "name": "李明"}])
    fill(settings, 2)
    worker = run_worker_until(settings, config, lambda w: w.last_error and "does not fit" in w.last_error)
    assert "counter.staff_id" in worker.last_error
    assert [member.id for member in load(config).staff] == ["E1", "E2"]  # the terminal still starts
    store = open_store(settings)
    try:
        assert [row["sync_state"] for row in store.recent_ratings(5)] == ["synced", "synced"]   # uploads went on
    finally:
        store.close()


def test_the_heartbeat_reports_queue_clock_and_panel(collector, terminal_config):
    config = terminal_config()
    settings = provisioned(collector, config)
    store = open_store(settings)
    store.record_event(EventKind.PANEL_CONNECTED, role="panel", port="/dev/evaluator-panel")
    store.record_event(EventKind.PANEL_HELLO, role="panel", model="EVP-100", firmware="2.4.1")
    store.close()
    fill(settings, 3)

    # The second beat carries the clock offset measured by the first.
    run_worker_until(settings, config, lambda _w: (last_heartbeat(collector, settings.device.id) or {})
                     .get("clock_offset_s") is not None)
    beat = last_heartbeat(collector, settings.device.id)
    assert beat["queue_depth"] == 0 and beat["last_seq"] == 3 and beat["verify_ok"] is True
    assert abs(beat["clock_offset_s"]) < 5                               # same machine, same clock
    assert beat["panel"] == {"connected": True, "port": "/dev/evaluator-panel", "since": beat["panel"]["since"],
                             "model": "EVP-100", "firmware": "2.4.1"}
    assert beat["last_error"] is None
    local = read_sync_status(settings.sync.state_dir)                  # what `evaluator status` shows
    assert local["last_success_at"] and local["last_error"] is None and local["clock_offset_s"] is not None


def test_a_bad_review_is_sent_at_once_not_at_the_next_interval(collector, terminal_config):
    config = terminal_config()
    settings = provisioned(collector, config)
    settings = settings.model_copy(update={"sync": settings.sync.model_copy(
        update={"interval_s": 3600.0, "bad_review_poll_s": 0.2})})
    store = open_store(settings)
    stop = threading.Event()
    thread = threading.Thread(target=SyncWorker(settings, store, stop, config_path=config).run)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while last_heartbeat(collector, settings.device.id) is None:    # the first drain is over
            assert time.monotonic() < deadline
            stop.wait(0.05)
        store.append_rating(5, Channel.TOUCH, "open")                   # a good one waits for the hour…
        stop.wait(1.0)
        assert Outbox(store).depth().ratings == 1
        bad = store.append_rating(1, Channel.TOUCH, "open")              # …a bad review takes both along at once
        deadline = time.monotonic() + 5
        while Outbox(store).depth().ratings:
            assert time.monotonic() < deadline, "the bad review was not sent within 5 s"
            stop.wait(0.05)
        assert store.recent_ratings(1)[0]["uuid"] == bad.uuid
    finally:
        stop.set()
        thread.join(30)
        store.close()


def test_a_rejected_rating_keeps_its_reason_and_never_blocks_the_queue(collector, terminal_config):
    config = terminal_config()
    settings = provisioned(collector, config)
    store = open_store(settings)
    store.append_rating(5, Channel.PANEL, "solicited", case_no="A-1")
    store.append_rating(4, Channel.PANEL, "solicited", case_no="bad/case")  # what a buggy counter PC might pass
    store.append_rating(3, Channel.PANEL, "solicited", case_no="A-3")
    store.close()
    done = subprocess.run([sys.executable, "-m", "evaluator.cli", "sync", "--once", "--config", str(config)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr                                  # a technician must see it
    assert "2 accepted" in done.stdout and "1 rejected" in done.stdout
    assert "1 row rejected by the centre: " in done.stderr and "case_no" in done.stderr
    with sqlite3.connect(settings.store.path) as raw:
        rows = raw.execute("SELECT seq, sync_state, sync_note FROM ratings ORDER BY seq").fetchall()
    assert [(seq, state) for seq, state, _note in rows] == [(1, "synced"), (2, "rejected"), (3, "synced")]
    assert "case_no" in rows[1][2]
    again = subprocess.run([sys.executable, "-m", "evaluator.cli", "sync", "--once", "--config", str(config)],
                           capture_output=True, text=True, timeout=120)
    assert "sent 0 batch(es)" in again.stdout                                  # not sent over and over


def test_a_synced_rating_edited_or_cut_on_the_device_shows_at_the_centre(collector, terminal_config):
    config = terminal_config()
    settings = provisioned(collector, config)
    fill(settings, 6)
    run_worker_until(settings, config, lambda _w: (last_heartbeat(collector, settings.device.id) or {})
                     .get("queue_depth") == 0)
    with sqlite3.connect(settings.store.path) as raw:                     # someone with root and sqlite3
        raw.execute("DROP TRIGGER ratings_no_update")
        raw.execute("DROP TRIGGER ratings_no_delete")
        raw.execute("UPDATE ratings SET level = 5 WHERE seq = 2")          # a bad review made good
        raw.execute("DELETE FROM ratings WHERE seq >= 5")                  # and the last two gone
    run_worker_until(settings, config, lambda _w: (last_heartbeat(collector, settings.device.id) or {})
                     .get("verify_ok") is False)
    done = collector.cli("integrity", "--json")
    assert done.returncode == 1
    device = {d["device_id"]: d for d in json.loads(done.stdout)["devices"]}[settings.device.id]
    assert device["verify_ok"] is False                                    # the device's own check, reported
    assert device["missing_tail"] is True and device["last_seq"] == 6 and device["heartbeat_last_seq"] == 4


def test_pins_from_the_centre_reach_sign_in_as_hashes_only(collector, terminal_config, tmp_path):
    from kiosk.rating.access import AccessControl, AccessFile, Outcome, Role

    config = terminal_config()
    settings = provisioned(collector, config)
    set_roster(collector, tmp_path, settings.unit.id, [{"id": "E1", "name": "李明", "pin": "2468"},
                                                       {"id": "E2", "name": "王芳", "pin": 13579}])
    run_worker_until(settings, config, lambda _w: len(load(config).staff) == 2)
    for path in (settings.sync.state_dir / "centre.yaml", settings.sync.state_dir / "access.yaml"):
        assert "2468" not in path.read_text() and "13579" not in path.read_text()
    assert "pin" not in (settings.sync.state_dir / "centre.yaml").read_text()

    secrets = AccessFile(settings.sync.state_dir)
    access = AccessControl(load(config), None, secrets)
    assert access.sign_in(Role.STAFF, "E1", "2468").outcome is Outcome.GRANTED
    assert access.sign_in(Role.STAFF, "E2", "13579").outcome is Outcome.GRANTED
    secrets.set_staff_pin("E1", "1111")                               # set on the terminal: wins
    assert access.sign_in(Role.STAFF, "E1", "1111").outcome is Outcome.GRANTED
    assert access.sign_in(Role.STAFF, "E1", "2468").outcome is Outcome.WRONG

    bad = tmp_path / "bad.yaml"
    bad.write_text("- {id: E3, name: 张伟, pin: '12'}\n", encoding="utf-8")
    refused = collector.cli("roster", "--unit", settings.unit.id, "--file", str(bad))
    assert refused.returncode == 2 and "4–16 digits" in refused.stderr
