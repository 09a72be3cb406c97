"""The terminal's start and stop, written once for the screen app and for `--headless`.

Both run the same core: the rating service, the panel link and systemd's
supervision (READY, watchdog pings, STOPPING). What differs is only the loop
that ticks: Kivy's Clock under the screen (kiosk.ui.app passes it), the main
thread's own wait headless (`MainLoop`). The watchdog is pinged from that loop,
so a loop that hangs stops the pings and systemd restarts the terminal.

The store is not the core's: whoever opened it closes it, after `stop`, since
the service records its STOPPED event there.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

from kiosk.devices.panel_link import PanelLink
from kiosk.devices.sdnotify import Notifier, watchdog_interval_s
from kiosk.rating.service import RatingService
from kiosk.scheduling import Cancellable


class Ticker(Protocol):
    """Calls a callback every `interval_s` on the loop whose health the watchdog vouches for."""

    def call_every(self, interval_s: float, callback: Callable[[], None]) -> Cancellable: ...


class Supervision:
    """What systemd hears of this process: READY, the watchdog's pings, STOPPING (kiosk.devices.sdnotify)."""

    def __init__(self, notifier: Notifier | None = None) -> None:
        self._notifier = notifier or Notifier()
        self._pings: Cancellable | None = None

    @property
    def supervised(self) -> bool:
        """True under systemd (a NOTIFY_SOCKET): something starts the terminal again after it exits."""
        return self._notifier.enabled

    def ready(self, ticker: Ticker) -> None:
        self._notifier.ready()
        interval = watchdog_interval_s()
        if interval is not None:
            self._pings = ticker.call_every(interval, self._notifier.watchdog)

    def stopping(self) -> None:
        # Said first: a slow shutdown must not be taken for a hang and killed halfway.
        self._notifier.stopping()
        if self._pings is not None:
            self._pings.cancel()
            self._pings = None


class TerminalCore:
    """The rating service, its panel link (if any) and systemd's supervision, started and stopped in order."""

    def __init__(self, service: RatingService, link: PanelLink | None,
                 supervision: Supervision | None = None) -> None:
        self.service = service
        self.link = link
        self.supervision = supervision or Supervision()

    def start(self, ticker: Ticker) -> None:
        """The service first (it records the start and publishes the first view the keys light for), then the
        panel ports, and READY only then: `systemctl start` returns once presses can arrive."""
        self.service.start()
        if self.link is not None:
            self.link.start()
        self.supervision.ready(ticker)

    def stop(self) -> None:
        """The reverse: STOPPING, the ports (no press reaches a stopped service), then the service, which
        records its STOPPED in the still open store."""
        self.supervision.stopping()
        if self.link is not None:
            self.link.stop()
        self.service.stop()


class _Repeat:
    def __init__(self, interval_s: float, callback: Callable[[], None]) -> None:
        self.interval_s = interval_s
        self.callback = callback
        self.due = time.monotonic() + interval_s
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class MainLoop:
    """A Ticker for a terminal without a screen: the calls run on the thread in `run`, until `stop`."""

    WAKE_S = 1.0   # the longest wait: a stop is seen within it even if a signal did not cut the wait short

    def __init__(self) -> None:
        self._stopped = threading.Event()
        self._repeats: list[_Repeat] = []

    def call_every(self, interval_s: float, callback: Callable[[], None]) -> Cancellable:
        repeat = _Repeat(interval_s, callback)
        self._repeats.append(repeat)
        return repeat

    def stop(self) -> None:
        """Ends `run`; safe from a signal handler and from any thread."""
        self._stopped.set()

    def run(self) -> None:
        while True:
            self._repeats = [repeat for repeat in self._repeats if not repeat.cancelled]
            now = time.monotonic()
            wake = min([repeat.due for repeat in self._repeats] + [now + self.WAKE_S])
            if self._stopped.wait(max(0.0, wake - now)):
                return
            now = time.monotonic()
            for repeat in self._repeats:
                if not repeat.cancelled and repeat.due <= now:
                    # From now, not from when it was due: a late tick does not bring a burst of catch-up calls.
                    repeat.due = now + repeat.interval_s
                    repeat.callback()
