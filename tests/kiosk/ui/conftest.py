"""A real Kivy window (offscreen EGL when there is no display), shared by the UI tests.

Kivy allows one window per process, so it is opened once; each test builds
its own screens, service and SQLite store and removes them afterwards.
"""
from __future__ import annotations

import time
from collections.abc import Callable

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
    tap_at(*widget.to_window(*widget.center))


def tap_at(x: float, y: float) -> None:
    """A finger down and up at window coordinates, through Kivy's input pipeline."""
    from kivy.tests.common import UnitTestTouch

    touch = UnitTestTouch(x, y)
    touch.touch_down()
    touch.touch_up()


def read_qr_codes(widget) -> list[str]:
    """What a phone reads off `widget` as the window draws it: its pixels read back from the GPU and decoded
    by zbar (a real decoder, not a re-encoding). Skips or fails as tests.testdeps says when zbar is missing.

    A phone sees each screen pixel over a few of its camera's, at whatever distance it is held: the pixels
    go to zbar as drawn, then magnified 2 and 3 times (each pixel into a square of identical ones) until it
    reads something. zbar's sampler wants about 3 pixels per module, which a code drawn at 2.2 screen pixels
    per module does not give it at 1:1; at some sizes it reads 1:1 and not the magnified copy.
    """
    from tests.testdeps import qr_decoder

    decode = qr_decoder()
    drawn = widget.export_as_image().texture        # exactly the pixels the window draws for the widget
    drawn.mag_filter = "nearest"                    # magnify by repeating pixels, never by blending them
    for magnify in (1, 2, 3):
        found = [symbol.data.decode("utf-8") for symbol in decode(_luminance(drawn, magnify))
                 if symbol.type == "QRCODE"]
        if found:
            return found
    return []


def _luminance(drawn, magnify: int) -> tuple[bytes, int, int]:
    from kivy.graphics import ClearBuffers, ClearColor, Color, Fbo, Rectangle

    width, height = drawn.width * magnify, drawn.height * magnify
    fbo = Fbo(size=(width, height))
    with fbo:
        ClearColor(1, 1, 1, 1)
        ClearBuffers()
        Color(1, 1, 1, 1)
        Rectangle(texture=drawn, size=(width, height))
    fbo.draw()
    # RGBA, top row first (export_as_image flipped the widget once, the read-back flips it back); the codes are
    # black on white, so the green channel alone is their luminance.
    green = fbo.pixels[1::4]
    assert len(green) == width * height
    return green, width, height


FAST = {"timings": {"thanks_s": 1.0, "cooldown_s": 1.0}}  # long enough to see each screen


def store_for(settings, device_id: str | None = None):
    """A real SQLite store at the settings' path, as the terminal's identity sees it."""
    from kiosk.store import Identity, RatingStore

    return RatingStore(settings.store.path,
                       Identity(device_id or settings.device.id, settings.unit.id, settings.counter.id))


class Mounted:
    """Terminals built in the shared window by one test; all removed, and their stores closed, at its end."""

    def __init__(self, window):
        self._window = window
        self._made: list = []

    def mount(self, settings, store, **app_options):
        """Service + screens on `store`, started and drawn; `app_options` go to EvaluatorApp."""
        from kiosk.rating.service import RatingService
        from kiosk.ui.app import EvaluatorApp, KivyScheduler

        service = RatingService(settings, store, KivyScheduler())
        app = EvaluatorApp(settings, service, **app_options)
        root = app.build()
        self._window.add_widget(root)
        service.start()
        pump()
        self._made.append((app, root, store))
        return app

    def close(self) -> None:
        for app, root, store in self._made:
            app.on_stop()
            self._window.remove_widget(root)
            store.close()


@pytest.fixture
def mounted(window):
    terminals = Mounted(window)
    yield terminals
    terminals.close()


@pytest.fixture
def terminal(mounted, make_settings):
    """Build the citizen's screens + service + store for the given settings; tear them down afterwards.
    Modules whose terminal needs more (staff access, a panel, a centre) define their own `terminal`."""
    def build(**overrides):
        settings = make_settings(**{**FAST, **overrides})
        store = store_for(settings)
        return mounted.mount(settings, store), store

    return build
