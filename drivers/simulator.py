"""A virtual EVP-1 panel on a pseudo-terminal, for development and tests.

The simulator holds the pty master; the terminal opens the slave path
(``device_path``) with pyserial exactly as it would open a real panel.
Closing the simulator removes the slave device: to the terminal that is an
unplugged panel.
"""
from __future__ import annotations

import argparse
import os
import queue
import select
import sys
import threading
import time
import tty
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

from drivers.protocol import (
    NO_STAFF,
    CaseEnded,
    FrameError,
    Hello,
    KeyPress,
    PanelEvent,
    Solicit,
    StaffIn,
    StaffOut,
    TerminalDecoder,
    TerminalFrame,
    encode_event,
    encode_ping,
)


class PanelSimulator:
    """A panel (and counter link) on a fresh pty.

    ``received`` gets every frame the terminal sends, parsed: ``("L", 3)``,
    ``("A",)``, ``("B",)``, ``("P",)`` or a ``FrameError``.
    """

    def __init__(self, *, checksum: bool = False, answer_pings: bool = True) -> None:
        self._master, self._slave = os.openpty()
        # Raw mode before any terminal opens the slave: otherwise the line
        # discipline would echo our frames back to us and mangle CR/LF.
        tty.setraw(self._slave)
        self._path = os.ttyname(self._slave)
        self._checksum = checksum
        self._answer_pings = answer_pings
        self.received: queue.Queue[TerminalFrame | FrameError] = queue.Queue()
        self._write_lock = threading.Lock()
        self._wake_r, self._wake_w = os.pipe()  # wakes the reader's select on close
        self._closed = False
        self._thread = threading.Thread(target=self._read, name="panel-sim", daemon=True)
        self._thread.start()

    @property
    def device_path(self) -> str:
        """The pty slave path to give the terminal, e.g. ``/dev/pts/3``."""
        return self._path

    # --- panel → terminal ---------------------------------------------------------

    def send(self, event: PanelEvent) -> None:
        self.send_raw(encode_event(event, self._checksum))

    def press(self, key: int) -> None:
        self.send(KeyPress(key))

    def solicit(self) -> None:
        self.send(Solicit())

    def case(self, case_no: str, staff_id: str | None = None, item_code: str | None = None) -> None:
        self.send(CaseEnded(case_no, staff_id, item_code))

    def sign_in(self, staff_id: str) -> None:
        self.send(StaffIn(staff_id))

    def sign_out(self) -> None:
        self.send(StaffOut())

    def hello(self, model: str = "SIM-1", firmware: str = "1.0") -> None:
        self.send(Hello(model, firmware))

    def send_raw(self, data: bytes) -> None:
        """Write bytes as they are; blocks while the pty buffer is full."""
        view = memoryview(data)
        with self._write_lock:
            while view:
                written = os.write(self._master, view)
                view = view[written:]

    # --- terminal → panel ---------------------------------------------------------

    def _read(self) -> None:
        decoder = TerminalDecoder()
        while True:
            ready, _, _ = select.select([self._master, self._wake_r], [], [])
            if self._wake_r in ready:
                return
            try:
                data = os.read(self._master, 4096)
            except OSError:
                return
            if not data:
                return
            for frame in decoder.feed(data):
                if frame == ("P",) and self._answer_pings:
                    self.send_raw(encode_ping(self._checksum))
                self.received.put(frame)

    def close(self) -> None:
        """Stop the reader and destroy the pty (the panel is unplugged). Idempotent."""
        if self._closed:
            return
        self._closed = True
        os.write(self._wake_w, b"x")
        self._thread.join(5)
        for fd in (self._master, self._slave, self._wake_r, self._wake_w):
            os.close(fd)

    def __enter__(self) -> PanelSimulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- CLI: evaluator panel-sim -----------------------------------------------------


@dataclass(frozen=True)
class Wait:
    """A pause between script steps, s."""

    seconds: float


Step = PanelEvent | Wait

