"""`evaluator export` and `evaluator status`, as a technician runs them on a real store file."""
from __future__ import annotations

import csv
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kiosk.store import Identity, RatingStore
from kiosk.store.tables import Channel, EventKind


def evaluator(*args: str, config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "evaluator.cli", *args, "--config", str(config)],
                          capture_output=True, text=True, timeout=60)


def make_config(tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text("store: {path: var/e.db}\nunit: {timezone: Asia/Shanghai}\n", encoding="utf-8")
    return path


def open_store(config: Path, clock=None) -> RatingStore:
    return RatingStore(config.parent / "var" / "e.db", Identity("dev-0001", "unit-0001", "counter-01"),
                       **({"clock": clock} if clock else {}))


def test_export_writes_the_chosen_local_days_with_reasons(tmp_path, usb_stick):
    config = make_config(tmp_path)
    # Local (Shanghai) days 24, 25, 26 November: 23:30 local on the 24th is 15:30 UTC.
    moments = iter([datetime(2026, 11, 24, 15, 30, tzinfo=UTC),
                    datetime(2026, 11, 24, 16, 30, tzinfo=UTC),     # 00:30 on the 25th
                    datetime(2026, 11, 24, 16, 31, tzinfo=UTC),     # its reasons
                    datetime(2026, 11, 25, 9, 0, tzinfo=UTC),
                    datetime(2026, 11, 26, 15, 59, tzinfo=UTC),     # 23:59 on the 26th
                    datetime(2026, 11, 26, 16, 30, tzinfo=UTC)])    # the 27th
    store = open_store(config, clock=lambda: next(moments))
    store.append_rating(5, Channel.TOUCH, "open")
    first = store.append_rating(1, Channel.PANEL, "solicited", staff_id="E7", case_no="A-1",
                                item_code="11010100000000001")
    store.add_reasons(first.uuid, ["slow", "attitude"])
    store.append_rating(4, Channel.KEYBOARD, "open")
    store.append_rating(3, Channel.TOUCH, "open")
    store.append_rating(2, Channel.TOUCH, "open")
    store.close()

    (usb_stick / "exports").mkdir()
    out = usb_stick / "exports" / "ratings.csv"                                 # a folder on the stick
    done = evaluator("export", "--since", "2026-11-25", "--until", "2026-11-26", "--out", str(out), config=config)
    assert done.returncode == 0, done.stderr
    assert "3 rating(s)" in done.stdout and "3/3 ratings" in done.stderr        # the progress bar's last state
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")                         # BOM: Excel reads it as UTF-8
    rows = list(csv.DictReader(out.read_text(encoding="utf-8-sig").splitlines()))
    assert [row["seq"] for row in rows] == ["2", "3", "4"]
    bad = rows[0]
    assert (bad["local_time"], bad["level"], bad["level_label"], bad["bad"]) == ("2026-11-25 00:30:00", "1",
                                                                                 "非常不满意", "1")
    assert (bad["reasons"], bad["staff_id"], bad["case_no"], bad["channel"]) == ("slow attitude", "E7", "A-1",
                                                                                 "panel")
    assert bad["item_code"] == "11010100000000001" and rows[1]["item_code"] == ""
    assert rows[1]["reasons"] == "" and rows[1]["bad"] == "0"
    assert list(out.parent.iterdir()) == [out]                                   # no partial file left behind


def test_export_refuses_a_backwards_range_and_a_missing_store(tmp_path):
    config = make_config(tmp_path)
    out = tmp_path / "x.csv"
    done = evaluator("export", "--since", "2026-11-25", "--out", str(out), config=config)
    assert done.returncode == 2 and "no rating store" in done.stderr
    open_store(config).close()
    done = evaluator("export", "--since", "2026-11-25", "--until", "2026-11-24", "--out", str(out), config=config)
    assert done.returncode == 2 and "before --since" in done.stderr and not out.exists()


def test_export_into_a_folder_that_does_not_exist_exits_2_and_makes_nothing(tmp_path, usb_stick):
    # A mistyped folder (or a stick not mounted) must not be made: the file would be lost in it.
    config = make_config(tmp_path)
    open_store(config).close()
    out = usb_stick / "exprots" / "ratings.csv"
    done = evaluator("export", "--since", "2000-01-01", "--out", str(out), config=config)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"folder {out.parent} does not exist" in done.stderr
    assert not out.parent.exists() and list(usb_stick.iterdir()) == []


def test_the_cli_exports_where_it_is_told_and_says_when_that_is_the_terminals_own_disk(tmp_path, usb_stick):
    # A technician over SSH writes a file to copy off; only the screen's export insists on a stick.
    config = make_config(tmp_path)
    store = open_store(config)
    store.append_rating(5, Channel.TOUCH, "open")
    store.close()
    local = tmp_path / "home" / "ratings.csv"
    local.parent.mkdir()
    done = evaluator("export", "--since", "2000-01-01", "--out", str(local), config=config)
    assert done.returncode == 0 and local.is_file(), done.stderr
    assert f"note: {local.parent} is on the terminal's own disk, not on a USB stick" in done.stderr
    stick = evaluator("export", "--since", "2000-01-01", "--out", str(usb_stick / "r.csv"), config=config)
    assert stick.returncode == 0 and "note:" not in stick.stderr


def test_the_screens_export_refuses_a_folder_on_the_terminals_own_disk_and_records_it(make_settings, tmp_path,
                                                                                       usb_stick):
    # /media/usb0 with no stick in it: a plain folder on the SD card, beside the store; whether it is there
    # already or would be made, the CSV must not land on the SD card while the screen says "exported".
    from evaluator.terminal import technician_mode
    from kiosk.config import Locale
    from kiosk.store import Identity, RatingStore

    settings = make_settings(access={"export_dir": str(tmp_path / "media" / "usb0")})
    store = RatingStore(settings.store.path, Identity(settings.device.id, settings.unit.id, settings.counter.id))
    try:
        store.append_rating(4, Channel.TOUCH, "open")
        said: list[str] = []
        inline = {"restart": lambda: None, "background": lambda work: work()}
        technician = technician_mode(settings, store, None, **inline)
        technician.export(Locale.ZH, said.append)
        # In the technician screen's own words (issue 14, item 13).
        assert said[-1] == f"导出失败：{settings.access.export_dir} 没有U盘，请插入U盘后再导出"
        assert not settings.access.export_dir.exists()
        settings.access.export_dir.mkdir(parents=True)
        technician.export(Locale.EN, said.append)
        assert "no USB stick at" in said[-1]
        assert list(settings.access.export_dir.iterdir()) == []
        failed = store.events_of(EventKind.TECHNICIAN_ACTION)[-1]["detail"]
        assert failed["action"] == "export" and failed["ok"] is False and "no USB stick" in failed["problem"]

        on_stick = make_settings(access={"export_dir": str(usb_stick)})
        technician_mode(on_stick, store, None, **inline).export(Locale.EN, said.append)
        assert said[-1].startswith("1 ratings written to " + str(usb_stick)), said
        assert len(list(usb_stick.glob("ratings-*.csv"))) == 1
    finally:
        store.close()


def test_status_shows_store_panel_and_queue(tmp_path):
    config = make_config(tmp_path)
    store = open_store(config)
    store.append_rating(5, Channel.TOUCH, "open")
    store.append_rating(2, Channel.TOUCH, "open")
    store.record_event(EventKind.PANEL_CONNECTED, role="panel", port="/dev/evaluator-panel")
    store.record_event(EventKind.PANEL_DISCONNECTED, role="panel", port="/dev/evaluator-panel")
    store.close()
    done = evaluator("status", "--json", config=config)
    assert done.returncode == 0, done.stderr
    status = json.loads(done.stdout)
    assert status["healthy"] is True and status["problems"] == [] and status["warnings"] == []
    assert status["store"]["ratings"] == 2 and status["store"]["last_seq"] == 2
    assert status["store"]["integrity"] == "ok" and status["store"]["free_bytes"] > 0
    assert status["sync"]["queue_depth"] == 2 and status["sync"]["provisioned"] is False
    assert status["panel"]["connected"] is False and status["panel"]["port"] == "/dev/evaluator-panel"
    assert status["device"]["id"] == "dev-0001" and status["clock"]["suspect"] is False
    text = evaluator("status", config=config)
    assert text.returncode == 0 and "healthy" in text.stdout and "queue_depth" in text.stdout


def test_a_clock_before_the_build_is_a_warning_not_a_failure(tmp_path):
    # A terminal with neither a real-time clock nor a network keeps a lagging clock, and an upgrade built
    # since must not be rolled back for it: its ratings are flagged, and the centre corrects their time.
    from kiosk import BUILD_DATE
    from kiosk.config import load
    from kiosk.store.status import gather

    config = make_config(tmp_path)
    store = open_store(config)
    try:
        status = gather(load(str(config)), store, now=BUILD_DATE - timedelta(days=3))
    finally:
        store.close()
    assert status.clock["suspect"] is True and status.healthy and status.problems == []
    assert status.warnings and "before this release was built" in status.warnings[0]
    assert status.to_json()["warnings"] == status.warnings


def test_status_of_a_terminal_whose_store_is_unusable_exits_1(tmp_path):
    config = make_config(tmp_path)
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "e.db").write_bytes(b"garbage" * 1000)
    done = evaluator("status", "--json", config=config)
    assert done.returncode == 1
    status = json.loads(done.stdout)
    assert status["healthy"] is False and "rating store unusable" in status["problems"][0]


