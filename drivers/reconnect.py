"""The reopen policy of a serial link: when to try a lost port again, and how loudly to say so.

Capped exponential backoff, so an unplugged panel comes back by itself when
replugged without the reader spinning meanwhile; one warning per outage, so a
panel left unplugged overnight does not fill the log with a retry every second.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Backoff:
    """Delays between reopen attempts, s: ``initial`` doubling up to ``cap``.

    A link that stayed up at least ``cap`` counts as stable: when it drops it
    is retried at once, and the delay starts again from ``initial``.
    """

    initial: float = 0.1
    cap: float = 1.0   # a replugged panel is back within about a second, however long it was out


class Reconnector:
    """Opens, serves and reopens one port until stopped; used by its reader thread only.

    Logs to the link's own logger, so an operator filtering on the driver sees
    the outages with the frames.
    """

    def __init__(self, backoff: Backoff, name: str, log: logging.Logger) -> None:
        self._backoff = backoff
        self._name = name
        self._log = log
        # _outage: a failure was logged; it lasts until a link stays up for
        # backoff.cap, so a flapping port logs once, not per flap.
        self._outage = False
        self._recovery_logged = False

    def run(self, stop: threading.Event, try_open: Callable[[], Any], session: Callable[[Any], float]) -> None:
        """Until ``stop``: ``try_open()`` (a port or None), then ``session(port)`` (its uptime, s)."""
        delay = self._backoff.initial
        while not stop.is_set():
            port = try_open()
            if port is not None:
                uptime = session(port)
                if uptime >= self._backoff.cap:
                    # A link that was stable is retried at once and from the
                    # smallest delay; one that keeps dropping right after
                    # opening stays on the backoff so it cannot spin.
                    delay = self._backoff.initial
                    continue
            if stop.wait(delay):
                return
            delay = min(delay * 2, self._backoff.cap)

    def opened(self) -> None:
        if self._outage and not self._recovery_logged:
            self._log.info("%s: port open again", self._name)
            self._recovery_logged = True

    def lost(self, exc: BaseException, uptime: float) -> None:
        if uptime >= self._backoff.cap:
            # The link was stable, so this is a new outage worth a warning;
            # a link that drops right after each open stays in the old one.
            self._outage = self._recovery_logged = False
        self.failed("port lost", exc)

    def failed(self, what: str, exc: BaseException) -> None:
        if self._outage:
            self._log.debug("%s: %s: %s", self._name, what, exc)
        else:
            self._log.warning("%s: %s: %s; retrying until it comes back", self._name, what, exc)
            self._outage = True