SCRIPT_HELP = """\
script syntax (tokens separated by spaces; command letters in any case):
  K<d>              press rating key d (1-9); a bare digit also works
  S                 staff "please rate" key
  C <case>[@<staff>[@<item>]]  service ended: case number, optionally @ the
                    staff id and @ the service item code (事项编码), '-' for
                    no staff (e.g. C 2026A-0042@E1023@11010100000000001);
                    '@' never occurs in these fields.
  I <staff>         staff signs in
  O                 staff signs out
  H <model> <fw>    hello
  W <seconds>       pause (in addition to --delay)
example: --script "I E1023 C 2026A-0042@E1023 W 1 K1 O"

interactive commands (one per line, when no --script is given):
  1..9              press that key
  s                 "please rate" key
  c CASE [STAFF [ITEM]]  service ended (STAFF '-' for none)
  i STAFF / o       sign in / sign out
  h MODEL FW        hello
  raw TEXT          send TEXT plus LF as is (to try malformed frames)
  q                 quit (so does end of input)
"""


def _take(tokens: list[str], n: int, what: str) -> list[str]:
    if len(tokens) < n:
        raise ValueError(f"{what} needs {n} argument(s)")
    return [tokens.pop(0) for _ in range(n)]


def _script_step(cmd: str, tokens: list[str]) -> Step:
    if cmd.isdigit() or (cmd.startswith("K") and cmd[1:].isdigit()):
        key = int(cmd.lstrip("K"))
        if not 1 <= key <= 9:
            raise ValueError(f"key must be 1..9: {cmd}")
        return KeyPress(key)
    if cmd == "C":
        case_no, _, rest = _take(tokens, 1, "C")[0].partition("@")
        staff, _, item = rest.partition("@")
        return CaseEnded(case_no, None if item and staff == NO_STAFF else staff or None, item or None)
    if cmd == "I":
        return StaffIn(_take(tokens, 1, "I")[0])
    if cmd == "H":
        model, firmware = _take(tokens, 2, "H")
        return Hello(model, firmware)
    if cmd == "W":
        seconds = float(_take(tokens, 1, "W")[0])
        if not 0 <= seconds <= 3600:  # also rejects nan, which sleep() would choke on
            raise ValueError(f"W takes 0..3600 seconds, got {seconds}")
        return Wait(seconds)
    simple: dict[str, PanelEvent] = {"S": Solicit(), "O": StaffOut()}
    if cmd in simple:
        return simple[cmd]
    raise ValueError(f"unknown script token: {cmd}")


def parse_script(text: str) -> list[Step]:
    """A ``--script`` string → steps; ValueError names the bad token."""
    tokens, steps = text.split(), []
    while tokens:
        step = _script_step(tokens.pop(0).upper(), tokens)
        if not isinstance(step, Wait):
            encode_event(step)  # reject what could not go on the wire, before we start
        steps.append(step)
    return steps


def describe(frame: TerminalFrame | FrameError) -> str:
    """A terminal frame in words, for the operator watching the simulator."""
    if isinstance(frame, FrameError):
        return f"?  {frame.value} frame from the terminal"
    match frame:
        case ("L", 0):
            return "L0 all keys off"
        case ("L", key):
            return f"L{key} light key {key}: the rating was stored"
        case ("A",):
            return "A  all keys lit: a rating is awaited"
        case ("B",):
            return "B  beep"
        case _:
            return "P  ping (answered P)"


def _print_replies(
    sim: PanelSimulator, out: TextIO, verbose: bool, seen: threading.Event, done: threading.Event
) -> None:
    while True:
        try:
            frame = sim.received.get(timeout=0.1)
        except queue.Empty:
            if done.is_set():  # only once the queue is drained: print every reply
                return
            continue
        seen.set()
        if frame != ("P",) or verbose:
            print(f"<- {describe(frame)}", file=out, flush=True)


