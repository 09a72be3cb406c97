"""One-shot timers, described once for every layer that arms them.

The rating session (its windows and cooldowns) and the store's call-back
sweeper both run on whatever clock the terminal has: Kivy's Clock under the UI
(`kiosk.ui.app.KivyScheduler`), a thread timer headless. The protocol lives
here, outside the layers and importing nothing of the app, so the store (below
the rating layer) and the rating layer can both name it.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol


class Cancellable(Protocol):
    def cancel(self) -> None: ...


class Scheduler(Protocol):
    """Runs a callback once after a delay; the UI passes Kivy's Clock, headless a thread timer."""

    def call_later(self, delay_s: float, callback: Callable[[], None]) -> Cancellable: ...


class ThreadScheduler:
    """Scheduler for terminals without a UI loop: one daemon timer per call."""

    def call_later(self, delay_s: float, callback: Callable[[], None]) -> Cancellable:
        timer = threading.Timer(delay_s, callback)
        timer.daemon = True
        timer.start()
        return timer
