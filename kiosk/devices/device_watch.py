"""Notices a device that was not there when the app started: a replugged touchscreen, a speaker plugged in late.

Kivy opens its touch devices and SDL its audio device once per process and
never look again, so what the terminal does about a new device is restart;
this module only tells when one appeared. No Kivy here: the app polls
`check()` from its clock; `present()` reads sysfs or procfs.
"""
from __future__ import annotations

import logging
from collections.abc import Callable

log = logging.getLogger(__name__)


class DeviceWatcher:
    def __init__(self, what: str, present: Callable[[], frozenset[str]]):
        """`what`: the kind of device, for the log; `present()`: names of those there now."""
        self._what = what
        self._present = present
        self._opened = present()      # what the app found when it started
        self._missing_logged = False
        self.appeared = False

    def check(self) -> bool:
        """True from the first check that finds a device the app did not start with (logged once)."""
        if self.appeared:
            return True
        now = self._present()
        if now - self._opened:
            log.warning("%s %s appeared", self._what, ", ".join(sorted(now - self._opened)))
            self.appeared = True
        elif self._opened - now and not self._missing_logged:
            log.warning("%s %s is gone; waiting for it to come back", self._what,
                        ", ".join(sorted(self._opened - now)))
            self._missing_logged = True
        return self.appeared
