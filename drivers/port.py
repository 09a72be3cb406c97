"""How a serial link's port is opened: its parameters, the opener, the errors a failing port raises."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import serial

Opener = Callable[..., Any]
"""Returns an open pyserial-like port; called as ``opener(url, **serial_kwargs)``."""

# What pyserial raises when a port fails or is closed under a read.
PORT_ERRORS = (serial.SerialException, OSError, ValueError, TypeError)


@dataclass(frozen=True)
class SerialSettings:
    """Port parameters handed to the opener; defaults are EVP-1's 9600 8N1."""

    baudrate: int = 9600
    """Line speed, bit/s."""
    bytesize: int = serial.EIGHTBITS
    """Data bits per character."""
    parity: str = serial.PARITY_NONE
    """pyserial parity letter: N, E, O, M, S."""
    stopbits: float = serial.STOPBITS_ONE
    """Stop bits: 1, 1.5 or 2."""
    xonxoff: bool = False
    """Software flow control."""
    rtscts: bool = False
    """RTS/CTS hardware flow control."""
    timeout: float = 0.1
    """Read timeout, s: bounds how long stop() and periodic pings wait on a read."""
    write_timeout: float = 1.0
    """Write timeout, s: a stuck port never blocks a sender longer than this."""

    def kwargs(self) -> dict[str, Any]:
        return {
            "baudrate": self.baudrate,
            "bytesize": self.bytesize,
            "parity": self.parity,
            "stopbits": self.stopbits,
            "xonxoff": self.xonxoff,
            "rtscts": self.rtscts,
            "timeout": self.timeout,
            "write_timeout": self.write_timeout,
        }
