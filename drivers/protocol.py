"""EVP-1, the evaluator panel line protocol: pure parsing and encoding, no I/O.

The wire contract is the EVP-1 spec (``panel-protocol.md``, shared with
DESIGN.md). Decisions the spec leaves open, fixed here so both ends agree:

- A line is everything before an LF; one CR immediately before the LF is
  dropped. A line that is empty after that (``\\n`` or ``\\r\\n``) is ignored
  and not counted: panels commonly send blank keep-alive lines.
- Every other LF-terminated line yields exactly one result: an event or one
  ``FrameError``. An over-long line (more than 80 bytes, CR excluded) yields a
  single ``INVALID`` when its LF finally arrives; its bytes are discarded
  without being buffered. Bytes after the last LF wait for the next ``feed``.
- A CR anywhere but right before the LF is a non-printable byte: ``INVALID``.
- ``*`` is reserved for the checksum: a line holding a ``*`` that is not the
  start of a final ``*XX`` (two hex digits) is ``INVALID``. A wrong checksum is
  ``BAD_CHECKSUM`` whatever the body holds.
- The command is the first field. A first field starting with ``K`` (``L`` for
  terminal frames) is a key frame: anything but one digit in range is
  ``INVALID``. Any other first field that is not a known command is
  ``UNKNOWN``; a known command with the wrong number of fields or a malformed
  field (empty field from a double space, bad case number) is ``INVALID``.
"""
from __future__ import annotations

import enum
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeAlias

MAX_LINE = 80
"""Longest line body in bytes, checksum included, CR and LF excluded."""

_CASE_NO = re.compile(r"[A-Za-z0-9_-]{1,40}")
# A staff id (工号) is stored with ratings like any other id: the terminal's
# id rule, so a garbled or over-long one is refused here, never stored.
_STAFF_ID = re.compile(r"[A-Za-z0-9_.-]{1,40}")
_ITEM_CODE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
NO_STAFF = "-"      # the staff field of a C frame that names an item code but no staff member
_HEX = frozenset(b"0123456789abcdefABCDEF")


# --- panel → terminal events -------------------------------------------------


@dataclass(frozen=True)
class KeyPress:
    """``K<d>``: rating key ``key`` (1–9) was pressed."""

    key: int


@dataclass(frozen=True)
class Solicit:
    """``S``: the staff's "please rate" key: solicit one rating now."""


@dataclass(frozen=True)
class Hello:
    """``H <model> <firmware>``: the panel powered up or reconnected."""

    model: str
    firmware: str


@dataclass(frozen=True)
class Pong:
    """``P``: the panel's answer to the terminal's ping."""


@dataclass(frozen=True)
class CaseEnded:
    """``C <case_no> [<staff_id> [<item_code>]]``: a service ended; solicit one rating for it. `item_code` is
    the service item (事项编码) the case belongs to; on the wire a staff field of ``-`` stands for "no staff"
    before an item code."""

    case_no: str
    staff_id: str | None = None
    item_code: str | None = None


@dataclass(frozen=True)
class StaffIn:
    """``I <staff_id>``: a staff member signed in at this counter."""

    staff_id: str


@dataclass(frozen=True)
class StaffOut:
    """``O``: the signed-in staff member signed out."""


PanelEvent: TypeAlias = KeyPress | Solicit | Hello | Pong | CaseEnded | StaffIn | StaffOut

TerminalFrame: TypeAlias = tuple[str] | tuple[str, int]
"""A terminal → panel frame: ``("L", d)``, ``("A",)``, ``("B",)`` or ``("P",)``."""


class FrameError(enum.Enum):
    """Why a received line or byte was dropped; each maps to one counter."""

    BAD_CHECKSUM = "bad_checksum"
    INVALID = "invalid"
    UNKNOWN = "unknown"


# --- framing -------------------------------------------------------------------


def xor_checksum(body: bytes) -> int:
    """NMEA-style XOR of every byte of ``body``."""
    value = 0
    for byte in body:
        value ^= byte
    return value


def unframe(line: bytes) -> str | FrameError | None:
    """One line (without LF) → its verified body, a ``FrameError``, or None if empty."""
    if line.endswith(b"\r"):
        line = line[:-1]
    if not line:
        return None
    if len(line) > MAX_LINE or any(b < 0x20 or b > 0x7E for b in line):
        return FrameError.INVALID
    body, star, tail = line.partition(b"*")
    if star:
        if len(tail) != 2 or not _HEX.issuperset(tail):
            return FrameError.INVALID
        if int(tail, 16) != xor_checksum(body):
            return FrameError.BAD_CHECKSUM
    return body.decode("ascii")


