"""`evaluator summary` and `evaluator verify` as a technician runs them, on a real store file."""
from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kiosk.store import Identity, RatingStore, StorageError
from kiosk.store.tables import Channel, EventKind


def evaluator(*args: str, config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "evaluator.cli", *args, "--config", str(config)],
                          capture_output=True, text=True, timeout=60)


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text("store: {path: var/e.db}\nunit: {timezone: Asia/Shanghai}\n", encoding="utf-8")
    return path


def open_store(config_file: Path, clock=None) -> RatingStore:
    kwargs = {"clock": clock} if clock else {}
    return RatingStore(config_file.parent / "var" / "e.db", Identity("dev-0001", "unit-0001", "counter-01"), **kwargs)


def test_summary_json_counts_one_local_day(config_file):
    # 2026-11-25 in Shanghai runs from 2026-11-24T16:00Z to 2026-11-25T16:00Z.
    moments = iter([datetime(2026, 11, 24, 15, 59, tzinfo=UTC)]            # the day before
                   + [datetime(2026, 11, 24, 16, 0, tzinfo=UTC) + timedelta(minutes=m)
                      for m in range(1, 20)])
    store = open_store(config_file, clock=lambda: next(moments))
    store.append_rating(5, Channel.TOUCH, "open")                                   # 24th local
    for level in (5, 5, 4, 3, 1, 2):
        rating = store.append_rating(level, Channel.PANEL, "open")
    store.add_reasons(rating.uuid, ["slow", "attitude"])
    store.record_event(EventKind.UNRATED, case_no="A-1")
    store.record_event(EventKind.SUPPRESSED, level=5, channel="panel", why="cooldown")
    store.close()

    done = evaluator("summary", "--date", "2026-11-25", "--json", config=config_file)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "date": "2026-11-25", "total": 6, "by_level": {"1": 1, "2": 1, "3": 1, "4": 1, "5": 2},
        "good_rate": 4 / 6, "bad_reasons": {"attitude": 1, "slow": 1}, "unrated": 1, "suppressed": 1}

    before = json.loads(evaluator("summary", "--date", "2026-11-24", "--json", config=config_file).stdout)
    assert before["total"] == 1 and before["good_rate"] == 1.0


def test_summary_of_an_empty_day_has_no_rate(config_file):
    open_store(config_file).close()
    done = evaluator("summary", "--date", "2020-01-01", "--json", config=config_file)
    assert json.loads(done.stdout)["good_rate"] is None
    text = evaluator("summary", "--date", "2020-01-01", config=config_file)
    assert text.returncode == 0 and "好评率 —" in text.stdout


def test_summary_text_shows_labels_bars_and_rate(config_file):
    store = open_store(config_file)
    for level in (5, 5, 5, 1):
        store.append_rating(level, Channel.TOUCH, "open")
    store.close()
    done = evaluator("summary", config=config_file)
    assert done.returncode == 0, done.stderr
    assert "非常满意" in done.stdout and "75.0 %" in done.stdout and "█" * 30 in done.stdout


def test_verify_passes_on_an_intact_store_and_fails_on_a_tampered_one(config_file):
    store = open_store(config_file)
    for level in (5, 4, 3, 2, 1):
        store.append_rating(level, Channel.TOUCH, "open")
    store.close()
    ok = evaluator("verify", config=config_file)
    assert ok.returncode == 0 and "OK: 5 ratings" in ok.stdout

    with sqlite3.connect(config_file.parent / "var" / "e.db") as raw:   # by hand, as an attacker would
        raw.execute("DROP TRIGGER ratings_no_update")
        raw.execute("UPDATE ratings SET level = 5 WHERE seq = 4")
    broken = evaluator("verify", config=config_file)
    assert broken.returncode == 1
    assert "BROKEN at seq 4" in broken.stderr


def test_read_commands_on_a_missing_store_exit_2_and_create_nothing(config_file):
    for command in (["verify"], ["summary"]):
        done = evaluator(*command, config=config_file)
        assert done.returncode == 2 and "no rating store" in done.stderr
    assert not (config_file.parent / "var").exists()


