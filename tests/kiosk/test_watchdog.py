"""systemd's watchdog, end to end: the real `evaluator run` (touchscreen and headless) pings a NOTIFY_SOCKET."""
from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from drivers.simulator import PanelSimulator

X11_DROPIN = Path(__file__).resolve().parents[2] / "deploy/systemd/x11.conf"


def receive(sock: socket.socket, wanted: str, timeout_s: float = 30.0) -> list[str]:
    """Datagrams until one contains `wanted`; fails after `timeout_s`."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout_s
    while not any(wanted in message for message in seen):
        left = deadline - time.monotonic()
        assert left > 0, f"no {wanted!r} within {timeout_s} s; got {seen}"
        sock.settimeout(left)
        seen.append(sock.recv(4096).decode())
    return seen


@pytest.fixture
def notify_socket(tmp_path: Path):
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    yield sock, path
    sock.close()


def quiet_for(sock: socket.socket, seconds: float) -> list[str]:
    """Every datagram that arrives within `seconds`."""
    seen: list[str] = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            seen.append(sock.recv(4096).decode())
        except TimeoutError:
            break
    return seen


def start(args: list[str], tmp_path: Path, notify: Path, watchdog_pid: int | None = None,
          prefix: list[str] | None = None) -> subprocess.Popen:
    config = tmp_path / "config.yaml"
    config.write_text("store: {path: var/e.db}\nui: {kiosk: false, fullscreen: false}\n", encoding="utf-8")
    env = {**os.environ, "NOTIFY_SOCKET": str(notify), "WATCHDOG_USEC": "400000", "KIVY_NO_ARGS": "1",
           "KIVY_HOME": str(tmp_path / "kivy")}
    env.pop("WATCHDOG_PID", None)
    if watchdog_pid is not None:
        env["WATCHDOG_PID"] = str(watchdog_pid)
    return subprocess.Popen([*(prefix or []), sys.executable, "-m", "evaluator.cli", "run", *args, "--config",
                             str(config)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def stop(process: subprocess.Popen) -> None:
    process.kill()
    process.wait(timeout=30)


@pytest.mark.parametrize("headless", [True, False], ids=["headless", "touchscreen"])
def test_run_says_ready_then_pings_and_says_stopping(notify_socket, tmp_path, headless):
    sock, path = notify_socket
    with PanelSimulator() as sim:
        process = start([*(["--headless"] if headless else []), "--panel", sim.device_path], tmp_path, path)
        try:
            receive(sock, "READY=1")
            pings = 0
            started = time.monotonic()
            while pings < 3:
                pings += receive(sock, "WATCHDOG=1", timeout_s=5)[-1].count("WATCHDOG=1")
            assert time.monotonic() - started < 5                  # every 0.2 s: half of WATCHDOG_USEC
            if headless:                                           # systemd stops it with SIGTERM
                process.send_signal(signal.SIGTERM)
                receive(sock, "STOPPING=1", timeout_s=10)
        finally:
            stop(process)


def test_a_store_that_cannot_be_opened_shows_out_of_service_then_restarts(notify_socket, tmp_path):
    sock, path = notify_socket
    blocked = tmp_path / "var" / "e.db"
    blocked.mkdir(parents=True)                          # a directory where the database file should be
    config = tmp_path / "config.yaml"
    config.write_text("store: {path: var/e.db}\ntimings: {storage_retry_s: 0.3}\n", encoding="utf-8")
    env = {**os.environ, "NOTIFY_SOCKET": str(path), "KIVY_NO_ARGS": "1", "KIVY_HOME": str(tmp_path / "kivy")}
    process = subprocess.Popen([sys.executable, "-m", "evaluator.cli", "run", "--config", str(config)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        receive(sock, "READY=1")                          # up, showing out of service: not a crash loop
        assert process.poll() is None
        blocked.rmdir()                                   # storage works again
        assert process.wait(timeout=30) == 75             # restart, so the terminal starts afresh on it
        assert "out of service" in process.stderr.read()
    finally:
        stop(process)


def test_x11_dropin_keeps_an_inherited_watchdog_pid_from_silencing_the_app(notify_socket, tmp_path):
    """Under --x11 the unit's main process is xinit, so systemd's WATCHDOG_PID is xinit's pid and the app
    inherits it. The app then rightly leaves the pings to that pid (sd_watchdog_enabled(3)): it sends none, and
    systemd would kill the kiosk every WatchdogSec. x11.conf starts xinit through a prefix that drops the
    variable; run with that very prefix, the same app pings. This test's own pid plays xinit's."""
    sock, path = notify_socket
    exec_start = [line.split("=", 1)[1] for line in X11_DROPIN.read_text().splitlines()
                  if line.startswith("ExecStart=")][-1]
    words = shlex.split(exec_start)
    prefix = words[:words.index("/usr/bin/xinit")]
    with PanelSimulator() as sim:
        process = start(["--panel", sim.device_path], tmp_path, path, watchdog_pid=os.getpid())
        try:
            receive(sock, "READY=1")
            heard = quiet_for(sock, 2.0)                       # ten ping intervals
            assert not any("WATCHDOG=1" in message for message in heard), heard
        finally:
            stop(process)
        process = start(["--panel", sim.device_path], tmp_path, path, watchdog_pid=os.getpid(), prefix=prefix)
        try:
            receive(sock, "READY=1")
            receive(sock, "WATCHDOG=1", timeout_s=5)
        finally:
            stop(process)
