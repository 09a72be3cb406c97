"""systemd's watchdog pings come from the UI's main loop: while it is stuck, none go out, so systemd
restarts a frozen screen. The real terminal (offscreen window, real store, started as `evaluator run` starts
it) and a real NOTIFY_SOCKET; the service's and panel's own threads keep running meanwhile."""
from __future__ import annotations

import socket
import time

from tests.kiosk.ui.conftest import FAST, pump, store_for


def pings(sock: socket.socket) -> int:
    """WATCHDOG=1 datagrams waiting on the socket, read without blocking."""
    count = 0
    sock.setblocking(False)
    try:
        while True:
            count += sock.recv(4096).decode().count("WATCHDOG=1")
    except BlockingIOError:
        return count
    finally:
        sock.setblocking(True)


def pump_for(seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        pump(1)


def test_a_stuck_main_loop_stops_the_watchdog_pings(window, make_settings, tmp_path, monkeypatch):
    from kiosk.rating.service import RatingService
    from kiosk.ui.app import EvaluatorApp, KivyScheduler

    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    monkeypatch.setenv("WATCHDOG_USEC", "200000")          # a ping every 0.1 s
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    settings = make_settings(**FAST)
    store = store_for(settings)
    app = EvaluatorApp(settings, RatingService(settings, store, KivyScheduler()))
    root = app.build()
    window.add_widget(root)
    app.on_start()
    try:
        pump_for(0.6)
        assert pings(sock) >= 3                              # running: pinged from the clock
        time.sleep(0.6)                                      # the main loop stuck (a frozen UI)
        assert pings(sock) == 0
        pump_for(0.6)
        assert pings(sock) >= 3                              # and back
    finally:
        app.on_stop()
        window.remove_widget(root)
        store.close()
        sock.close()