class LineFramer:
    """Splits a byte stream into verified frame bodies; keeps partial lines.

    ``feed`` never raises: every LF-terminated non-empty line yields exactly
    one ``str`` body or one ``FrameError``.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        # True while skipping the rest of an over-long line: its bytes are
        # dropped at once so a runaway sender cannot grow the buffer.
        self._discarding = False

    def feed(self, data: bytes) -> list[str | FrameError]:
        out: list[str | FrameError] = []
        start = 0
        while True:
            lf = data.find(b"\n", start)
            chunk = data[start:] if lf < 0 else data[start:lf]
            if not self._discarding:
                self._buf += chunk
                # +1: a CR that may still precede the LF is not part of the limit.
                if len(self._buf) > MAX_LINE + 1:
                    self._buf.clear()
                    self._discarding = True
            if lf < 0:
                return out
            if self._discarding:
                out.append(FrameError.INVALID)
                self._discarding = False
            else:
                result = unframe(bytes(self._buf))
                if result is not None:
                    out.append(result)
            self._buf.clear()
            start = lf + 1


# --- body parsers --------------------------------------------------------------


def _fields(body: str) -> list[str] | None:
    fields = body.split(" ")
    return None if "" in fields else fields


def _parse_key(field: str, low: int) -> int | None:
    if len(field) == 2 and field[1].isdigit() and int(field[1]) >= low:
        return int(field[1])
    return None


def _parse_case(fields: list[str]) -> PanelEvent | FrameError:
    if len(fields) not in (2, 3, 4) or not _CASE_NO.fullmatch(fields[1]):
        return FrameError.INVALID
    staff = fields[2] if len(fields) >= 3 else None
    item = fields[3] if len(fields) == 4 else None
    if staff is not None and not _STAFF_ID.fullmatch(staff):
        return FrameError.INVALID
    if item is not None and not _ITEM_CODE.fullmatch(item):
        return FrameError.INVALID
    return CaseEnded(fields[1], None if staff == NO_STAFF and item is not None else staff, item)


def _parse_staff_in(args: list[str]) -> PanelEvent | FrameError:
    return StaffIn(args[0]) if _STAFF_ID.fullmatch(args[0]) else FrameError.INVALID


# Fixed-arity panel commands: argument count and how to build the event.
_BUILDERS: dict[str, tuple[int, Callable[[list[str]], PanelEvent | FrameError]]] = {
    "S": (0, lambda args: Solicit()),
    "P": (0, lambda args: Pong()),
    "O": (0, lambda args: StaffOut()),
    "I": (1, _parse_staff_in),
    "H": (2, lambda args: Hello(args[0], args[1])),
}


def parse_panel_body(body: str) -> PanelEvent | FrameError:
    """A verified body sent by a panel or counter PC → its event or error."""
    fields = _fields(body)
    if fields is None:
        return FrameError.INVALID
    cmd, argc = fields[0], len(fields) - 1
    if cmd.startswith("K"):
        key = _parse_key(cmd, 1)
        return KeyPress(key) if key is not None and argc == 0 else FrameError.INVALID
    if cmd == "C":
        return _parse_case(fields)
    builder = _BUILDERS.get(cmd)
    if builder is None:
        return FrameError.UNKNOWN
    argc_wanted, build = builder
    return build(fields[1:]) if argc == argc_wanted else FrameError.INVALID


def parse_terminal_body(body: str) -> TerminalFrame | FrameError:
    """A verified body sent by the terminal → ``("L", d)``, ``("A",)``… or error."""
    if body.startswith("L"):
        key = _parse_key(body, 0)
        return ("L", key) if key is not None else FrameError.INVALID
    if body in ("A", "B", "P"):
        return (body,)
    fields = _fields(body)
    if fields is not None and fields[0] in ("A", "B", "P"):
        return FrameError.INVALID  # known command, stray fields
    return FrameError.UNKNOWN if fields is not None else FrameError.INVALID


def parse_panel_frame(line: bytes) -> PanelEvent | FrameError | None:
    """One panel → terminal line (trailing CR/LF optional); None if empty."""
    body = unframe(line.removesuffix(b"\n"))
    return parse_panel_body(body) if isinstance(body, str) else body


def parse_terminal_frame(line: bytes) -> TerminalFrame | FrameError | None:
    """One terminal → panel line (trailing CR/LF optional); None if empty."""
    body = unframe(line.removesuffix(b"\n"))
    return parse_terminal_body(body) if isinstance(body, str) else body


# --- decoders --------------------------------------------------------------------


class LineDecoder:
    """Line-mode decoder for a panel or counter-link port. ``feed`` never raises."""

    def __init__(self) -> None:
        self._framer = LineFramer()

    def feed(self, data: bytes) -> list[PanelEvent | FrameError]:
        return [
            parse_panel_body(item) if isinstance(item, str) else item
            for item in self._framer.feed(data)
        ]


class TerminalDecoder:
    """Decodes what a terminal sends to a panel (used by the simulator)."""

    def __init__(self) -> None:
        self._framer = LineFramer()

    def feed(self, data: bytes) -> list[TerminalFrame | FrameError]:
        return [
            parse_terminal_body(item) if isinstance(item, str) else item
            for item in self._framer.feed(data)
        ]


DEFAULT_BYTE_TABLE: Mapping[int, PanelEvent] = {
    **{0x30 + d: KeyPress(d) for d in range(1, 10)},
    0x53: Solicit(),
}
"""Byte-mode table of the common cheap panels: ASCII ``1``–``9`` and ``S``."""


class ByteDecoder:
    """Byte-mode decoder: each byte is looked up; others are ``UNKNOWN``."""

    def __init__(self, table: Mapping[int, PanelEvent] = DEFAULT_BYTE_TABLE) -> None:
        self._table = dict(table)

    def feed(self, data: bytes) -> list[PanelEvent | FrameError]:
        return [self._table.get(byte, FrameError.UNKNOWN) for byte in data]


# --- encoders ------------------------------------------------------------------


def encode_frame(body: str, checksum: bool = False) -> bytes:
    """``body`` → one wire line ending in LF, with ``*XX`` if ``checksum``.

    Raises ValueError for a body that could not be read back as one frame.
    """
    raw = body.encode("ascii")  # UnicodeEncodeError is a ValueError
    limit = MAX_LINE - 3 if checksum else MAX_LINE
    if not raw or len(raw) > limit or b"*" in raw or any(b < 0x20 or b > 0x7E for b in raw):
        raise ValueError(f"not a valid EVP-1 frame body: {body!r}")
    if checksum:
        raw += b"*%02X" % xor_checksum(raw)
    return raw + b"\n"


def _check_digit(d: int, low: int) -> int:
    if isinstance(d, bool) or not isinstance(d, int) or not low <= d <= 9:
        raise ValueError(f"key must be an int {low}..9, got {d!r}")
    return d


def encode_light(d: int, checksum: bool = False) -> bytes:
    """``L<d>``: light key ``d`` (1–9); ``0`` turns all keys off."""
    return encode_frame(f"L{_check_digit(d, 0)}", checksum)


def encode_all_lit(checksum: bool = False) -> bytes:
    """``A``: all rating keys lit, a rating is awaited."""
    return encode_frame("A", checksum)


def encode_beep(checksum: bool = False) -> bytes:
    """``B``: a short beep."""
    return encode_frame("B", checksum)


def encode_ping(checksum: bool = False) -> bytes:
    """``P``: ping (terminal → panel) or pong (panel → terminal)."""
    return encode_frame("P", checksum)


def encode_event(event: PanelEvent, checksum: bool = False) -> bytes:
    """A panel → terminal event as a wire line (the simulator's encoder)."""
    match event:
        case KeyPress(key=key):
            body = f"K{_check_digit(key, 1)}"
        case Solicit():
            body = "S"
        case Hello(model=model, firmware=firmware):
            body = f"H {model} {firmware}"
        case Pong():
            body = "P"
        case CaseEnded(case_no=case_no, staff_id=staff_id, item_code=item_code):
            if not _CASE_NO.fullmatch(case_no):
                raise ValueError(f"bad case number: {case_no!r}")
            fields = [case_no, *([staff_id or NO_STAFF, item_code] if item_code is not None
                                 else [staff_id] if staff_id is not None else [])]
            body = "C " + " ".join(fields)
        case StaffIn(staff_id=staff_id):
            body = f"I {staff_id}"
        case StaffOut():
            body = "O"
        case _:
            raise TypeError(f"not a PanelEvent: {event!r}")
    if parse_panel_body(body) != event:
        raise ValueError(f"field would not survive the wire: {event!r}")
    return encode_frame(body, checksum)
