"""Technician mode's 重启程序: asked twice, and a restart that starts the program again wherever it runs. No Kivy.

Under systemd (`Restart=always`) the program restarts by ending: systemd starts it again. Run any other way
(by hand, from a desktop session, a plain init script) nothing would, and ending left a black screen until
someone came with a keyboard: there the process replaces itself with a fresh copy of the same command
(`os.execv`) once it has stopped cleanly. The choice is read from the environment systemd gives its units.
"""
from __future__ import annotations

import enum
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

RESTART_CONFIRM_S = 5.0   # the second tap on 确认重启 must come within this; later, it asks again


class RestartKind(str, enum.Enum):
    EXIT = "exit"            # under systemd: end, and systemd starts the program again
    RELAUNCH = "relaunch"    # nothing would start it again: the process replaces itself (os.execv)


def restart_kind(environ: Mapping[str, str]) -> RestartKind:
    """EXIT when systemd runs the program: it sets NOTIFY_SOCKET for a Type=notify unit (the terminal's) and
    INVOCATION_ID for every unit it starts. Anything else has no supervisor to count on."""
    if environ.get("NOTIFY_SOCKET") or environ.get("INVOCATION_ID"):
        return RestartKind.EXIT
    return RestartKind.RELAUNCH


def relaunch_command(executable: str, orig_argv: Sequence[str]) -> list[str]:
    """The argv that starts this program again: the interpreter with the options and arguments it was given
    (`sys.orig_argv`, which keeps `-m evaluator.cli`; `sys.argv` has lost the `-m`)."""
    return [executable, *orig_argv[1:]]


@dataclass
class SecondTap:
    """A button that acts on its second tap within `window_s` of the first; a tap after that asks again."""

    window_s: float = RESTART_CONFIRM_S
    clock: Callable[[], float] = time.monotonic
    _armed_at: float | None = field(default=None, init=False)

    def tap(self) -> bool:
        """True: this tap confirms; False: it (re)arms, and the button now asks for the confirmation."""
        now = self.clock()
        if self._armed_at is not None and now - self._armed_at <= self.window_s:
            self._armed_at = None
            return True
        self._armed_at = now
        return False

    @property
    def armed(self) -> bool:
        return self.remaining_s > 0

    @property
    def remaining_s(self) -> float:
        """How long the armed button still waits for its second tap; 0 when it is not armed."""
        return 0.0 if self._armed_at is None else max(0.0, self.window_s - (self.clock() - self._armed_at))

    def cancel(self) -> None:
        self._armed_at = None
