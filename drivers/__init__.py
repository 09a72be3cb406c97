"""Hardware adapters for the evaluator terminal: a library that knows nothing of the app.

- ``drivers.protocol``: EVP-1 parse/encode (pure, no I/O)
- ``drivers.panel``: ``SerialPanel``, a panel or counter link on any pyserial URL
  (its port settings in ``drivers.port``, its status in ``drivers.panel_status``, its reopen policy in
  ``drivers.reconnect``)
- ``drivers.simulator``: a virtual panel on a pty; ``evaluator panel-sim``
"""
from drivers.panel import (
    Backoff,
    PanelCounters,
    PanelMode,
    PanelStatus,
    SerialPanel,
    SerialSettings,
)
from drivers.protocol import (
    ByteDecoder,
    CaseEnded,
    FrameError,
    Hello,
    KeyPress,
    LineDecoder,
    PanelEvent,
    Pong,
    Solicit,
    StaffIn,
    StaffOut,
)

__all__ = [
    "Backoff",
    "ByteDecoder",
    "CaseEnded",
    "FrameError",
    "Hello",
    "KeyPress",
    "LineDecoder",
    "PanelCounters",
    "PanelEvent",
    "PanelMode",
    "PanelStatus",
    "Pong",
    "SerialPanel",
    "SerialSettings",
    "Solicit",
    "StaffIn",
    "StaffOut",
]
