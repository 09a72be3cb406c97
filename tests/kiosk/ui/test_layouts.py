"""Every citizen screen at the sizes terminals have: nothing clipped, nothing outside the window.

Checked from widget geometry in a real offscreen window resized to each size.
"""
from __future__ import annotations

import pytest

from kiosk.demo import demo_settings, demo_view
from kiosk.presenter import ScreenName
from tests.kiosk.ui.conftest import pump

SIZES = [(800, 480), (1280, 800), (1080, 1920)]
CITIZEN_SCREENS = [ScreenName.RATING, ScreenName.WAITING, ScreenName.REASONS, ScreenName.CALLBACK, ScreenName.THANKS,
                   ScreenName.OUT_OF_SERVICE]


def problems(screen, size) -> list[str]:
    from kivy.uix.label import Label

    width, height = size
    found = []
    for widget in screen.walk():
        if widget.opacity == 0 or widget is screen:
            continue
        x, y = widget.to_window(widget.x, widget.y)
        if x < -1 or y < -1 or x + widget.width > width + 1 or y + widget.height > height + 1:
            found.append(f"{type(widget).__name__} outside the window: {(x, y, widget.width, widget.height)}")
        if isinstance(widget, Label) and widget.text:
            text_w, text_h = widget.texture_size
            if text_w > widget.width + 2 or text_h > widget.height + 2:
                found.append(f"{type(widget).__name__} {widget.text[:10]!r} clipped: text {widget.texture_size} "
                             f"in {widget.size}")
    return found


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_citizen_screens_fit_every_size(window, make_settings, size):
    from kiosk.ui.app import RatingUi

    settings = demo_settings(make_settings())
    original = window.size
    window.size = size
    pump(3)
    ui = RatingUi(settings, service=None)
    window.add_widget(ui.manager)
    try:
        found = {}
        for screen in CITIZEN_SCREENS:
            ui.show(demo_view(screen, settings))
            pump(4)
            assert tuple(window.size) == size
            if issues := problems(ui.manager.current_screen, size):
                found[screen.value] = issues
        assert found == {}
    finally:
        window.remove_widget(ui.manager)
        window.size = original
        pump(3)
