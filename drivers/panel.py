"""SerialPanel: one EVP-1 port (a rating panel or a counter link).

A reader thread owns the port: it opens it by pyserial URL, drains
``read(in_waiting or 1)`` into a decoder, hands each event to ``on_event``,
and when the port fails closes it and reopens it by ``drivers.reconnect``'s
policy, so an unplugged panel comes back by itself when replugged. The port's
parameters are in ``drivers.port`` and what the link reports in
``drivers.panel_status``; their names are re-exported here.
"""
from __future__ import annotations

import enum
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

import serial

from drivers.panel_status import LoggedFrame, PanelCounters, PanelStatus
from drivers.port import PORT_ERRORS, Opener, SerialSettings
from drivers.protocol import (
    DEFAULT_BYTE_TABLE,
    ByteDecoder,
    FrameError,
    Hello,
    LineDecoder,
    PanelEvent,
    encode_all_lit,
    encode_beep,
    encode_event,
    encode_light,
    encode_ping,
)
from drivers.reconnect import Backoff, Reconnector

__all__ = [
    "FRAME_LOG_SIZE",
    "Backoff",
    "LoggedFrame",
    "Opener",
    "PanelCounters",
    "PanelMode",
    "PanelStatus",
    "SerialPanel",
    "SerialSettings",
]

FRAME_LOG_SIZE = 100   # the technician's live view: recent enough to diagnose, small enough to keep forever

log = logging.getLogger(__name__)


class PanelMode(str, enum.Enum):
    # A str enum: config.yaml's `panel.mode` is this very enum, spelled by value.
    LINE = "line"  # EVP-1 text frames, both directions
    BYTE = "byte"  # one byte per key, looked up in a table; nothing sent back


# Frozen, so one instance serves every panel as its default.
_DEFAULT_SETTINGS = SerialSettings()
_DEFAULT_BACKOFF = Backoff()

_ERROR_COUNTER = {
    FrameError.BAD_CHECKSUM: "bad_checksum",
    FrameError.INVALID: "invalid",
    FrameError.UNKNOWN: "unknown",
}


@dataclass
class _State:
    """Mutable status, guarded by SerialPanel._lock."""

    connected: bool = False
    model: str | None = None
    firmware: str | None = None
    last_frame_at: datetime | None = None
    counts: dict[str, int] = field(default_factory=dict)


