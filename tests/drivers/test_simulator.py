"""The pty panel simulator and its CLI (``evaluator panel-sim``), over real ptys
and a real subprocess."""
from __future__ import annotations

import os
import queue
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import serial

from drivers.panel import SerialPanel
from drivers.protocol import (
    CaseEnded,
    FrameError,
    Hello,
    KeyPress,
    Pong,
    Solicit,
    StaffIn,
    StaffOut,
)
from drivers.simulator import PanelSimulator, Wait, describe, main, parse_script

ROOT = Path(__file__).resolve().parents[2]
WAIT = 3.0


@pytest.fixture
def sim():
    simulator = PanelSimulator()
    yield simulator
    simulator.close()


@pytest.fixture
def port(sim):
    ser = serial.serial_for_url(sim.device_path, baudrate=9600, timeout=WAIT)
    yield ser
    ser.close()


def test_device_path_is_a_character_device_that_vanishes_on_close():
    simulator = PanelSimulator()
    path = simulator.device_path
    assert stat.S_ISCHR(os.stat(path).st_mode)
    simulator.close()
    simulator.close()
    assert not os.path.exists(path)


def test_frames_sent_by_the_simulator_on_the_wire(sim, port):
    sim.press(3)
    sim.solicit()
    sim.case("2026A-0042", "E1023")
    sim.case("X-1")
    sim.sign_in("E1023")
    sim.sign_out()
    sim.hello("EVP-100", "2.4")
    sim.send_raw(b"raw\r\n")
    lines = [port.read_until(b"\n") for _ in range(8)]
    assert lines == [
        b"K3\n", b"S\n", b"C 2026A-0042 E1023\n", b"C X-1\n", b"I E1023\n", b"O\n",
        b"H EVP-100 2.4\n", b"raw\r\n",
    ]


def test_checksum_mode():
    with PanelSimulator(checksum=True) as simulator:
        with serial.serial_for_url(simulator.device_path, timeout=WAIT) as ser:
            simulator.press(3)
            assert ser.read_until(b"\n") == b"K3*78\n"
            ser.write(b"P\n")
            assert ser.read_until(b"\n") == b"P*50\n"


def test_bad_arguments_raise_in_the_caller(sim):
    with pytest.raises(ValueError):
        sim.press(0)
    with pytest.raises(ValueError):
        sim.case("no spaces allowed")


def test_received_frames_are_parsed_and_pings_answered(sim, port):
    port.write(b"A\nL3\r\nL0*7C\nB\nP\nQ\nL3*00\n")
    got = [sim.received.get(timeout=WAIT) for _ in range(7)]
    assert got == [("A",), ("L", 3), ("L", 0), ("B",), ("P",),
                   FrameError.UNKNOWN, FrameError.BAD_CHECKSUM]
    assert port.read_until(b"\n") == b"P\n"


def test_pings_can_go_unanswered():
    with PanelSimulator(answer_pings=False) as simulator:
        with serial.serial_for_url(simulator.device_path, timeout=0.2) as ser:
            ser.write(b"P\n")
            assert simulator.received.get(timeout=WAIT) == ("P",)
            simulator.press(1)  # the next thing on the wire is the press, not a pong
            assert ser.read_until(b"\n") == b"K1\n"


def test_parse_script():
    steps = parse_script("k1 S  C 2026A-0042@E1023 c A-1 W 0.5 I E7 O H EVP-1 2.0 5 C A-2@E7@1101.a C A-3@-@X1")
    assert steps == [
        KeyPress(1), Solicit(), CaseEnded("2026A-0042", "E1023"), CaseEnded("A-1"),
        Wait(0.5), StaffIn("E7"), StaffOut(), Hello("EVP-1", "2.0"), KeyPress(5),
        CaseEnded("A-2", "E7", "1101.a"), CaseEnded("A-3", None, "X1"),
    ]