def test_verify_on_a_corrupt_file_exits_2(config_file):
    (config_file.parent / "var").mkdir()
    (config_file.parent / "var" / "e.db").write_bytes(b"garbage" * 1000)
    done = evaluator("verify", config=config_file)
    assert done.returncode == 2 and "not a database" in done.stderr


def test_read_commands_leave_a_strangers_sqlite_file_untouched(config_file):
    path = config_file.parent / "var" / "e.db"
    path.parent.mkdir()
    with sqlite3.connect(path) as raw:
        raw.execute("CREATE TABLE notes (body TEXT)")
    before = path.read_bytes()
    for command in ("verify", "summary"):
        done = evaluator(command, config=config_file)
        assert done.returncode == 2 and "not a rating store" in done.stderr, done.stderr
    assert path.read_bytes() == before


def test_a_store_from_a_newer_release_is_refused_clearly(config_file):
    open_store(config_file).close()
    with sqlite3.connect(config_file.parent / "var" / "e.db") as raw:
        raw.execute("UPDATE alembic_version SET version_num = '9999_future'")
    done = evaluator("verify", config=config_file)
    assert done.returncode == 2 and "schema version 9999_future" in done.stderr
    assert "Traceback" not in done.stderr
    with pytest.raises(StorageError, match="cannot upgrade the schema"):
        open_store(config_file)


@pytest.mark.parametrize("command", [["summary"], ["verify"], ["status"], ["summary", "--json"]])
def test_output_cut_short_by_its_reader_ends_quietly(config_file, command):
    """`evaluator status | head -1`: the reader is gone before the output is flushed; no traceback."""
    store = open_store(config_file)
    store.append_rating(5, Channel.TOUCH, "open")
    store.close()
    reader_gone = subprocess.Popen([sys.executable, "-m", "evaluator.cli", *command, "--config", str(config_file)],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    reader_gone.stdout.close()                       # as `head` does once it has its lines
    err = reader_gone.stderr.read()
    assert reader_gone.wait(timeout=60) == 1
    assert "Traceback" not in err and "BrokenPipe" not in err and "Exception ignored" not in err, err


def test_bad_arguments_exit_2(config_file):
    assert evaluator("summary", "--date", "25/11/2026", config=config_file).returncode == 2
    assert evaluator("snapshot", "nope", "--out", "x.png", config=config_file).returncode == 2
    settle = evaluator("upgrade", "x-1.0-py3-none-any.whl", "--settle", "60", "--timeout", "30", config=config_file)
    assert settle.returncode == 2 and "--settle 60 must be shorter than --timeout 30" in settle.stderr


def test_panel_sim_takes_the_terminals_config(tmp_path):
    """With --config it speaks as the configured panel port does (here: checksums on every frame)."""
    import serial

    config = tmp_path / "config.yaml"
    config.write_text("panel: {checksum: true}\n", encoding="utf-8")
    link = tmp_path / "panel"
    sim = subprocess.Popen([sys.executable, "-m", "evaluator.cli", "panel-sim", "--config", str(config),
                            "--script", "K3", "--wait-terminal", "--delay", "0", "--linger", "0.5",
                            "--link", str(link)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert sim.stdout.readline().startswith("/dev/")
        port = serial.serial_for_url(str(link), timeout=10)
        try:
            port.write(b"P\n")                                  # the terminal's ping: "I am here"
            lines = [port.readline() for _ in range(2)]
        finally:
            port.close()
        assert b"K3*78\n" in lines                              # 'K' ^ '3' = 0x78
        assert sim.wait(timeout=30) == 0
    finally:
        sim.kill()
    bad = tmp_path / "bad.yaml"
    bad.write_text("panel: {checksum: maybe}\n", encoding="utf-8")
    refused = subprocess.run([sys.executable, "-m", "evaluator.cli", "panel-sim", "--config", str(bad),
                              "--script", "K3"], capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "panel.checksum" in refused.stderr
