"""The releases of `evaluator upgrade` on disk: building one, pointing `current` at it, pruning the old ones.

Layout and why it is safe: see evaluator.upgrade. Nothing here decides
whether a release is kept; that is the health check's part.
"""
from __future__ import annotations

import errno
import fcntl
import hashlib
import logging
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

# One logger for the whole upgrade, whichever module speaks: its lines read as one story in the journal.
log = logging.getLogger("evaluator.upgrade")

WHEEL_DIGEST_FILE = ".wheel-sha256"   # in each release upgrade() builds: the wheel it was built from
KEEP_FREE_BYTES = 256 * 1024 * 1024   # left free for the ratings once a release is built (~500,000 ratings)

# PEP 440 versions as wheel builders write them (normalized); anything else is refused
# rather than guessed at, because the version becomes a directory name.
_VERSION = re.compile(
    r"(\d+!)?\d+(\.\d+)*((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?(\+[a-z0-9]+(\.[a-z0-9]+)*)?", re.IGNORECASE)
_DIST_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.]*")
_WHEEL_SHAPE = "name-version[-build]-python-abi-platform.whl (PEP 427)"


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


# -- building and pruning releases ----------------------------------------------------


def check_room(releases: Path, previous: Path | None, keep_free_bytes: int) -> None:
    releases.mkdir(parents=True, exist_ok=True)
    needed = _size(previous) if previous is not None and previous.is_dir() else 0
    free = shutil.disk_usage(releases).free
    if free - needed < keep_free_bytes:
        mib = 1024 * 1024
        raise UpgradeError(f"not enough room in {releases}: {free / mib:.0f} MiB free, the release needs about "
                           f"{needed / mib:.0f} MiB (as big as the current one) and {keep_free_bytes / mib:.0f} MiB "
                           "must stay free for the ratings; free some space (old releases are in "
                           f"{releases}) and run the upgrade again")


def remove_old_releases(releases: Path, keep: set[Path | None], say: Callable[[str], None]) -> None:
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


def prepare_release(wheel: Path, release: Path, python: str, find_links: Sequence[Path], no_index: bool,
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


def _runnable(release: Path) -> bool:
    return os.access(release / "bin" / "evaluator", os.X_OK)


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


# -- the symlink and the filesystem -------------------------------------------------


def current_target(base: Path) -> str | None:
    """What `current` points at, as written in the link (so a rollback restores it exactly)."""
    link = base / "current"
    if link.is_symlink():
        return os.readlink(link)
    if link.exists():
        raise UpgradeError(f"{link} is not a symlink; move it into {base / 'releases'} and link it first")
    return None


def resolve(base: Path, target: str | None) -> Path | None:
    return None if target is None else Path(os.path.normpath(base / target))


def switch(base: Path, target: str) -> None:
    """Point `current` at target atomically: a new link under a temporary name, renamed over the old one."""
    temporary = base / f".current.{os.getpid()}.tmp"
    temporary.unlink(missing_ok=True)
    os.symlink(target, temporary)
    os.replace(temporary, base / "current")
    fsync_dir(base)   # the rename must survive a power cut that follows the restart


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def exclusive(base: Path) -> Iterator[None]:
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
