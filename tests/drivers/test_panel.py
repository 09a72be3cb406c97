"""SerialPanel over real ports: pty simulators, pyserial loop://, symlinked ptys.

Nothing is mocked; every wait is a queue or event with a timeout.
"""
from __future__ import annotations

import logging
import os
import queue
import random
import socket
import threading
import time
from datetime import UTC
from pathlib import Path

import pytest
import serial

from drivers.panel import Backoff, PanelMode, SerialPanel
from drivers.protocol import (
    CaseEnded,
    Hello,
    KeyPress,
    Pong,
    Solicit,
    StaffIn,
    StaffOut,
)
from drivers.simulator import PanelSimulator

WAIT = 3.0  # generous upper bound for anything that should take milliseconds


class Harness:
    """A panel whose callbacks feed queues, so tests can wait on them."""

    def __init__(self, url: str, **kwargs) -> None:
        self.events: queue.Queue = queue.Queue()
        self.states: queue.Queue = queue.Queue()
        self.panel = SerialPanel(url, self.events.put, on_state=self.states.put, **kwargs)

    def start(self) -> Harness:
        self.panel.start()
        return self

    def wait_state(self, expected: bool, timeout: float = WAIT) -> None:
        assert self.states.get(timeout=timeout) is expected

    def next_event(self, timeout: float = WAIT):
        return self.events.get(timeout=timeout)

    def events_until(self, last, timeout: float = WAIT) -> list:
        seen = []
        while not seen or seen[-1] != last:
            seen.append(self.events.get(timeout=timeout))
        return seen


@pytest.fixture
def sim():
    simulator = PanelSimulator()
    yield simulator
    simulator.close()


@pytest.fixture
def connected(sim):
    harness = Harness(sim.device_path).start()
    harness.wait_state(True)
    yield harness
    harness.panel.stop()


def test_receives_every_panel_event_over_a_pty(sim, connected):
    sim.hello("EVP-100", "2.4.1")
    sim.press(3)
    sim.solicit()
    sim.case("2026A-0042", "E1023")
    sim.case("2026A-0043")
    sim.sign_in("E1023")
    sim.sign_out()
    expected = [
        Hello("EVP-100", "2.4.1"), KeyPress(3), Solicit(), CaseEnded("2026A-0042", "E1023"),
        CaseEnded("2026A-0043"), StaffIn("E1023"), StaffOut(),
    ]
    assert [connected.next_event() for _ in expected] == expected
    status = connected.panel.status()
    assert status.connected and status.port == sim.device_path
    assert (status.model, status.firmware) == ("EVP-100", "2.4.1")
    assert status.counters.frames_ok == 7
    assert status.last_frame_at is not None and status.last_frame_at.tzinfo is UTC


def test_simulator_receives_lights_all_lit_beep_and_ping(sim, connected):
    panel = connected.panel
    assert panel.send_all_lit() and panel.send_light(3) and panel.send_light(0)
    assert panel.send_beep() and panel.send_ping()
    got = [sim.received.get(timeout=WAIT) for _ in range(5)]
    assert got == [("A",), ("L", 3), ("L", 0), ("B",), ("P",)]
    assert connected.next_event() == Pong()  # the simulator answers pings
    assert panel.send_light(12) is False  # a bad key is refused, never raised


def test_checksums_in_both_directions():
    with PanelSimulator(checksum=True) as sim:
        harness = Harness(sim.device_path, checksum=True).start()
        try:
            harness.wait_state(True)
            sim.press(5)
            assert harness.next_event() == KeyPress(5)
            harness.panel.send_light(5)
            assert sim.received.get(timeout=WAIT) == ("L", 5)
        finally:
            harness.panel.stop()


def test_bad_frames_are_counted_and_the_reader_goes_on(sim, connected):
    sim.send_raw(b"K3*00\nK0\r\nZZ\n" + b"x" * 200 + b"\n\xff\xfe\n\n")
    sim.press(1)
    assert connected.next_event() == KeyPress(1)
    c = connected.panel.status().counters
    assert (c.frames_ok, c.bad_checksum, c.invalid, c.unknown) == (1, 1, 3, 1)


