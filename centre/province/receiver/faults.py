"""The receiver's fault script (`--faults "500,ok,slow:3,lost,garbled"`): what successive upload requests get.

- ok: the normal answer
- 500: HTTP 500 at once, nothing stored (the province's platform is down)
- slow:N: stored, answered after N seconds (beyond the client's read timeout: the client times out although
  the records are held — the case the idempotency by record id is for)
- lost: stored, then the connection is closed with no answer at all
- garbled: stored, then answered 200 with a body that is not the answer (a gateway's HTML page)

After the script every request is ok. The tests play the province's failures through it; a province that runs
the receiver for real gives none.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from enum import StrEnum


class FaultKind(StrEnum):
    OK = "ok"
    ERROR_500 = "500"
    SLOW = "slow"
    LOST = "lost"
    GARBLED = "garbled"


@dataclass(frozen=True)
class Fault:
    kind: FaultKind
    delay_s: float = 0.0


OK = Fault(FaultKind.OK)


def parse_faults(spec: str) -> list[Fault]:
    """The script of `spec`; ValueError naming the step that is not one."""
    script = []
    for step in (part.strip() for part in spec.split(",") if part.strip()):
        name, _, arg = step.partition(":")
        if name == "slow":
            try:
                delay = float(arg)
            except ValueError:
                raise ValueError(f"--faults: {step!r}: slow needs seconds, e.g. slow:3") from None
            if not 0 < delay <= 3600:
                raise ValueError(f"--faults: {step!r}: the delay must be between 0 and 3600 s")
            script.append(Fault(FaultKind.SLOW, delay))
        elif name in ("ok", "500", "lost", "garbled") and not arg:
            script.append(Fault(FaultKind(name)))
        else:
            raise ValueError(f"--faults: {step!r} is not one of ok, 500, slow:N, lost, garbled")
    return script


class FaultScript:
    """The script, played one step per upload request, from any of the server's threads."""

    def __init__(self, script: list[Fault]):
        self._script = list(script)
        self._lock = threading.Lock()
        self.played = 0

    def next(self) -> Fault:
        with self._lock:
            self.played += 1
            return self._script.pop(0) if self._script else OK
