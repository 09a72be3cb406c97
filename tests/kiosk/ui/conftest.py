"""A real Kivy window (offscreen EGL when there is no display), shared by the UI tests.

Kivy allows one window per process, so it is opened once; each test builds
its own screens, service and SQLite store and removes them afterwards.
"""
from __future__ import annotations

import time
from typing import Callable

import pytest

from kiosk.config import Settings
from kiosk.ui.boot import prepare_kivy


@pytest.fixture(scope="session")
def window():
    prepare_kivy(Settings(), offscreen=True)
    from kivy.base import EventLoop

    EventLoop.ensure_window()
    return EventLoop.window


def pump_until(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    """Run Kivy frames until `condition` holds; fail after `timeout_s`."""
    from kivy.base import EventLoop

    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s} s")
        EventLoop.idle()


def pump(frames: int = 3) -> None:
    from kivy.base import EventLoop

    for _ in range(frames):
        EventLoop.idle()


def tap(widget) -> None:
    """A finger down and up on the widget's centre, through Kivy's input pipeline."""
    from kivy.tests.common import UnitTestTouch

    x, y = widget.to_window(*widget.center)
    touch = UnitTestTouch(x, y)
    touch.touch_down()
    touch.touch_up()


FAST = {"timings": {"thanks_s": 1.0, "cooldown_s": 1.0}}  # long enough to see each screen


@pytest.fixture
def terminal(window, make_settings):
    """Build the citizen's screens + service + store for the given settings; tear them down afterwards.
    Modules whose terminal needs more (staff access, a panel, a centre) define their own `terminal`."""
    from kiosk.service import RatingService
    from kiosk.store import Identity, RatingStore
    from kiosk.ui.app import EvaluatorApp, KivyScheduler

    made = []

    def build(**overrides):
        settings = make_settings(**{**FAST, **overrides})
        store = RatingStore(settings.store.path, Identity(settings.device.id, settings.unit.id, settings.counter.id))
        service = RatingService(settings, store, KivyScheduler())
        app = EvaluatorApp(settings, service)
        root = app.build()
        window.add_widget(root)
        service.start()
        pump()
        made.append((app, root, store))
        return app, store

    yield build
    for app, root, store in made:
        app.on_stop()
        window.remove_widget(root)
        store.close()
