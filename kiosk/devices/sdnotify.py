"""A dependency-free sd_notify client: readiness, watchdog pings and status for systemd.

systemd hands a `Type=notify` service the address of its notification socket
in NOTIFY_SOCKET (a path, or `@name` for a Linux abstract socket) and, with
`WatchdogSec=`, the watchdog period in WATCHDOG_USEC. The protocol is one
AF_UNIX datagram of newline-separated `KEY=value` lines per message
(sd_notify(3)), so a socket and a few bytes are all it takes; no libsystemd.

Outside systemd (development, tests, `make run`) NOTIFY_SOCKET is unset and
every method does nothing. Notification is a courtesy to the supervisor: it
must never take the terminal down, so errors are logged once and swallowed.
"""
from __future__ import annotations

import enum
import logging
import os
import socket
import threading
from collections.abc import Mapping

log = logging.getLogger(__name__)


class Message(enum.StrEnum):
    """The fixed assignments this client sends (sd_notify(3))."""

    READY = "READY=1"
    WATCHDOG = "WATCHDOG=1"
    STOPPING = "STOPPING=1"


def _address(value: str) -> str:
    # A leading "@" names an abstract socket, whose kernel name starts with NUL.
    return "\0" + value[1:] if value.startswith("@") else value


class Notifier:
    """Sends sd_notify messages to the socket systemd named in NOTIFY_SOCKET, if any.

    Safe to call from any thread: each message is a single `sendto`, which the
    kernel delivers whole or not at all.
    """

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        raw = env.get("NOTIFY_SOCKET", "")
        self._address: str | None = _address(raw) if raw else None
        self._socket: socket.socket | None = None
        self._lock = threading.Lock()
        self._failed = False   # log the first error only: a broken socket would otherwise flood the journal

    @property
    def enabled(self) -> bool:
        """True when a NOTIFY_SOCKET was given, i.e. something listens (or should)."""
        return self._address is not None

    def ready(self) -> None:
        """Startup is finished: `systemctl start/restart` returns and the watchdog starts counting."""
        self._send(Message.READY)

    def watchdog(self) -> None:
        """Still alive; must be called more often than WATCHDOG_USEC or systemd restarts the service."""
        self._send(Message.WATCHDOG)

    def stopping(self) -> None:
        """Shutting down on purpose, so a slow exit is not mistaken for a hang."""
        self._send(Message.STOPPING)

    def status(self, text: str) -> None:
        """A one-line status shown by `systemctl status`."""
        # A newline would start a new assignment: a status text must not be able to send READY=1.
        self._send("STATUS=" + " ".join(text.splitlines()))

    def close(self) -> None:
        with self._lock:
            if self._socket is not None:
                self._socket.close()
                self._socket = None

    def _send(self, message: str) -> None:
        if self._address is None:
            return
        try:
            with self._lock:
                if self._socket is None:
                    self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                self._socket.sendto(message.encode("utf-8"), self._address)
        except OSError as exc:
            if not self._failed:
                self._failed = True
                shown = self._address.replace("\0", "@", 1)
                log.warning("sd_notify to %s failed (%s); further failures are not logged", shown, exc)


def watchdog_interval_s(environ: Mapping[str, str] | None = None) -> float | None:
    """How often to call `Notifier.watchdog()`: half the watchdog period, or None when there is no watchdog.

    Half the period, as sd_watchdog_enabled(3) recommends, leaves a whole
    interval of slack for a slow tick. WATCHDOG_PID, when set, names the
    process the watchdog is meant for: a child that inherited the variables
    must not ping on its parent's behalf.
    """
    env = os.environ if environ is None else environ
    usec = env.get("WATCHDOG_USEC")
    if not usec:
        return None
    pid = env.get("WATCHDOG_PID")
    try:
        if pid and int(pid) != os.getpid():
            return None
        period_us = int(usec)
    except ValueError:
        log.warning("ignoring malformed WATCHDOG_USEC=%r / WATCHDOG_PID=%r", usec, pid)
        return None
    return period_us / 2_000_000 if period_us > 0 else None