def _interactive_step(line: str) -> Step | bytes | None:
    words = line.split()
    if not words:
        return None
    cmd, args = words[0].upper(), words[1:]
    if cmd == "RAW":
        return line.strip()[3:].strip().encode("ascii", "replace") + b"\n"
    if cmd == "C" and len(args) in (2, 3):
        return CaseEnded(args[0], None if len(args) == 3 and args[1] == NO_STAFF else args[1], *args[2:])
    return _script_step(cmd, args) if cmd != "W" else None


def _run_interactive(sim: PanelSimulator, stdin: TextIO, err: TextIO) -> None:
    for line in stdin:
        if line.strip().lower() in ("q", "quit", "exit"):
            return
        try:
            step = _interactive_step(line)
            if isinstance(step, bytes):
                sim.send_raw(step)
            elif step is not None and not isinstance(step, Wait):
                sim.send(step)
        except ValueError as exc:
            print(f"error: {exc} (see --help)", file=err, flush=True)


def _run_script(sim: PanelSimulator, steps: list[Step], delay: float, out: TextIO) -> None:
    for step in steps:
        if isinstance(step, Wait):
            time.sleep(step.seconds)
            continue
        sim.send(step)
        print(f"-> {encode_event(step).decode().strip()}", file=out, flush=True)
        time.sleep(delay)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="evaluator panel-sim",
        description="A virtual EVP-1 rating panel on a pseudo-terminal. Prints the "
        "device path (first line of output) to give the terminal as its panel "
        "port, then plays --script or reads commands from stdin, and prints "
        "what the terminal sends back (lights, beeps).",
        epilog=SCRIPT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--script", help="play these steps instead of reading stdin")
    parser.add_argument("--delay", type=float, default=0.5, metavar="S",
                        help="seconds between script steps (default 0.5)")
    parser.add_argument("--start-delay", type=float, default=2.0, metavar="S",
                        help="seconds to wait before the first script step, time to "
                        "start the terminal (default 2)")
    parser.add_argument("--wait-terminal", action="store_true",
                        help="play the script only once the terminal has sent a "
                        "frame (e.g. its ping), instead of --start-delay")
    parser.add_argument("--linger", type=float, default=2.0, metavar="S",
                        help="seconds to keep printing replies after the script (default 2)")
    parser.add_argument("--checksum", action="store_true", help="append *XX to frames sent")
    parser.add_argument("--no-pong", action="store_true", help="do not answer pings")
    parser.add_argument("--link", metavar="PATH",
                        help="also make symlink PATH -> device (like udev's "
                        "/dev/evaluator-panel); removed on exit")
    parser.add_argument("-v", "--verbose", action="store_true", help="also print pings")
    return parser


def _make_link(path: str, target: str) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    os.symlink(target, tmp)
    os.replace(tmp, path)  # atomic: the terminal never sees a missing link


def main(argv: Sequence[str] | None = None) -> int:
    """CLI body of ``evaluator panel-sim``; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        steps = parse_script(args.script) if args.script is not None else None
    except ValueError as exc:
        print(f"panel-sim: bad --script: {exc}", file=sys.stderr)
        return 2
    with PanelSimulator(checksum=args.checksum, answer_pings=not args.no_pong) as sim:
        if args.link:
            _make_link(args.link, sim.device_path)
        print(sim.device_path, flush=True)
        seen, done = threading.Event(), threading.Event()
        printer = threading.Thread(
            target=_print_replies, args=(sim, sys.stdout, args.verbose, seen, done), daemon=True
        )
        printer.start()
        try:
            if steps is None:
                print("panel-sim: type commands; q quits (see --help)", file=sys.stderr, flush=True)
                _run_interactive(sim, sys.stdin, sys.stderr)
            else:
                if args.wait_terminal:
                    seen.wait()
                else:
                    time.sleep(args.start_delay)
                _run_script(sim, steps, args.delay, sys.stdout)
                time.sleep(args.linger)
        except KeyboardInterrupt:
            pass
        finally:
            done.set()
            printer.join(1)
            if args.link and os.path.islink(args.link):
                os.unlink(args.link)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
