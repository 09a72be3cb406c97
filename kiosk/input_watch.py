"""Notices a touchscreen that went away and came back (a USB re-enumeration).

Kivy's touch providers (mtdev, hidinput) open their device once and never
again: after a replug the screen would ignore every touch until a restart.
The terminal restarts itself instead (systemd brings it back in seconds).
No Kivy here: the app polls `check()` from its clock. Reads sysfs only.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

from kiosk.device_watch import DeviceWatcher

log = logging.getLogger(__name__)

SYS_INPUT = Path("/sys/class/input")
_ABS_X, _ABS_MT_POSITION_X = 0x00, 0x35


def touch_devices(sys_input: Path = SYS_INPUT) -> frozenset[str]:
    """The input devices that report absolute positions (touchscreens), as "inputN:eventN:name".

    inputN is what tells a replugged screen from the one the app opened: the kernel numbers input
    devices from a counter it never winds back, while the eventN node of an unplugged device is
    free again and usually goes to the same screen when it comes back."""
    found = set()
    for event in sys_input.glob("event*"):
        try:
            device = (event / "device").resolve(strict=True)
            words = (device / "capabilities" / "abs").read_text().split()
            name = (device / "name").read_text().strip()
        except OSError:
            continue                               # gone between glob and read: it is being unplugged
        # Words of a 64-bit kernel's unsigned long, highest first. (On a 32-bit kernel a word is
        # 32 bits and the high ones land wrong, but touchscreens also set ABS_X, in the lowest.)
        bits = int("".join(f"{int(word, 16):016x}" for word in words), 16) if words else 0
        if bits >> _ABS_X & 1 or bits >> _ABS_MT_POSITION_X & 1:
            found.add(f"{device.name}:{event.name}:{name}")
    return frozenset(found)


class TouchWatcher:
    """Calls `replugged` once when a touchscreen appears that the app did not open at start."""

    def __init__(self, replugged: Callable[[], None], sys_input: Path = SYS_INPUT):
        self._devices = DeviceWatcher("touchscreen", lambda: touch_devices(sys_input))
        self._replugged = replugged
        self.fired = False

    def check(self, *_args) -> None:
        if not self.fired and self._devices.check():
            log.warning("restarting so that the touchscreen is read again")
            self.fired = True
            self._replugged()
