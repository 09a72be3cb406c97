"""What every sync path leaves behind, against a real collector: the recorded outcome (status, technician screen,
heartbeat), the server enrolled on the screen, and the rows the centre rejected."""
from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from evaluator.terminal import open_store
from kiosk.config import load
from kiosk.store.status import gather, read_sync_status
from sync.actions import CentreActions
from tests.sync.conftest import fill, free_port, provisioned
from tests.sync.test_worker import last_heartbeat, run_worker_until

REASON = "device_id is not the signing device, whose own id the chain carries from seq 1"


def evaluator(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "evaluator.cli", *args, "--config", str(config)],
                          capture_output=True, text=True, timeout=120)


def point_at(settings, server: str) -> None:
    """The device key names another centre (here: a port nobody listens on)."""
    key = settings.sync.state_dir / "device.json"
    key.write_text(json.dumps({**json.loads(key.read_text()), "server": server}))


def test_every_path_records_its_attempt_and_a_failure_keeps_the_last_success(collector, terminal_config):
    config = terminal_config()
    settings = provisioned(collector, config)
    fill(settings, 2)
    run_worker_until(settings, config, lambda _w: read_sync_status(settings.sync.state_dir).get("last_success_at"))
    first = read_sync_status(settings.sync.state_dir)
    assert first["last_attempt_at"] == first["last_success_at"] and first["last_error"] is None

    point_at(settings, f"http://127.0.0.1:{free_port()}")
    done = evaluator(config, "sync", "--once")                           # `sync --once` that fails: recorded
    assert done.returncode == 1
    failed = read_sync_status(settings.sync.state_dir)
    assert failed["last_attempt_at"] > first["last_attempt_at"] and "ConnectionError" in failed["last_error"]
    assert failed["last_success_at"] == first["last_success_at"]
    # A worker started anew (after a reboot, say) that fails keeps the last success too.
    run_worker_until(settings, config, lambda w: w.last_error is not None)
    again = read_sync_status(settings.sync.state_dir)
    assert again["last_attempt_at"] > failed["last_attempt_at"] and again["last_success_at"] == first["last_success_at"]
    status = json.loads(evaluator(config, "status", "--json").stdout)["sync"]
    assert (status["last_attempt_at"], status["last_success_at"], status["last_error"]) == \
        (again["last_attempt_at"], again["last_success_at"], again["last_error"])

    point_at(settings, collector.url)
    fill(settings, 1)
    store = open_store(settings)
    try:
        result = CentreActions(settings, store, config).sync_now(lambda _n, _total: None)   # the technician's button
    finally:
        store.close()
    assert result.accepted == 1
    button = read_sync_status(settings.sync.state_dir)
    assert button["last_success_at"] == button["last_attempt_at"] > again["last_attempt_at"]
    assert button["last_error"] is None
    assert last_heartbeat(collector, settings.device.id)["last_seq"] == 3


def test_sync_once_sends_a_heartbeat_after_its_drain(collector, terminal_config):
    config = terminal_config()
    settings = provisioned(collector, config)
    fill(settings, 4)
    assert last_heartbeat(collector, settings.device.id) is None
    done = evaluator(config, "sync", "--once")
    assert done.returncode == 0, done.stderr
    beat = last_heartbeat(collector, settings.device.id)
    assert beat["last_seq"] == 4 and beat["queue_depth"] == 0 and beat["verify_ok"] is True
    recorded = read_sync_status(settings.sync.state_dir)
    assert recorded["last_success_at"] and recorded["last_error"] is None and recorded["clock_offset_s"] is not None


def test_a_terminal_enrolled_on_its_screen_shows_its_server_without_a_restart(collector, terminal_config):
    config = terminal_config()
    settings = load(config)                                               # as the running terminal loaded it
    assert settings.sync.server is None
    store = open_store(settings)
    try:
        before = gather(settings, store, quick_check=False).sync
        assert before["server"] is None and before["provisioned"] is False
        CentreActions(settings, store, config).provision(collector.url, collector.enroll_code())
        after = gather(settings, store, quick_check=False).sync
    finally:
        store.close()
    assert after["server"] == collector.url and after["provisioned"] is True


def test_rejected_rows_fail_sync_once_and_are_counted_by_reason_in_status(collector, terminal_config):
    config = terminal_config()
    settings = provisioned(collector, config)
    fill(settings, 1)
    # Two ratings naming a device that is not the signer (a store carried over from another terminal, say).
    fill(settings.model_copy(update={"device": settings.device.model_copy(update={"id": "dev-9999"})}), 2)
    done = evaluator(config, "sync", "--once")
    assert done.returncode == 1
    assert "1 accepted" in done.stdout and "2 rejected" in done.stdout
    assert f"2 rows rejected by the centre: {REASON} (2)" in done.stderr

    status = json.loads(evaluator(config, "status", "--json").stdout)
    assert status["sync"]["rejected"] == 2
    assert status["sync"]["rejected_reasons"] == {REASON: 2}
    assert any("2 rating(s) rejected by the centre" in warning and f"{REASON} (2)" in warning
               for warning in status["warnings"])
    store = open_store(settings)
    try:
        shown = gather(settings, store, quick_check=False).sync                # what the technician screen shows
    finally:
        store.close()
    assert shown["rejected"] == 2 and shown["rejected_reasons"] == {REASON: 2}
    with sqlite3.connect(settings.store.path) as raw:                     # kept, with their reason
        rows = raw.execute("SELECT seq, sync_state FROM ratings ORDER BY seq").fetchall()
    assert rows == [(1, "synced"), (2, "rejected"), (3, "rejected")]
