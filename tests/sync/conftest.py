"""A real collector process on 127.0.0.1 and terminals provisioned against it."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from centre import enroll
from centre.db.engine import open_engine
from centre.registry import importer
from evaluator.terminal import open_store
from kiosk.config import Settings, load
from kiosk.store.database import driver
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

    # Registering and issuing a code are set-up here, made by the functions `unit import` and `enroll-code` call,
    # in this process on the server's database: two starts of the CLI would cost a second of every test.
    # Those commands are tested in tests/centre.

    def register(self, unit: str = "unit-7", counter: str = "c-3") -> None:
        """Register the unit and counter (an enrollment code names registered ones): `unit import`, idempotent."""
        sheet = Path(self.db.removeprefix("sqlite:///")).with_name(f"registry-{unit}-{counter}.csv")
        sheet.write_text(f"district,sector,unit_id,unit_name,counter_id,counter_name\n测试区,education,{unit},{unit},"
                         f"{counter},{counter}\n", encoding="utf-8")
        engine = open_engine(self.db, create=False)
        try:
            importer.import_file(engine, sheet)
        finally:
            engine.dispose()

    def enroll_code(self, unit: str = "unit-7", counter: str = "c-3") -> str:
        """A one-time code for the counter, registered first, with the names `enroll-code --unit-name` gives."""
        self.register(unit, counter)
        engine = open_engine(self.db, create=False)
        try:
            return enroll.create_code(engine, unit, counter, unit_name="测试中心", counter_name="3号窗口")
        finally:
            engine.dispose()

    def json(self, *args: str) -> dict:
        done = self.cli(*args, "--json")
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)


@contextmanager
def running_collector(folder: Path) -> Iterator[Collector]:
    """A collector process serving a new database in `folder`, until the block ends."""
    port = free_port()
    db = f"sqlite:///{folder / 'collector.db'}"
    with open(folder / "collector.log", "w") as log:
        process = subprocess.Popen([sys.executable, "-m", "centre.cli", "serve", "--db", db,
                                    "--host", "127.0.0.1", "--port", str(port)], stdout=log, stderr=log)
        try:
            url = f"http://127.0.0.1:{port}"
            deadline, pause = time.monotonic() + 30, threading.Event()
            while True:
                try:
                    if requests.get(url + "/healthz", timeout=1).status_code == 200:
                        break
                except requests.ConnectionError:
                    pass
                assert process.poll() is None, (folder / "collector.log").read_text()
                assert time.monotonic() < deadline, "collector did not start"
                pause.wait(0.05)
            yield Collector(url, db)
        finally:
            process.terminate()
            process.wait(timeout=10)


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[Collector]:
    with running_collector(tmp_path) as started:
        yield started


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


def provisioned(collector: Collector, config: Path, unit: str = "unit-7") -> Settings:
    provision(load(config), collector.url, collector.enroll_code(unit=unit), config)
    return load(config)


def fill(settings: Settings, count: int) -> None:
    """`count` ratings in the terminal's store, as presses make them (append_rating: the same rows and chain), but
    without an fsync at each commit: other connections see every row all the same, and the fsyncs of 10,000
    presses would cost seconds. Only the fill skips them; the uploader's own store commits as the terminal does."""
    from kiosk.store.tables import Channel

    store = open_store(settings)
    try:
        with store.transaction(write=False) as conn:
            raw = driver(conn)               # the store's one connection, kept open by the store
        raw.execute("PRAGMA synchronous = OFF")      # outside a transaction: SQLite refuses it inside one
        for i in range(count):
            store.append_rating(5 - i % 5, Channel.PANEL, "open")
    finally:
        store.close()
