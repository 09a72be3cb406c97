"""Inactivity: a switch that turns idle after some time without a touch, a key or a new view. No Kivy.

One notion of inactivity serves two things: open mode's attract screen
(`ui.attract_after_s`, kiosk.ui.app) and dimming (`ui.dim_after_s`,
kiosk.screens.dimmer). Each has its own switch and its own idle time, both counted
from the same activity, and each idles only while the screen shown allows it.
"""
from __future__ import annotations

import time
from collections.abc import Callable


class IdleSwitch:
    def __init__(self, after_s: float | None, clock: Callable[[], float] = time.monotonic):
        """`after_s`: idle time before the switch turns idle (None = never)."""
        self._after_s = after_s
        self._clock = clock
        self._last_activity = clock()
        self._allowed = False      # nothing idles until the UI says the screen shown may
        self.idle = False

    def activity(self) -> bool:
        """A touch, key or state change: restart the idle time. True if the switch was idle (it is not now)."""
        self._last_activity = self._clock()
        was_idle, self.idle = self.idle, False
        return was_idle

    def allow(self, allowed: bool) -> bool:
        """Whether the screen now shown may go idle. A change counts as activity; True if that ended idleness."""
        if allowed == self._allowed:
            return False
        self._allowed = allowed
        return self.activity()

    def due_in(self) -> float | None:
        """Seconds until the switch turns idle if nothing happens; None when it won't (never, or already idle)."""
        if self._after_s is None or not self._allowed or self.idle:
            return None
        return max(0.0, self._last_activity + self._after_s - self._clock())

    def tick(self) -> bool:
        """Called when due (or any time): turn idle once the idle time has passed. True if it just did."""
        due = self.due_in()
        if due is not None and due <= 0:
            self.idle = True
            return True
        return False

    def quiet_s(self) -> float:
        """Seconds since the last activity while the screen shown allows idling; 0 while it does not."""
        return self._clock() - self._last_activity if self._allowed else 0.0

    def go_idle(self) -> None:
        """Idle now, whatever the time (snapshots of the attract screen)."""
        self.idle = True