def test_callback_that_raises_does_not_stop_the_reader(sim, caplog):
    events: queue.Queue = queue.Queue()
    states: queue.Queue = queue.Queue()

    def on_event(event):
        events.put(event)
        if event == KeyPress(1):
            raise RuntimeError("bug in the app")

    panel = SerialPanel(sim.device_path, on_event, on_state=states.put)
    panel.start()
    try:
        assert states.get(timeout=WAIT) is True
        sim.press(1)
        sim.press(2)
        assert events.get(timeout=WAIT) == KeyPress(1)
        assert events.get(timeout=WAIT) == KeyPress(2)
        status = panel.status()
        assert status.connected and status.counters.callback_errors == 1
        assert status.counters.reconnects == 0  # a callback error is not a port error
        assert "bug in the app" in caplog.text
    finally:
        panel.stop()


def test_on_state_that_raises_is_contained(sim):
    events: queue.Queue = queue.Queue()
    states: queue.Queue = queue.Queue()

    def on_state(connected):
        states.put(connected)
        raise ValueError("ui gone")

    panel = SerialPanel(sim.device_path, events.put, on_state=on_state)
    panel.start()
    try:
        assert states.get(timeout=WAIT) is True
        sim.press(6)
        assert events.get(timeout=WAIT) == KeyPress(6)
        assert panel.status().counters.callback_errors == 1
    finally:
        panel.stop()
    assert states.get(timeout=WAIT) is False


def test_loop_url_via_the_injected_opener():
    ports = []

    def opener(url, **kwargs):
        ports.append(serial.serial_for_url(url, **kwargs))
        return ports[-1]

    harness = Harness("loop://", opener=opener).start()
    try:
        harness.wait_state(True)
        port = ports[0]
        assert (port.baudrate, port.bytesize, port.parity, port.stopbits) == (9600, 8, "N", 1)
        assert not port.xonxoff and not port.rtscts
        port.write(b"K3\r\nS*53\n")
        assert [harness.next_event(), harness.next_event()] == [KeyPress(3), Solicit()]
        # loop:// echoes our own light back; L3 is not a panel frame: unknown.
        assert harness.panel.send_light(3)
        port.write(b"K4\n")
        assert harness.next_event() == KeyPress(4)
        assert harness.panel.status().counters.unknown == 1
    finally:
        harness.panel.stop()
    assert not ports[0].is_open


def test_byte_mode_looks_up_each_byte_and_never_writes(sim):
    table = {0x31: KeyPress(1), 0x35: KeyPress(5), 0x53: Solicit()}
    harness = Harness(sim.device_path, mode=PanelMode.BYTE, byte_table=table).start()
    try:
        harness.wait_state(True)
        sim.send_raw(b"1x5\nS")
        assert harness.events_until(Solicit()) == [KeyPress(1), KeyPress(5), Solicit()]
        panel = harness.panel
        assert panel.send_light(1) is False and panel.send_all_lit() is False
        c = panel.status().counters
        assert (c.frames_ok, c.unknown, c.dropped_writes) == (3, 2, 0)
        sim.send_raw(b"5")  # a frame after our refused writes: nothing reached the panel
        assert harness.next_event() == KeyPress(5)
        assert sim.received.empty()
    finally:
        harness.panel.stop()


def test_periodic_ping(sim):
    harness = Harness(sim.device_path, ping_interval=0.05).start()
    try:
        harness.wait_state(True)
        assert [sim.received.get(timeout=WAIT) for _ in range(3)] == [("P",)] * 3
        assert harness.events_until(Pong()) == [Pong()]
    finally:
        harness.panel.stop()


def test_megabyte_of_random_bytes_through_a_pty(sim, connected):
    rnd = random.Random(20261125)
    noise = rnd.randbytes(512 * 1024)
    # Line-shaped noise too, so thousands of short lines reach the parser,
    # not only a few over-long ones.
    alphabet = b"KSHPCIO 0123456789*ABCDEF\r\n\n\n\xff"
    lineish = bytes(rnd.choices(alphabet, k=512 * 1024))
    marker = b"I END-OF-FLOOD-7f3a\n"
    data = noise + lineish + b"\n" + marker
    sim.send_raw(data)  # blocks until the reader has drained most of it
    events = connected.events_until(StaffIn("END-OF-FLOOD-7f3a"), timeout=30)
    sim.press(2)
    assert connected.next_event() == KeyPress(2)
    c = connected.panel.status().counters
    lines = [line.removesuffix(b"\r") for line in data.split(b"\n")[:-1]]
    expected = sum(1 for line in lines if line) + 1  # + the press
    assert c.frames_ok + c.bad_checksum + c.invalid + c.unknown == expected
    assert c.frames_ok == len(events) + 1
    assert c.reconnects == 0 and connected.panel.status().connected