def test_status_of_a_terminal_that_never_rated_says_so_and_makes_no_store(tmp_path):
    config = make_config(tmp_path)
    done = evaluator("status", "--json", config=config)
    assert done.returncode == 1, done.stderr
    status = json.loads(done.stdout)
    store = tmp_path / "var" / "e.db"
    assert status["problems"] == [f"no store at {store} (nothing rated yet)"]     # no false "50 MB" either
    assert "not a rating store" not in done.stdout and not (tmp_path / "var").exists()
    assert status["device"]["config"] == str(config) and status["store"]["free_bytes"] > 0
    text = evaluator("status", config=config)
    assert text.returncode == 1 and f"no store at {store} (nothing rated yet)" in text.stdout


def test_status_with_no_config_file_says_it_uses_the_embedded_defaults(tmp_path):
    if Path("/etc/evaluator/config.yaml").is_file():
        pytest.skip("this machine has a terminal's config in /etc/evaluator")
    done = subprocess.run([sys.executable, "-m", "evaluator.cli", "status"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert "Traceback" not in done.stderr
    assert "note: no config file (config.yaml nor /etc/evaluator/config.yaml): using the embedded defaults" \
        in done.stderr
    assert "using the embedded defaults" in done.stdout                       # the config line of the view
    assert done.returncode == 1 and f"no store at {tmp_path / 'var' / 'evaluator.db'}" in done.stdout
    assert list(tmp_path.iterdir()) == []


def test_status_is_unhealthy_when_the_configured_panel_port_is_missing(tmp_path):
    config = make_config(tmp_path)
    open_store(config).close()
    base = config.read_text(encoding="utf-8")
    missing = tmp_path / "dev" / "evaluator-panel"
    config.write_text(base + f"panel: {{port: {missing}}}\n", encoding="utf-8")
    done = evaluator("status", "--json", config=config)
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert report["problems"] == [] and report["healthy"] is False     # unhealthy, but not the software's fault
    assert any(str(missing) in problem and "does not exist" in problem for problem in report["unplugged"])
    missing.parent.mkdir()
    missing.touch()                                          # the device is there again (a file will do)
    assert evaluator("status", config=config).returncode == 0
    for url in ("loop://", "socket://127.0.0.1:9"):         # pyserial URLs are no files to look for
        config.write_text(base + f"panel: {{port: '{url}'}}\n", encoding="utf-8")
        done = evaluator("status", "--json", config=config)
        report = json.loads(done.stdout)
        assert done.returncode == 0 and report["problems"] == report["unplugged"] == [], done.stdout