@pytest.mark.parametrize(
    "script", ["K0", "K10", "X", "C", "C bad!", "C @E1", "C A-1@E1@bad!", "I", "H a", "W", "W soon", "W -1",
               "W nan"]
)
def test_parse_script_rejects(script):
    with pytest.raises(ValueError):
        parse_script(script)


def test_describe():
    assert "light key 3" in describe(("L", 3))
    assert "off" in describe(("L", 0))
    assert "awaited" in describe(("A",))
    assert "beep" in describe(("B",))
    assert "invalid" in describe(FrameError.INVALID)


def test_main_rejects_a_bad_script(capsys):
    assert main(["--script", "K1 X"]) == 2
    assert "unknown script token: X" in capsys.readouterr().err


def test_help_documents_the_script_syntax(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "C <case>[@<staff>[@<item>]]" in out and "evaluator panel-sim" in out


class Cli:
    """``python -m drivers.simulator`` as a real process; stdout lines on a queue."""

    def __init__(self, *args: str, stdin: bool = False) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "drivers.simulator", *args],
            cwd=ROOT,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def line_containing(self, text: str, timeout: float = WAIT) -> str:
        while True:
            line = self.lines.get(timeout=timeout)
            if text in line:
                return line

    def finish(self, timeout: float = 10) -> int:
        try:
            return self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()


def test_cli_plays_a_script_and_prints_what_the_terminal_sends(tmp_path):
    link = tmp_path / "evaluator-panel"
    cli = Cli("--script", "I E7 C 2026A-0042@E7 W 0.05 K2 O", "--wait-terminal",
              "--delay", "0", "--linger", "1", "--link", str(link))
    events: queue.Queue = queue.Queue()
    try:
        device = cli.lines.get(timeout=10)  # the first line is the device path
        assert device.startswith("/dev/") and os.readlink(link) == device
        # ping on connect tells the simulator the terminal is there
        panel = SerialPanel(str(link), events.put, ping_interval=60)
        panel.start()
        try:
            got = [events.get(timeout=WAIT) for _ in range(5)]
            assert got[0] == Pong()
            assert got[1:] == [
                StaffIn("E7"), CaseEnded("2026A-0042", "E7"), KeyPress(2), StaffOut(),
            ]
            assert panel.send_light(2) and panel.send_beep()
            assert "light key 2" in cli.line_containing("L2")
            assert "beep" in cli.line_containing("B ")
        finally:
            panel.stop()
        assert cli.finish() == 0
    finally:
        if cli.proc.poll() is None:
            cli.finish(0.1)
    assert not link.exists()


def test_cli_interactive_commands_from_stdin():
    cli = Cli(stdin=True)
    events: queue.Queue = queue.Queue()
    states: queue.Queue = queue.Queue()
    try:
        device = cli.lines.get(timeout=10)
        panel = SerialPanel(device, events.put, on_state=states.put)
        panel.start()
        try:
            assert states.get(timeout=WAIT) is True
            commands = ["3", "s", "c 2026A-0042 E1023", "c B-2@E5", "c C-3", "i E1", "o",
                        "h EVP 9", "bogus", "raw K9*00", "k4"]
            cli.proc.stdin.write("".join(f"{c}\n" for c in commands))
            cli.proc.stdin.flush()
            got = [events.get(timeout=WAIT) for _ in range(9)]
            assert got == [KeyPress(3), Solicit(), CaseEnded("2026A-0042", "E1023"),
                           CaseEnded("B-2", "E5"), CaseEnded("C-3"), StaffIn("E1"), StaffOut(),
                           Hello("EVP", "9"), KeyPress(4)]
            assert panel.status().counters.bad_checksum == 1
            cli.proc.stdin.write("q\n")
            cli.proc.stdin.flush()
            assert cli.finish() == 0
            assert "unknown script token: BOGUS" in cli.proc.stderr.read()
        finally:
            panel.stop()
    finally:
        if cli.proc.poll() is None:
            cli.finish(0.1)
