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
"""
from __future__ import annotations

import enum
import errno
import fcntl
import hashlib
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT_BASE = Path("/opt/evaluator")
DEFAULT_CONFIG = Path("/etc/evaluator/config.yaml")
SERVICES = ("evaluator-kiosk", "evaluator-sync")
WHEEL_DIGEST_FILE = ".wheel-sha256"   # in each release upgrade() builds: the wheel it was built from
KEEP_FREE_BYTES = 256 * 1024 * 1024   # left free for the ratings once a release is built (~500,000 ratings)

# PEP 440 versions as wheel builders write them (normalized); anything else is refused
# rather than guessed at, because the version becomes a directory name.
_VERSION = re.compile(
    r"(\d+!)?\d+(\.\d+)*((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?(\+[a-z0-9]+(\.[a-z0-9]+)*)?", re.IGNORECASE)
_DIST_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.]*")
_WHEEL_SHAPE = "name-version[-build]-python-abi-platform.whl (PEP 427)"


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


class UpgradeError(Exception):
    """The upgrade was refused or failed before the new release went live; nothing live changed."""


class WheelNameError(UpgradeError):
    """The argument is not a wheel file (or its name is not a wheel's): the caller's input is unusable."""


def wheel_version(wheel: Path) -> str:
    """The version part of a PEP 427 wheel file name, or WheelNameError saying what is wrong."""
    name = wheel.name
    parts = name[:-len(".whl")].split("-") if name.endswith(".whl") else []
    if len(parts) not in (5, 6) or not _DIST_NAME.fullmatch(parts[0]):
        raise WheelNameError(f"{name!r} is not a wheel file name: expected {_WHEEL_SHAPE}")
    if len(parts) == 6 and not parts[2][:1].isdigit():
        raise WheelNameError(f"{name!r}: the build tag {parts[2]!r} must start with a digit ({_WHEEL_SHAPE})")
    if not _VERSION.fullmatch(parts[1]):
        raise WheelNameError(f"{name!r}: {parts[1]!r} is not a PEP 440 version ({_WHEEL_SHAPE})")
    return parts[1]


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
    with _exclusive(base), _signals_interrupt():
        previous = _current_target(base)
        release = base / "releases" / version
        previous_path = _resolve(base, previous)
        if previous_path is not None and previous_path.resolve() == release.resolve():
            say(f"{version} is already the current release ({release}); nothing to do")
            return UpgradeResult(Outcome.ALREADY_CURRENT, version, release, release)
        if not release.exists():
            _check_room(release.parent, previous_path, keep_free_bytes)
        _prepare_release(wheel, release, python, find_links, no_index, say)
        _switch(base, os.path.relpath(release, base))
        say(f"current -> {release}; restarting the services")
        try:
            reason = _restart_and_check(release, restart, health_check, timeout_s, poll_s, settle_s, say)
        except BaseException as exc:
            # Ctrl-C mid-check: an unproven release must not stay live.
            _roll_back(base, version, release, previous, f"interrupted ({exc!r})", restart, say)
            raise
        if reason is None:
            say(f"upgraded to {version}" + (f" (from {previous_path.name})" if previous_path else ""))
            _remove_old_releases(release.parent, {release, previous_path}, say)
            return UpgradeResult(Outcome.UPGRADED, version, release, previous_path)
        return _roll_back(base, version, release, previous, reason, restart, say)


def _check_room(releases: Path, previous: Path | None, keep_free_bytes: int) -> None:
    releases.mkdir(parents=True, exist_ok=True)
    needed = _size(previous) if previous is not None and previous.is_dir() else 0
    free = shutil.disk_usage(releases).free
    if free - needed < keep_free_bytes:
        mib = 1024 * 1024
        raise UpgradeError(f"not enough room in {releases}: {free / mib:.0f} MiB free, the release needs about "
                           f"{needed / mib:.0f} MiB (as big as the current one) and {keep_free_bytes / mib:.0f} MiB "
                           "must stay free for the ratings; free some space (old releases are in "
                           f"{releases}) and run the upgrade again")


def _remove_old_releases(releases: Path, keep: set[Path | None], say: Callable[[str], None]) -> None:
    """Every release but `keep`: a successful upgrade needs only the new one and its rollback target."""
    kept = {path.resolve() for path in keep if path is not None}
    for old in sorted(releases.iterdir()):
        if old.is_dir() and not old.is_symlink() and old.resolve() not in kept:
            size = _size(old)
            shutil.rmtree(old, ignore_errors=True)
            say(f"removed the old release {old} ({size / 1024 / 1024:.0f} MiB)")


def _size(folder: Path) -> int:
    """Bytes the files under `folder` take on disk (symlinks not followed)."""
    total = 0
    for path in folder.rglob("*"):
        try:
            total += path.lstat().st_blocks * 512
        except OSError:
            continue
    return total


def _prepare_release(wheel: Path, release: Path, python: str, find_links: Sequence[Path], no_index: bool,
                     say: Callable[[str], None]) -> None:
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    built_from = release / WHEEL_DIGEST_FILE
    if release.exists() and built_from.is_file() and built_from.read_text().strip() != digest:
        # A release that failed, and a corrected wheel that kept its version: the old build is not it.
        say(f"{release} was built from another wheel of version {release.name}; building it again")
        shutil.rmtree(release)
    if release.exists():
        if not _runnable(release):
            raise UpgradeError(f"{release} exists but has no runnable bin/evaluator (an interrupted install?); "
                               "remove it and run the upgrade again")
        say(f"reusing the release already installed in {release}")
        return
    release.parent.mkdir(parents=True, exist_ok=True)
    say(f"creating the release venv {release}")
    try:
        _run([python, "-m", "venv", str(release)], "creating the venv", timeout_s=300)
        say(f"installing {wheel.name} and its dependencies")
        options = [*(f"--find-links={d}" for d in find_links), *(["--no-index"] if no_index else [])]
        _run([str(release / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check",
              "--no-input", *options, str(wheel)], "pip install", timeout_s=1800)
        if not _runnable(release):
            raise UpgradeError(f"{wheel.name} installed no `evaluator` console script")
        built_from.write_text(digest + "\n")
    except BaseException:
        # Never live and never complete: leaving it would only block the next attempt.
        shutil.rmtree(release, ignore_errors=True)
        raise


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


def _roll_back(base: Path, version: str, release: Path, previous: str | None, reason: str,
               restart: Callable[[], None], say: Callable[[str], None]) -> UpgradeResult:
    say(f"{version} failed: {reason}; rolling back")
    if previous is None:
        # First install: there is nothing to go back to, and nothing to restart into.
        (base / "current").unlink()
        _fsync_dir(base)
        say("no previous release: `current` removed, services not restarted")
        return UpgradeResult(Outcome.ROLLED_BACK, version, None, None, release, reason)
    _switch(base, previous)
    back = _resolve(base, previous)
    say(f"current -> {back}; restarting the services")
    try:
        restart()
    except Exception as exc:
        reason = f"{reason}; restarting the previous release failed too: {exc}"
        log.error("restart after rollback to %s failed: %s", back, exc)
    say(f"rolled back to {back}; {release} is kept for inspection")
    return UpgradeResult(Outcome.ROLLED_BACK, version, back, back, release, reason)


# -- the defaults for restart and health_check ------------------------------------


def restart_services(units: Sequence[str] = SERVICES, timeout_s: float = 180) -> None:
    """`systemctl restart` the terminal's services; raises CalledProcessError when systemd reports a failure.

    With `Type=notify` units this returns only once each service has sent
    READY=1 (kiosk.devices.sdnotify), so a release that cannot start fails here already.
    """
    subprocess.run(["systemctl", "restart", *units], check=True, timeout=timeout_s,
                   capture_output=True, text=True)


SERVICE_USER = "evaluator"


def _user_exists(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def services_steady(units: Sequence[str] = SERVICES, timeout_s: float = 30) -> str | None:
    """None when every unit is active and systemd has not had to restart it since it was last started
    (NRestarts counts the restarts after a crash, and `systemctl restart` sets it back to 0); else what
    is wrong. A release whose screen dies a few seconds after it said READY shows here, not in status."""
    for unit in units:
        try:
            done = subprocess.run(["systemctl", "show", "--property=ActiveState", "--property=NRestarts", unit],
                                  check=True, capture_output=True, text=True, timeout=timeout_s)
        except (OSError, subprocess.SubprocessError) as exc:
            return f"cannot ask systemd about {unit}: {exc}"
        fields = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
        state, restarts = fields.get("ActiveState", "unknown"), fields.get("NRestarts", "0")
        if state != "active":
            return f"{unit} is {state}"
        if restarts != "0":
            return f"{unit} crashed and was restarted {restarts} time(s) since the upgrade restarted it"
    return None


def check_health(release: Path, *, config: Path | None = DEFAULT_CONFIG, timeout_s: float = 30,
                 services: Sequence[str] = ()) -> bool:
    """True when the release's own `evaluator status --json` exits 0 (see kiosk.store.status) and the `services`
    run steadily (services_steady)."""
    command = [str(release / "bin" / "evaluator"), "status", "--json"]
    if config is not None:
        command += ["--config", str(config)]
    if os.geteuid() == 0 and _user_exists(SERVICE_USER):
        # As the service user: a root-run check would create the store's -wal/-shm files
        # owned by root, and the terminal could no longer write its own database.
        command = ["runuser", "-u", SERVICE_USER, "--", *command]
    try:
        done = subprocess.run(command, check=False, capture_output=True, text=True, timeout=timeout_s)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("health check %s: %s", " ".join(command), exc)
        return False
    if done.returncode != 0:
        detail = (done.stderr.strip() or done.stdout.strip()).splitlines()[-1:] or ["no output"]
        log.warning("health check of %s: exit %d: %s", release, done.returncode, detail[0])
        return False
    trouble = services_steady(services, timeout_s) if services else None
    if trouble is not None:
        log.warning("health check of %s: %s", release, trouble)
    return trouble is None


# -- the symlink and the filesystem -------------------------------------------------


def _current_target(base: Path) -> str | None:
    """What `current` points at, as written in the link (so a rollback restores it exactly)."""
    link = base / "current"
    if link.is_symlink():
        return os.readlink(link)
    if link.exists():
        raise UpgradeError(f"{link} is not a symlink; move it into {base / 'releases'} and link it first")
    return None


def _resolve(base: Path, target: str | None) -> Path | None:
    return None if target is None else Path(os.path.normpath(base / target))


def _switch(base: Path, target: str) -> None:
    """Point `current` at target atomically: a new link under a temporary name, renamed over the old one."""
    temporary = base / f".current.{os.getpid()}.tmp"
    temporary.unlink(missing_ok=True)
    os.symlink(target, temporary)
    os.replace(temporary, base / "current")
    _fsync_dir(base)   # the rename must survive a power cut that follows the restart


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _runnable(release: Path) -> bool:
    return os.access(release / "bin" / "evaluator", os.X_OK)


@contextmanager
def _exclusive(base: Path) -> Iterator[None]:
    """One upgrade at a time: a lock on the base directory itself, so no lock file is left behind."""
    fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise UpgradeError(f"another upgrade of {base} is running") from None
            raise
        yield
    finally:
        os.close(fd)


def _run(command: list[str], what: str, timeout_s: float) -> None:
    try:
        done = subprocess.run(command, check=False, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise UpgradeError(f"{what} took more than {timeout_s:g} s: {' '.join(command)}") from None
    if done.returncode != 0:
        tail = "\n".join((done.stderr.strip() or done.stdout.strip()).splitlines()[-12:])
        raise UpgradeError(f"{what} failed (exit {done.returncode}):\n{tail}")
    last = done.stdout.strip().splitlines()[-1:]
    if last:
        log.info("%s: %s", what, last[0])


def _reporter(progress: Callable[[str], None]) -> Callable[[str], None]:
    def say(line: str) -> None:
        log.info("%s", line)
        progress(line)
    return say
