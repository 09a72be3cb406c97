"""`evaluator upgrade WHEEL`: install a release beside the running one, switch, check, roll back on failure.

Layout (nothing else under the base is ever touched; data and config live
elsewhere, in /var/lib/evaluator and /etc/evaluator, and are never read or
written here):

    /opt/evaluator/releases/<version>/   one virtual environment per release
    /opt/evaluator/current -> releases/<version>   what systemd runs

A release is built in place, because a venv is not relocatable (its scripts'
shebangs name its own python), but the terminal keeps running the old one
until `current` is switched; the switch is a rename of a symlink, so a power
cut leaves either the old release or the new one live, never neither. The old
release stays on disk: rolling back is one more switch.

The releases share the disk with the ratings (one SD card, usually), and a
terminal is upgraded for years: a release is built only when, after it,
`keep_free_bytes` stay free, and a successful upgrade removes every release
but the new one and the one it replaced (the rollback target), failed ones
included.

Each release is a full venv with its own pip (`python -m venv`, about 7 s
here, most of it ensurepip). The alternative, `--without-pip` plus the
running interpreter's pip with `pip --python <venv>` (under 0.1 s), needs a
pip beside the interpreter doing the upgrade — and that interpreter is the
current release itself, so a release without pip could never install its
successor.

This module decides; evaluator.releases builds, switches and prunes the
releases on disk, and evaluator.health holds the defaults for `restart` and
`health_check` (systemd and the release's own `evaluator status`).
"""
from __future__ import annotations

import enum
import functools
import logging
import os
import signal
import sys
import threading
import time
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from evaluator.health import DEFAULT_CONFIG, SERVICE_USER, SERVICES, check_health, restart_services, services_steady
from evaluator.releases import (
    KEEP_FREE_BYTES,
    WHEEL_DIGEST_FILE,
    UpgradeError,
    WheelNameError,
    check_room,
    current_target,
    exclusive,
    fsync_dir,
    prepare_release,
    remove_old_releases,
    resolve,
    switch,
    wheel_version,
)

__all__ = [
    "DEFAULT_BASE", "DEFAULT_CONFIG", "KEEP_FREE_BYTES", "SERVICES", "SERVICE_USER", "WHEEL_DIGEST_FILE",
    "Outcome", "UpgradeError", "UpgradeResult", "WheelNameError", "check_health", "restart_services",
    "services_steady", "upgrade", "wheel_version",
]

log = logging.getLogger(__name__)

DEFAULT_BASE = Path("/opt/evaluator")


class Outcome(enum.Enum):
    UPGRADED = "upgraded"
    ALREADY_CURRENT = "already current"
    ROLLED_BACK = "rolled back"


@dataclass(frozen=True)
class UpgradeResult:
    outcome: Outcome
    version: str                     # the version the wheel asked for
    current: Path | None             # the release `current` points at now
    previous: Path | None            # the release `current` pointed at before
    failed_release: Path | None = None   # kept on disk for inspection after a rollback
    reason: str | None = None        # why it rolled back

    def __str__(self) -> str:
        if self.outcome is Outcome.ROLLED_BACK:
            return (f"rolled back to {self.current}: {self.reason}; "
                    f"the failed release is kept in {self.failed_release}")
        return f"{self.outcome.value}: {self.current}"


def upgrade(wheel: Path, base: Path = DEFAULT_BASE, *,
            restart: Callable[[], None],
            health_check: Callable[[Path], bool],
            timeout_s: float = 60,
            python: str = sys.executable,
            progress: Callable[[str], None] = print,
            find_links: Sequence[Path] = (),
            no_index: bool = False,
            poll_s: float = 2.0,
            keep_free_bytes: int = KEEP_FREE_BYTES,
            settle_s: float = 0.0) -> UpgradeResult:
    """Install `wheel` as releases/<version>, make it current, restart, and keep it only if it turns healthy.

    `restart` restarts the services (raising means it failed); `health_check`
    gets the new release's directory and is polled until it has returned True
    for `settle_s` on end (a release that starts, then crashes, fails) or
    `timeout_s` passes. On failure `current` goes back to the previous release
    and `restart` runs again; so it does when the upgrade itself is stopped
    mid-check (Ctrl-C, an SSH session hanging up, SIGTERM). Raises UpgradeError (WheelNameError for a bad
    argument) when it refuses before anything live changed, among others when
    building the release (estimated as big as the current one) would leave
    less than `keep_free_bytes` free on its disk.
    """
    version = wheel_version(wheel)
    if settle_s >= timeout_s:
        raise UpgradeError(f"the release must stay healthy for {settle_s:g} s within a timeout of {timeout_s:g} s: "
                           "give it a longer timeout")
    if not zipfile.is_zipfile(wheel):   # a truncated download fails here, before a venv is built
        raise WheelNameError(f"{wheel} is not a readable wheel (missing, or not a zip archive)")
    say = _reporter(progress)
    base.mkdir(parents=True, exist_ok=True)
    with exclusive(base), _signals_interrupt():
        release = base / "releases" / version
        changeover = _Changeover(base, version, release, current_target(base), restart, say)
        previous_path = changeover.previous_path
        if previous_path is not None and previous_path.resolve() == release.resolve():
            say(f"{version} is already the current release ({release}); nothing to do")
            return UpgradeResult(Outcome.ALREADY_CURRENT, version, release, release)
        if not release.exists():
            check_room(release.parent, previous_path, keep_free_bytes)
        prepare_release(wheel, release, python, find_links, no_index, say)
        return changeover.go_live(functools.partial(
            _restart_and_check, release, restart, health_check, timeout_s, poll_s, settle_s, say))


