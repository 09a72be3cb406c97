"""A scheduler on virtual time, for the service's state-machine tests.

This is the one fake in the service tests, and only of time: waiting real
seconds for 15 s windows would make the suite slow and flaky, and hypothesis
needs exact control of when a timer fires relative to a press. Storage is
always a real SQLite file. `test_service.py` also runs the real
`ThreadScheduler` once.
"""
from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable


class _Timer:
    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class VirtualTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self._queue: list[tuple[float, int, _Timer, Callable[[], None]]] = []
        self._order = itertools.count()

    def monotonic(self) -> float:
        return self.now

    def call_later(self, delay_s: float, callback: Callable[[], None]) -> _Timer:
        timer = _Timer()
        heapq.heappush(self._queue, (self.now + delay_s, next(self._order), timer, callback))
        return timer

    def advance(self, seconds: float) -> None:
        """Move time forward, firing due timers in order (timers they arm fire too if due)."""
        target = self.now + seconds
        while self._queue and self._queue[0][0] <= target:
            due, _, timer, callback = heapq.heappop(self._queue)
            self.now = due
            if not timer.cancelled:
                callback()
        self.now = target
