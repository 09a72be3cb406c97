"""The session's timers, on whichever clock the terminal runs (Kivy's, or a thread timer headless).

Every transition opens a new step. A timer that ends a step (a window, the
reasons, the thanks) remembers the step it was armed in, and when it fires
after the session has moved on it finds that step gone and does nothing: a
late timer from another thread can never end the wrong citizen's step.
"""
from __future__ import annotations

import threading
from collections.abc import Callable

from kiosk.scheduling import Cancellable, Scheduler


class Steps:
    def __init__(self, scheduler: Scheduler, lock: threading.RLock, publish: Callable[[], None]) -> None:
        """`lock`: the session's, held while a step's end runs; `publish`: called after it is released."""
        self._scheduler = scheduler
        self._lock = lock
        self._publish = publish
        self._step = 0
        self._timer: Cancellable | None = None      # the current step's end, or the storage probe
        self._cooldown: Cancellable | None = None

    def next(self) -> None:
        """A transition (lock held): the old step's timers will not fire."""
        self.cancel()
        self._step += 1

    def arm(self, delay_s: float, end: Callable[[], None]) -> None:
        """Schedule the current step's end (lock held)."""
        step = self._step

        def fire() -> None:
            with self._lock:
                if self._step != step:
                    return
                end()
            self._publish()

        self._timer = self._scheduler.call_later(delay_s, fire)

    def retry(self, delay_s: float, probe: Callable[[], None]) -> None:
        """Schedule a storage probe; it checks the state itself, since an outage spans no particular step."""
        self._timer = self._scheduler.call_later(delay_s, probe)

    def wait_cooldown(self, delay_s: float, over: Callable[[], None]) -> None:
        """Schedule the end of a cooldown; `over` takes the lock itself and checks the view again."""
        self._cooldown = self._scheduler.call_later(delay_s, over)

    def cancel(self) -> None:
        for timer in (self._timer, self._cooldown):
            if timer is not None:
                timer.cancel()
        self._timer = self._cooldown = None
