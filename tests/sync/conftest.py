"""A real collector process on 127.0.0.1 and terminals provisioned against it."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from evaluator.terminal import open_store
from kiosk.config import Settings, load
from sync.provision import provision


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Collector:
    url: str
    db: str

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "centre.cli", *args, "--db", self.db],
                              capture_output=True, text=True, timeout=60)

    def register(self, unit: str = "unit-7", counter: str = "c-3") -> None:
        """Register the unit and counter (an enrollment code names registered ones): `unit import`, idempotent."""
        sheet = Path(self.db.removeprefix("sqlite:///")).with_name(f"registry-{unit}-{counter}.csv")
        sheet.write_text(f"district,sector,unit_id,unit_name,counter_id,counter_name\n测试区,education,{unit},{unit},"
                         f"{counter},{counter}\n", encoding="utf-8")
        done = self.cli("unit", "import", str(sheet))
        assert done.returncode == 0, done.stderr

    def enroll_code(self, unit: str = "unit-7", counter: str = "c-3") -> str:
        self.register(unit, counter)
        done = self.cli("enroll-code", "--unit", unit, "--counter", counter, "--unit-name", "测试中心",
                        "--counter-name", "3号窗口")
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    def json(self, *args: str) -> dict:
        done = self.cli(*args, "--json")
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)


@pytest.fixture
def collector(tmp_path: Path):
    port = free_port()
    db = f"sqlite:///{tmp_path / 'collector.db'}"
    log = open(tmp_path / "collector.log", "w")
    process = subprocess.Popen([sys.executable, "-m", "centre.cli", "serve", "--db", db,
                                "--host", "127.0.0.1", "--port", str(port)], stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    deadline, pause = time.monotonic() + 30, threading.Event()
    while True:
        try:
            if requests.get(url + "/healthz", timeout=1).status_code == 200:
                break
        except requests.ConnectionError:
            pass
        assert process.poll() is None, (tmp_path / "collector.log").read_text()
        assert time.monotonic() < deadline, "collector did not start"
        pause.wait(0.05)
    yield Collector(url, db)
    process.terminate()
    process.wait(timeout=10)
    log.close()


@pytest.fixture
def terminal_config(tmp_path: Path):
    """A config file for one terminal in its own folder; returns a function making more."""

    def make(name: str = "terminal", extra: str = "") -> Path:
        folder = tmp_path / name
        folder.mkdir()
        path = folder / "config.yaml"
        path.write_text("sync: {batch_size: 500, connect_timeout_s: 0.5, read_timeout_s: 0.5, "
                        "backoff_base_s: 0.01, backoff_cap_s: 0.05, interval_s: 0.05, bad_review_poll_s: 0.05, "
                        "start_spread_s: 0}\n"
                        + extra, encoding="utf-8")
        return path

    return make


def provisioned(collector: Collector, config: Path) -> Settings:
    provision(load(config), collector.url, collector.enroll_code(), config)
    return load(config)


def fill(settings: Settings, count: int) -> None:
    """`count` ratings in the terminal's store, as presses make them."""
    from kiosk.store.tables import Channel

    store = open_store(settings)
    try:
        for i in range(count):
            store.append_rating(5 - i % 5, Channel.PANEL, "open")
    finally:
        store.close()
