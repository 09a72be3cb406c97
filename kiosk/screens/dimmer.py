"""Screen dimming after inactivity, where the platform allows. No Kivy.

The waiting screen dims after `ui.dim_after_s` without a touch, a key or a
change of the service's state, and wakes on the next one. The first touch on
a dimmed screen only wakes it: a citizen who can't see the buttons shouldn't
press one. Dimming uses the backlight when the terminal has one we may write
(it saves the panel and power); otherwise the UI draws a dark veil, which at
least tells passers-by the terminal is idle.
"""
from __future__ import annotations

import enum
import logging
import time
from collections.abc import Callable
from typing import Protocol

from kiosk.screens.idle import IdleSwitch

log = logging.getLogger(__name__)


class Brightness(enum.Enum):
    AWAKE = "awake"
    DIMMED = "dimmed"


class DimOutput(Protocol):
    def set(self, share: float) -> None: ...


class Dimmer:
    def __init__(self, after_s: float | None, awake: float, dimmed: float, output: DimOutput,
                 fallback: DimOutput | None = None, clock: Callable[[], float] = time.monotonic):
        """`after_s`: idle time before dimming (None = never); `awake`/`dimmed`: brightness shares;
        `output`: the backlight or the veil; `fallback`: used from then on if `output` fails."""
        self._awake, self._dimmed = awake, dimmed
        self._output, self._fallback = output, fallback
        self._idle = IdleSwitch(after_s, clock)   # only the waiting screen dims (the UI allows it)
        self._apply()

    @property
    def state(self) -> Brightness:
        return Brightness.DIMMED if self._idle.idle else Brightness.AWAKE

    def activity(self) -> bool:
        """A touch, key or state change: restart the idle time. True if this woke the screen."""
        woke = self._idle.activity()
        if woke:
            self._apply()
        return woke

    def allow(self, allowed: bool) -> None:
        """Whether the screen now shown may dim (the waiting screen) or must stay lit (a rating in progress,
        out of service, staff screens). A change counts as activity."""
        if self._idle.allow(allowed):
            self._apply()

    def due_in(self) -> float | None:
        """Seconds until the screen dims if nothing happens; None when it won't (never, or already dim)."""
        return self._idle.due_in()

    def tick(self) -> bool:
        """Called every few seconds: dim once the idle time has passed. True if it just dimmed."""
        dimmed = self._idle.tick()
        if dimmed:
            self._apply()
        return dimmed

    def quiet_s(self) -> float:
        """Seconds the waiting screen has been untouched (kiosk.screens.idle.IdleSwitch.quiet_s)."""
        return self._idle.quiet_s()

    def restore(self) -> None:
        """Full brightness, e.g. when the app stops: a dim screen must not outlive it."""
        self._idle.activity()
        self._apply()

    def _apply(self) -> None:
        share = self._awake if self.state is Brightness.AWAKE else self._dimmed
        try:
            self._output.set(share)
        except OSError as exc:
            if self._fallback is None or self._output is self._fallback:
                raise
            log.warning("backlight failed (%s); dimming with the on-screen veil from now on", exc)
            self._output = self._fallback
            self._output.set(share)