@dataclass(frozen=True)
class _Changeover:
    """`current` moving from the previous release to the new one, and back if the new one fails."""
    base: Path
    version: str
    release: Path
    previous: str | None             # `current` as written in the link, so a rollback restores it exactly
    restart: Callable[[], None]
    say: Callable[[str], None]

    @property
    def previous_path(self) -> Path | None:
        return resolve(self.base, self.previous)

    def go_live(self, restart_and_check: Callable[[], str | None]) -> UpgradeResult:
        """Switch to the release, restart into it, and keep it only when `restart_and_check` finds no fault."""
        switch(self.base, os.path.relpath(self.release, self.base))
        self.say(f"current -> {self.release}; restarting the services")
        try:
            reason = restart_and_check()
        except BaseException as exc:
            # Ctrl-C mid-check: an unproven release must not stay live.
            self.roll_back(f"interrupted ({exc!r})")
            raise
        if reason is not None:
            return self.roll_back(reason)
        previous_path = self.previous_path
        self.say(f"upgraded to {self.version}" + (f" (from {previous_path.name})" if previous_path else ""))
        remove_old_releases(self.release.parent, {self.release, previous_path}, self.say)
        return UpgradeResult(Outcome.UPGRADED, self.version, self.release, previous_path)

    def roll_back(self, reason: str) -> UpgradeResult:
        self.say(f"{self.version} failed: {reason}; rolling back")
        if self.previous is None:
            # First install: there is nothing to go back to, and nothing to restart into.
            (self.base / "current").unlink()
            fsync_dir(self.base)
            self.say("no previous release: `current` removed, services not restarted")
            return UpgradeResult(Outcome.ROLLED_BACK, self.version, None, None, self.release, reason)
        switch(self.base, self.previous)
        back = self.previous_path
        self.say(f"current -> {back}; restarting the services")
        try:
            self.restart()
        except Exception as exc:
            reason = f"{reason}; restarting the previous release failed too: {exc}"
            log.error("restart after rollback to %s failed: %s", back, exc)
        self.say(f"rolled back to {back}; {self.release} is kept for inspection")
        return UpgradeResult(Outcome.ROLLED_BACK, self.version, back, back, self.release, reason)


def _restart_and_check(release: Path, restart: Callable[[], None], health_check: Callable[[Path], bool],
                       timeout_s: float, poll_s: float, settle_s: float, say: Callable[[str], None]) -> str | None:
    """None when the new release came up healthy in time and stayed so for `settle_s`, else why not."""
    try:
        restart()
    except Exception as exc:
        return f"restart failed: {exc}"
    started = time.monotonic()
    deadline = started + timeout_s
    attempts, last, healthy_since = 0, "returned False", None
    while True:
        attempts += 1
        try:
            passed = bool(health_check(release))
            last = "passed" if passed else "returned False"
        except Exception as exc:
            passed, last = False, f"raised {exc!r}"
        now = time.monotonic()
        if passed:
            if healthy_since is None:
                healthy_since = now
                say(f"health check passed (attempt {attempts})" + (f"; watching it for {settle_s:g} s"
                                                                  if settle_s > 0 else ""))
            if now - healthy_since >= settle_s:
                return None
        elif healthy_since is not None:
            say(f"health check failed again after {now - healthy_since:.0f} s healthy ({last})")
            healthy_since = None
        if now + poll_s > deadline:
            kept = f" and stay healthy for {settle_s:g} s" if settle_s > 0 else ""
            return (f"health check of {release} did not pass{kept} within {timeout_s:g} s "
                    f"({attempts} attempts; the last {last})")
        time.sleep(poll_s)


@contextmanager
def _signals_interrupt() -> Iterator[None]:
    """SIGHUP (the SSH session that ran the upgrade hung up) and SIGTERM interrupt like Ctrl-C: a release
    half built is removed, and an unproven one is rolled back rather than left live."""
    if threading.current_thread() is not threading.main_thread():
        yield                          # handlers can be set from the main thread only
        return

    def interrupt(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"{signal.Signals(signum).name} during the health check")

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGHUP, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _reporter(progress: Callable[[str], None]) -> Callable[[str], None]:
    def say(line: str) -> None:
        log.info("%s", line)
        progress(line)
    return say