def make_link(link: Path, target: str) -> None:
    tmp = link.with_name(link.name + ".tmp")
    os.symlink(target, tmp)
    os.replace(tmp, link)  # atomic re-point, as udev does


def unplug(link: Path, sim: PanelSimulator) -> None:
    # udev drops the link with the device. Unlinking first also keeps the panel
    # from reopening the old /dev/pts/N once another process reuses the number.
    link.unlink()
    sim.close()


def test_unplug_and_replug_on_a_symlink_reconnects_by_itself(tmp_path):
    link = tmp_path / "evaluator-panel"
    first = PanelSimulator()
    make_link(link, first.device_path)
    harness = Harness(str(link)).start()  # default backoff: 0.1 s doubling to 2 s
    second = None
    try:
        harness.wait_state(True)
        first.press(1)
        assert harness.next_event() == KeyPress(1)
        unplug(link, first)
        harness.wait_state(False)
        assert harness.panel.send_light(1) is False  # quietly dropped
        second = PanelSimulator()  # replug: a new device, the link re-pointed
        make_link(link, second.device_path)
        harness.wait_state(True, timeout=2.0)
        second.press(4)
        assert harness.next_event() == KeyPress(4)
        assert harness.panel.send_light(4)
        assert second.received.get(timeout=WAIT) == ("L", 4)
        c = harness.panel.status().counters
        assert (c.reconnects, c.dropped_writes) == (1, 1)
    finally:
        harness.panel.stop()
        if second is not None:
            second.close()


def test_outage_logs_first_failure_once_and_recovery_once(tmp_path, caplog):
    link = tmp_path / "evaluator-panel"
    attempts: queue.Queue = queue.Queue()

    def opener(url, **kwargs):
        attempts.put(url)
        return serial.serial_for_url(url, **kwargs)

    first = PanelSimulator()
    make_link(link, first.device_path)
    harness = Harness(str(link), opener=opener, backoff=Backoff(initial=0.01, cap=0.05)).start()
    second = None
    caplog.set_level(logging.DEBUG, logger="drivers.panel")
    try:
        harness.wait_state(True)
        unplug(link, first)
        harness.wait_state(False)
        for _ in range(6):  # several failed reopen attempts while unplugged
            attempts.get(timeout=WAIT)
        second = PanelSimulator()
        make_link(link, second.device_path)
        harness.wait_state(True)
    finally:
        harness.panel.stop()
        if second is not None:
            second.close()
    records = [r for r in caplog.records if r.name == "drivers.panel"]
    assert len([r for r in records if r.levelno == logging.WARNING]) == 1
    assert len([r for r in records if r.levelno == logging.INFO]) == 1
    assert any("open again" in r.getMessage() for r in records if r.levelno == logging.INFO)


def test_missing_port_retries_quietly_and_stop_is_prompt_and_idempotent(tmp_path):
    opened = threading.Event()

    def opener(url, **kwargs):
        opened.set()
        return serial.serial_for_url(url, **kwargs)

    harness = Harness(str(tmp_path / "no-such-tty"), opener=opener).start()
    assert opened.wait(WAIT)
    panel = harness.panel
    assert panel.send_beep() is False and panel.send_light(2) is False
    status = panel.status()
    assert not status.connected and status.counters.dropped_writes == 2
    assert status.model is None and status.last_frame_at is None
    panel.stop()
    panel.stop()
    assert harness.states.empty()  # never connected, so never reported


def test_stop_closes_the_port_and_reports_disconnected(sim, connected):
    connected.panel.stop()
    connected.wait_state(False)
    assert not connected.panel.status().connected
    assert connected.panel.send_ping() is False
    connected.panel.stop()


