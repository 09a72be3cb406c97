"""kiosk.devices.sdnotify against real AF_UNIX datagram sockets standing in for systemd's notify socket."""
from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.devices.sdnotify import Notifier, watchdog_interval_s

RECV_TIMEOUT_S = 5.0


def _listener(address: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    sock.settimeout(RECV_TIMEOUT_S)
    return sock


@pytest.fixture
def path_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    path = tmp_path / "notify.sock"
    if len(os.fsencode(path)) >= 108:   # sun_path limit; pytest's tmp_path can be long
        pytest.skip(f"socket path too long for AF_UNIX: {path}")
    with _listener(str(path)) as sock:
        yield sock, str(path)


@pytest.fixture
def abstract_socket() -> Iterator[tuple[socket.socket, str]]:
    name = f"evaluator-test-{uuid.uuid4().hex}"
    with _listener("\0" + name) as sock:
        yield sock, "@" + name


def _receive(sock: socket.socket) -> str:
    return sock.recv(4096).decode("utf-8")


@pytest.mark.parametrize("listener", ["path_socket", "abstract_socket"])
def test_each_message_arrives_as_one_datagram(listener: str, request: pytest.FixtureRequest) -> None:
    sock, notify_socket = request.getfixturevalue(listener)
    notifier = Notifier({"NOTIFY_SOCKET": notify_socket})
    assert notifier.enabled
    try:
        notifier.ready()
        assert _receive(sock) == "READY=1"
        notifier.watchdog()
        assert _receive(sock) == "WATCHDOG=1"
        notifier.status("3 ratings waiting · 待上传 3 条")
        assert _receive(sock) == "STATUS=3 ratings waiting · 待上传 3 条"
        notifier.stopping()
        assert _receive(sock) == "STOPPING=1"
    finally:
        notifier.close()


def test_a_status_cannot_smuggle_other_assignments(path_socket: tuple[socket.socket, str]) -> None:
    sock, notify_socket = path_socket
    notifier = Notifier({"NOTIFY_SOCKET": notify_socket})
    notifier.status("panel lost\nREADY=1")
    assert _receive(sock) == "STATUS=panel lost READY=1"
    notifier.close()


def test_a_process_reads_notify_socket_from_its_environment(path_socket: tuple[socket.socket, str]) -> None:
    sock, notify_socket = path_socket
    env = {**os.environ, "NOTIFY_SOCKET": notify_socket}
    subprocess.run([sys.executable, "-c", "from kiosk.devices.sdnotify import Notifier; Notifier().ready()"],
                   env=env, check=True, timeout=30)
    assert _receive(sock) == "READY=1"


def test_without_notify_socket_nothing_is_sent_and_nothing_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    notifier = Notifier()
    assert not notifier.enabled
    notifier.ready()
    notifier.watchdog()
    notifier.status("idle")
    notifier.stopping()
    notifier.close()


def test_a_missing_socket_is_logged_once_and_never_raised(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": str(tmp_path / "nobody-listens.sock")})
    with caplog.at_level(logging.WARNING, logger="kiosk.devices.sdnotify"):
        for _ in range(3):
            notifier.watchdog()
        notifier.ready()
    warnings = [r for r in caplog.records if r.name == "kiosk.devices.sdnotify"]
    assert len(warnings) == 1
    assert "nobody-listens.sock" in warnings[0].getMessage()
    notifier.close()


def test_watchdog_interval_is_half_the_period() -> None:
    assert watchdog_interval_s({"WATCHDOG_USEC": "20000000"}) == 10.0
    assert watchdog_interval_s({"WATCHDOG_USEC": "3000000", "WATCHDOG_PID": str(os.getpid())}) == 1.5


@pytest.mark.parametrize("environ", [
    {},
    {"WATCHDOG_USEC": ""},
    {"WATCHDOG_USEC": "0"},
    {"WATCHDOG_USEC": "soon"},
    {"WATCHDOG_USEC": "20000000", "WATCHDOG_PID": "not-a-pid"},
], ids=["unset", "empty", "zero", "malformed", "malformed-pid"])
def test_no_watchdog_means_no_interval(environ: dict[str, str]) -> None:
    assert watchdog_interval_s(environ) is None


def test_a_watchdog_meant_for_another_process_is_not_ours() -> None:
    # An inherited WATCHDOG_PID (e.g. in a child of the kiosk) names a different process.
    assert watchdog_interval_s({"WATCHDOG_USEC": "20000000", "WATCHDOG_PID": str(os.getpid() + 1)}) is None


def test_interval_reads_the_real_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "8000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert watchdog_interval_s() == 4.0
    monkeypatch.delenv("WATCHDOG_USEC")
    assert watchdog_interval_s() is None