class SerialPanel:
    """A rating panel or counter link on one serial port (any pyserial URL).

    ``on_event`` and ``on_state`` run on the reader thread; they must return
    quickly and hand off to other threads themselves. Their exceptions are
    logged and counted, never allowed to stop the reader.
    """

    def __init__(
        self,
        url: str,
        on_event: Callable[[PanelEvent], None],
        *,
        mode: PanelMode = PanelMode.LINE,
        byte_table: Mapping[int, PanelEvent] | None = None,
        settings: SerialSettings = _DEFAULT_SETTINGS,
        backoff: Backoff = _DEFAULT_BACKOFF,
        ping_interval: float | None = None,
        checksum: bool = False,
        on_state: Callable[[bool], None] | None = None,
        opener: Opener = serial.serial_for_url,
    ) -> None:
        """``ping_interval`` (s): ping on connect and then this often; None = off.
        ``checksum``: append ``*XX`` to the frames this terminal sends."""
        self.url = url
        self._on_event = on_event
        self._on_state = on_state
        self._mode = mode
        self._byte_table = byte_table if byte_table is not None else DEFAULT_BYTE_TABLE
        self._settings = settings
        self._ping_interval = ping_interval
        self._checksum = checksum
        self._opener = opener
        self._lock = threading.Lock()  # guards _state
        self._write_lock = threading.Lock()  # guards _port and writes to it
        self._port: Any = None
        self._state = _State(counts={f.name: 0 for f in fields(PanelCounters)})
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._reconnector = Reconnector(backoff, url, log)   # reader thread only
        self._ever_connected = False  # reader thread only: tells reconnects from the first open
        self._frames: deque[LoggedFrame] = deque(maxlen=FRAME_LOG_SIZE)   # appended under _lock

    # --- lifecycle --------------------------------------------------------------

    def start(self) -> None:
        """Start the reader thread; it opens the port and keeps it open."""
        if self._thread is not None:
            raise RuntimeError("SerialPanel already started")
        self._thread = threading.Thread(
            target=self._run, name=f"panel-reader {self.url}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the reader, close the port. Idempotent."""
        self._stop.set()
        self._cancel_read()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        self._close_port()

    def __enter__(self) -> SerialPanel:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- status -----------------------------------------------------------------

    def status(self) -> PanelStatus:
        with self._lock:
            st = self._state
            return PanelStatus(
                port=self.url,
                connected=st.connected,
                model=st.model,
                firmware=st.firmware,
                last_frame_at=st.last_frame_at,
                counters=PanelCounters(**st.counts),
            )

    def recent_frames(self) -> list[LoggedFrame]:
        """The last frames both ways, oldest first (checksums as sent are not kept)."""
        with self._lock:
            return list(self._frames)

    def reconnect(self) -> None:
        """Close the port now; the reader opens it again (a technician's "reconnect" button)."""
        self._cancel_read()
        self._close_port()

    def _cancel_read(self) -> None:
        port = self._port
        if port is not None and hasattr(port, "cancel_read"):
            try:
                port.cancel_read()  # wake a blocking read at once
            except Exception:
                pass   # a port failing here is closed next anyway

    def _log_frame(self, direction: str, text: str) -> None:
        entry = LoggedFrame(datetime.now(UTC), direction, text)
        with self._lock:
            self._frames.append(entry)

    @property
    def connected(self) -> bool:
        with self._lock:
            return self._state.connected

    def _count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._state.counts[name] += n

    # --- sending ------------------------------------------------------------------

    def send_light(self, key: int) -> bool:
        """``L<key>``; 0 = all keys off. False if not sent (never raises)."""
        try:
            frame = encode_light(key, self._checksum)
        except ValueError:
            log.error("%s: refusing to send light for bad key %r", self.url, key)
            return False
        return self._write(frame)

    def send_all_lit(self) -> bool:
        return self._write(encode_all_lit(self._checksum))

    def send_beep(self) -> bool:
        return self._write(encode_beep(self._checksum))

    def send_ping(self) -> bool:
        return self._write(encode_ping(self._checksum))

    def _write(self, frame: bytes) -> bool:
        if self._mode is PanelMode.BYTE:
            return False  # byte-mode panels have no input
        with self._write_lock:
            port = self._port
            if port is None:
                self._count("dropped_writes")
                return False
            try:
                port.write(frame)
            except (serial.SerialException, OSError, ValueError) as exc:
                # The reader notices the failure itself and reconnects.
                log.debug("%s: write failed: %s", self.url, exc)
                self._count("dropped_writes")
                return False
        self._log_frame("tx", frame.decode("ascii", "replace").strip())
        return True

    # --- reader thread ------------------------------------------------------------

    def _run(self) -> None:
        self._reconnector.run(self._stop, self._try_open, self._session)

    def _session(self, port: Any) -> float:
        """Read from an open port until it fails or stop(); returns its uptime, s."""
        opened_at = time.monotonic()
        self._reconnector.opened()
        if self._ever_connected:
            self._count("reconnects")
        self._ever_connected = True
        self._set_connected(True)
        try:
            self._read_loop(port)
        except Exception as exc:
            if not isinstance(exc, PORT_ERRORS):
                log.exception("%s: unexpected error in reader", self.url)
            if not self._stop.is_set():
                self._reconnector.lost(exc, time.monotonic() - opened_at)
        finally:
            uptime = time.monotonic() - opened_at  # before close: closing may be slow
            self._close_port()
            self._set_connected(False)
        return uptime

    def _try_open(self) -> Any:
        """One open attempt; the port, or None if it failed or stop() was called."""
        try:
            port = self._opener(self.url, **self._settings.kwargs())
        except (serial.SerialException, OSError, ValueError) as exc:
            self._reconnector.failed("cannot open port", exc)
            return None
        with self._write_lock:
            if self._stop.is_set():
                port.close()
                return None
            self._port = port
        return port

    def _read_loop(self, port: Any) -> None:
        decoder = ByteDecoder(self._byte_table) if self._mode is PanelMode.BYTE else LineDecoder()
        next_ping = time.monotonic()
        while not self._stop.is_set():
            if self._ping_interval is not None and self._mode is PanelMode.LINE:
                now = time.monotonic()
                if now >= next_ping:
                    self.send_ping()
                    next_ping = now + self._ping_interval
            data = port.read(port.in_waiting or 1)
            if data:
                self._dispatch(decoder.feed(data))

    def _dispatch(self, results: list[PanelEvent | FrameError]) -> None:
        for item in results:
            if isinstance(item, FrameError):
                self._count(_ERROR_COUNTER[item])
                self._log_frame("rx", f"<{item.value}>")
                continue
            self._log_frame("rx", _wire_text(item))
            with self._lock:
                st = self._state
                st.counts["frames_ok"] += 1
                st.last_frame_at = datetime.now(UTC)
                if isinstance(item, Hello):
                    st.model, st.firmware = item.model, item.firmware
            self._call(self._on_event, item)

    def _call(self, callback: Callable[[Any], None] | None, arg: Any) -> None:
        if callback is None:
            return
        try:
            callback(arg)
        except Exception:
            self._count("callback_errors")
            log.exception("%s: callback %r failed on %r", self.url, callback, arg)

    def _set_connected(self, connected: bool) -> None:
        with self._lock:
            changed = self._state.connected != connected
            self._state.connected = connected
        if changed:
            self._call(self._on_state, connected)

    def _close_port(self) -> None:
        with self._write_lock:
            port, self._port = self._port, None
        if port is not None:
            try:
                port.close()
            except Exception:
                log.debug("%s: error closing port", self.url, exc_info=True)


def _wire_text(event: PanelEvent) -> str:
    try:
        return encode_event(event).decode("ascii").strip()
    except ValueError:        # not encodable (e.g. an odd field): show what was decoded instead
        return repr(event)
