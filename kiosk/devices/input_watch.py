"""The touchscreens there are, for Kivy's input providers, and one that went away and came back.

Kivy's touch providers (mtdev, hidinput) open their device once and never
again: after a replug the screen would ignore every touch until a restart.
The terminal restarts itself instead (systemd brings it back in seconds).
No Kivy here: the app polls `check()` from its clock. Reads sysfs only.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kiosk.devices.device_watch import DeviceWatcher

log = logging.getLogger(__name__)

SYS_INPUT = Path("/sys/class/input")
_ABS_X, _ABS_MT_POSITION_X = 0x00, 0x35


@dataclass(frozen=True)
class Touchscreen:
    event: str          # eventN: read at /dev/input/eventN
    input: str          # inputN: what tells a replugged screen from the one the app opened (see touchscreens)
    name: str
    multitouch: bool    # reports ABS_MT_POSITION_X (else ABS_X only: an older or resistive panel)

    @property
    def node(self) -> str:
        return f"/dev/input/{self.event}"

    @property
    def key(self) -> str:
        return f"{self.input}:{self.event}:{self.name}"


def touchscreens(sys_input: Path = SYS_INPUT, word_bits: int | None = None) -> list[Touchscreen]:
    """The input devices that report absolute positions, by event node.

    The kernel numbers input devices (inputN) from a counter it never winds back, while the eventN node
    of an unplugged device is free again and usually goes to the same screen when it comes back: only
    inputN tells the two apart. `word_bits`: the kernel's unsigned long, in which sysfs writes the
    capability words (default: this kernel's)."""
    bits_per_word = word_bits or (64 if "64" in os.uname().machine else 32)
    found = []
    for event in sorted(sys_input.glob("event*")):
        try:
            device = (event / "device").resolve(strict=True)
            words = (device / "capabilities" / "abs").read_text().split()
            name = (device / "name").read_text().strip()
        except OSError:
            continue                               # gone between glob and read: it is being unplugged
        bits = 0
        for word in words:                         # highest word first
            bits = bits << bits_per_word | int(word, 16)
        multitouch = bool(bits >> _ABS_MT_POSITION_X & 1)
        if multitouch or bits >> _ABS_X & 1:
            found.append(Touchscreen(event.name, device.name, name, multitouch))
    return found


def touch_devices(sys_input: Path = SYS_INPUT) -> frozenset[str]:
    """The touchscreens there are now, as "inputN:eventN:name"."""
    return frozenset(screen.key for screen in touchscreens(sys_input))


class TouchWatcher:
    """Calls `replugged` once when a touchscreen appears that the app did not open at start."""

    def __init__(self, replugged: Callable[[], None], sys_input: Path = SYS_INPUT) -> None:
        self._devices = DeviceWatcher("touchscreen", lambda: touch_devices(sys_input))
        self._replugged = replugged
        self.fired = False

    def check(self, *_args: object) -> None:   # Kivy's Clock passes the time since the last call
        if not self.fired and self._devices.check():
            log.warning("restarting so that the touchscreen is read again")
            self.fired = True
            self._replugged()
