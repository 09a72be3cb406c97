"""The terminal's one start-up and shutdown: a real service, store and panel link over a pty, and a real AF_UNIX
datagram socket standing in for systemd's notify socket."""
from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

import pytest

from drivers.panel import Backoff
from drivers.simulator import PanelSimulator
from kiosk.devices.panel_link import PanelLink
from kiosk.devices.sdnotify import Notifier
from kiosk.devices.terminal_core import MainLoop, Supervision, TerminalCore
from kiosk.rating.service import RatingService, ThreadScheduler
from kiosk.store import Identity, RatingStore
from kiosk.store.tables import EventKind
from tests.kiosk.devices.test_panel_link import frames


@pytest.fixture
def notify(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "notify.sock"
    if len(os.fsencode(path)) >= 108:   # sun_path limit; pytest's tmp_path can be long
        pytest.skip(f"socket path too long for AF_UNIX: {path}")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(5.0)
    monkeypatch.setenv("WATCHDOG_USEC", "100000")            # a ping every 0.05 s
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    yield sock, Notifier({"NOTIFY_SOCKET": str(path)})
    sock.close()


def messages(sock: socket.socket) -> list[str]:
    """Every datagram waiting, read without blocking."""
    seen = []
    sock.setblocking(False)
    try:
        while True:
            seen.append(sock.recv(4096).decode())
    except BlockingIOError:
        return seen
    finally:
        sock.settimeout(5.0)


def test_ready_pings_and_stopping_around_the_service_and_panel(notify, make_settings):
    sock, notifier = notify
    with PanelSimulator() as sim:
        settings = make_settings(panel={"port": sim.device_path, "ping_interval_s": None})
        store = RatingStore(settings.store.path, Identity("d", "u", "c"))
        service = RatingService(settings, store, ThreadScheduler())
        link = PanelLink(settings, service, backoff=Backoff(initial=0.05, cap=0.5))
        core, loop = TerminalCore(service, link, Supervision(notifier)), MainLoop()
        try:
            core.start(loop)
            assert sock.recv(4096).decode() == "READY=1"
            assert store.events_of(EventKind.STARTED)                # the service was started before
            assert frames(sim, lambda f: f == ("A",)) == [("A",)]   # the panel is up, lit for the service's view
            threading.Timer(0.5, loop.stop).start()
            loop.run()                                               # pings until stopped, on this thread
            assert messages(sock).count("WATCHDOG=1") >= 4
            core.stop()
            assert messages(sock) == ["STOPPING=1"]
            assert not link.panel.connected
            assert store.events_of(EventKind.STOPPED)                # recorded in the store, still open
        finally:
            link.stop()
            store.close()


def test_the_main_loop_runs_its_repeats_on_its_own_thread_until_stopped():
    loop = MainLoop()
    calls: list[tuple[str, int]] = []
    loop.call_every(0.02, lambda: calls.append(("every", threading.get_ident())))
    once = loop.call_every(0.01, lambda: (calls.append(("once", threading.get_ident())), once.cancel()))
    threading.Timer(0.3, loop.stop).start()
    loop.run()
    assert [name for name, _ in calls].count("once") == 1           # cancelled by its first call
    assert [name for name, _ in calls].count("every") >= 5
    assert {thread for _, thread in calls} == {threading.get_ident()}
