"""What a serial link reports about itself: counters, the recent frames, its status."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class PanelCounters:
    frames_ok: int = 0
    """Frames (or table bytes) decoded into events."""
    bad_checksum: int = 0
    invalid: int = 0
    unknown: int = 0
    reconnects: int = 0
    """Successful reopens after the port had been lost."""
    dropped_writes: int = 0
    """Frames not sent because the port was down or the write failed."""
    callback_errors: int = 0
    """Exceptions raised by on_event / on_state, caught and logged."""


@dataclass(frozen=True)
class LoggedFrame:
    at: datetime
    direction: str        # "rx" from the panel, "tx" to it
    text: str             # the frame as on the wire, or <invalid>/<bad_checksum>/<unknown>


@dataclass(frozen=True)
class PanelStatus:
    port: str
    connected: bool
    model: str | None
    firmware: str | None
    last_frame_at: datetime | None
    """UTC time of the last frame decoded into an event."""
    counters: PanelCounters
