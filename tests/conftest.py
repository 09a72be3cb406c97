"""Shared fixtures: real SQLite files in tmp_path, settings built like config.yaml."""
from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

# Kivy reads these at import; tests that draw import it after this file.
os.environ.setdefault("KIVY_NO_ARGS", "1")
os.environ.setdefault("KIVY_NO_CONFIG", "1")
os.environ.setdefault("KIVY_NO_FILELOG", "1")
os.environ.setdefault("KIVY_LOG_MODE", "PYTHON")
os.environ.setdefault("KIVY_HOME", tempfile.mkdtemp(prefix="evaluator-test-kivy-"))
# Voice prompts play into SDL's dummy device: tests exercise playback and never make a sound. Tests of
# the audio itself choose their driver in a subprocess.
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

from kiosk.config import Settings
from kiosk.store import Identity, RatingStore

REPO = Path(__file__).resolve().parent.parent


def merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        merged[key] = merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) \
            else value
    return merged


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    """Settings as config.yaml would give them, with the store in tmp_path and overrides merged in."""

    def make(**overrides: Any) -> Settings:
        raw = merge({"store": {"path": str(tmp_path / "evaluator.db")}}, overrides)
        return Settings.model_validate(raw)

    return make


@pytest.fixture
def settings(make_settings) -> Settings:
    return make_settings()


@pytest.fixture
def store(settings: Settings):
    identity = Identity(settings.device.id, settings.unit.id, settings.counter.id)
    opened = RatingStore(settings.store.path, identity)
    yield opened
    opened.close()


# A real filesystem other than tmp_path's and the root's; where the store's disk is the SD card, this is the stick.
SEPARATE_DISK = Path("/dev/shm")


@pytest.fixture
def usb_stick(tmp_path: Path):
    """A folder on a mounted filesystem apart from the store's (tmp_path) and the root: it stands in for a
    mounted USB stick, which a test cannot mount. /dev/shm is a real tmpfs mount on Linux; skips without one."""
    own = {tmp_path.stat().st_dev, Path("/").stat().st_dev}
    if not os.path.ismount(SEPARATE_DISK) or SEPARATE_DISK.stat().st_dev in own:
        pytest.skip(f"{SEPARATE_DISK} is not a filesystem of its own here")
    folder = Path(tempfile.mkdtemp(dir=SEPARATE_DISK, prefix="evaluator-usb-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


# -- Debian's Chromium, driven by Playwright (tests/console, tests/public) -----------------------------------

CHROMIUM = Path("/usr/bin/chromium")      # never a browser Playwright downloads
# The flags a headless Chromium needs here: no sandbox as root, and no calls home on a closed network.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture(scope="session")
def browser() -> Any:
    """One Chromium per test process, shared by the console's and the citizen pages' tests: Playwright's sync
    API runs one instance per process, so two suites' own browsers in one xdist worker would fail to start.
    Each test makes its own contexts (cookies) from it."""
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (`make test` installs it through deploy/testdeps.sh)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
