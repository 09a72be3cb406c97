"""The sync worker's other duties against a real collector: config pulls with ETags, and heartbeats."""
from __future__ import annotations

import threading
import time
from pathlib import Path

import yaml
from sqlalchemy import create_engine, select

from kiosk.app import open_store
from kiosk.config import load
from kiosk.models import EventKind
from kiosk.status import read_sync_status
from sync.client import CentreClient, Credentials
from sync.collector.db import devices
from sync.provision import ETAG_FILE
from sync.uploader import SyncWorker
from tests.sync.conftest import fill, provisioned


def set_roster(collector, tmp_path: Path, unit: str, staff: list[dict]) -> None:
    roster = tmp_path / f"roster-{len(staff)}.yaml"
    roster.write_text(yaml.safe_dump(staff, allow_unicode=True), encoding="utf-8")
    done = collector.cli("roster", "--unit", unit, "--file", str(roster))
    assert done.returncode == 0, done.stderr


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
    assert [(m.id, m.name, m.post) for m in load(config).staff] == [("E1023", "李明", "综合窗口"), ("E2000", "王芳", "")]
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