def test_stop_before_start_and_double_start():
    panel = SerialPanel("loop://", lambda event: None)
    panel.stop()
    other = SerialPanel("loop://", lambda event: None)
    other.start()
    try:
        with pytest.raises(RuntimeError):
            other.start()
    finally:
        other.stop()


class TcpServer:
    """A serial-over-TCP server on 127.0.0.1 (what a socket:// URL talks to)."""

    def __init__(self, handler) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"socket://127.0.0.1:{self.sock.getsockname()[1]}"
        self.accepted: queue.Queue = queue.Queue()
        self._handler = handler
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return  # closed by the test
            self.accepted.put(time.monotonic())
            with conn:
                self._handler(conn)

    def close(self) -> None:
        self.sock.close()


def test_socket_url_exchanges_frames_with_a_tcp_panel():
    replies: queue.Queue = queue.Queue()

    def panel_behind_tcp(conn) -> None:
        reader = conn.makefile("rb")
        assert reader.readline() == b"P\n"  # the ping on connect: the terminal is listening
        conn.sendall(b"H NET-1 3.0\r\nK7*7C\n")
        replies.put(reader.readline())
        conn.recv(1)  # hold the link until the terminal closes it

    server = TcpServer(panel_behind_tcp)
    harness = Harness(server.url, ping_interval=60).start()
    try:
        harness.wait_state(True)
        assert harness.events_until(KeyPress(7)) == [Hello("NET-1", "3.0"), KeyPress(7)]
        assert harness.panel.send_light(7)
        assert replies.get(timeout=WAIT) == b"L7\n"
        assert harness.panel.status().model == "NET-1"
    finally:
        harness.panel.stop()
        server.close()


def test_a_link_that_drops_right_after_opening_is_retried_with_backoff(caplog):
    caplog.set_level(logging.INFO, logger="drivers.panel")
    server = TcpServer(lambda conn: None)  # accepts, then hangs up at once
    harness = Harness(server.url, backoff=Backoff(initial=0.05, cap=0.2)).start()
    try:
        times = [server.accepted.get(timeout=WAIT) for _ in range(5)]
    finally:
        harness.panel.stop()
        server.close()
    # waits of 0.05, 0.1, 0.2, 0.2 s between the five sessions: no busy loop
    assert times[-1] - times[0] >= 0.55
    assert harness.panel.status().counters.reconnects >= 3
    # a flapping link is one outage: one warning, one recovery, not one per flap
    levels = [r.levelno for r in caplog.records if r.name == "drivers.panel"]
    assert (levels.count(logging.WARNING), levels.count(logging.INFO)) == (1, 1)


def test_recent_frames_log_both_directions_and_errors_in_order(sim, connected):
    panel = connected.panel
    sim.press(3)
    assert connected.next_event() == KeyPress(3)
    assert panel.send_light(3)
    assert sim.received.get(timeout=WAIT) == ("L", 3)
    sim.send_raw(b"K3*00\n")                       # a bad checksum
    sim.send_raw(b"Z 1\n")                         # an unknown command
    deadline, tick = time.monotonic() + WAIT, threading.Event()
    while panel.status().counters.unknown < 1:      # errors reach no callback: watch the counter
        assert time.monotonic() < deadline
        tick.wait(0.01)
    frames = [(f.direction, f.text) for f in panel.recent_frames()]
    assert frames == [("rx", "K3"), ("tx", "L3"), ("rx", "<bad_checksum>"), ("rx", "<unknown>")]
    assert all(f.at.tzinfo is UTC for f in panel.recent_frames())


def test_the_frame_log_is_bounded(sim, connected):
    from drivers.panel import FRAME_LOG_SIZE

    for _ in range(FRAME_LOG_SIZE + 20):
        connected.panel.send_beep()
    assert len(connected.panel.recent_frames()) == FRAME_LOG_SIZE


def test_reconnect_closes_the_port_and_the_reader_opens_it_again(sim, connected):
    connected.panel.reconnect()
    connected.wait_state(False)
    connected.wait_state(True)
    assert connected.panel.status().counters.reconnects == 1
    sim.press(2)
    assert connected.next_event() == KeyPress(2)
