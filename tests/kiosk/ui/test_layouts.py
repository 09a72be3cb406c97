"""Every citizen screen at the sizes terminals have: nothing clipped, overlapping or outside the window, and
every touch target at least 15 mm on a screen of that size.

Checked from widget geometry in a real offscreen window resized to each size.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.config import Locale
from kiosk.screens.demo import BAD_THANKS, RECEIPT_THANKS, demo_receipt_link, demo_settings, show_demo, snapshot_screen
from kiosk.screens.presenter import ScreenName
from tests.kiosk.ui.conftest import pump

SIZES = [(800, 480), (1280, 800), (1080, 1920), (1920, 1080)]
CITIZEN_SCREENS = [ScreenName.RATING, ScreenName.WAITING, ScreenName.ATTRACT, ScreenName.REASONS, ScreenName.CALLBACK,
                   ScreenName.THANKS, ScreenName.OUT_OF_SERVICE]


def refused_number(ui) -> None:
    """The call-back form refusing a number: consent ticked, the longest number typed, the longest error."""
    ui.callback.toggle_consent()
    for key in "512345678901":
        ui.callback.key(key)
    ui.callback.submit()
    assert ui.callback.screen.form_model.error


# Each screen as the demo shows it, and the states that look different: the thanks after a bad review with
# its complaint QR code, and with the receipt's, the call-back form with an error under it.
CITIZEN_STATES = [(name.value, name, None) for name in CITIZEN_SCREENS] + [
    (BAD_THANKS, BAD_THANKS, None), (RECEIPT_THANKS, RECEIPT_THANKS, None),
    ("callback_error", ScreenName.CALLBACK, refused_number)]


def natural_size(label) -> tuple[float, float]:
    """The size the label's text needs. A label boxed in by `text_size: self.size` draws a texture of
    exactly that size and silently cuts what overflows: measure it again with no height limit."""
    from kivy.core.text import Label as CoreLabel

    from kiosk.screens.linebreak import unbreakable

    width, height = label.text_size
    if width is None or height is None or label.shorten or label.max_lines:
        return tuple(label.texture_size)      # sized to the text, or cut on purpose with an ellipsis
    free = CoreLabel(text=label.text, font_size=label.font_size, font_name=label.font_name, bold=label.bold,
                     italic=label.italic, halign=label.halign, text_size=(width, None), padding=label.padding,
                     line_height=label.line_height)
    _width, needed_h = free.render()            # measured, not drawn
    widest_word = max((free.get_extents(piece)[0] for piece in unbreakable(label.text)), default=0)
    return max(min(_width, width), widest_word), needed_h


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
            text_w, text_h = natural_size(widget)
            if text_w > widget.width + 2 or text_h > widget.height + 2:
                found.append(f"{type(widget).__name__} {widget.text[:10]!r} clipped: text needs "
                             f"{text_w:.0f}x{text_h:.0f} in {widget.width:.0f}x{widget.height:.0f}")
    return found


def visible(widget, screen) -> bool:
    """Drawn: neither the widget nor any of its parents up to the screen is transparent."""
    while widget is not None and widget is not screen:
        if widget.opacity == 0:
            return False
        widget = widget.parent
    return True


def overlapping(screen) -> list[str]:
    """Pairs of visible things (text, buttons, QR codes, faces, photos) that cover each other, other than a
    widget and what it contains."""
    from kivy.uix.behaviors import ButtonBehavior
    from kivy.uix.label import Label

    from kiosk.ui.qr import QrCode
    from kiosk.ui.widgets import FaceIcon, StaffPhoto

    def shown(widget) -> bool:
        return visible(widget, screen)

    def box(widget) -> tuple[float, float, float, float]:
        x, y = widget.to_window(widget.x, widget.y)
        return x, y, x + widget.width, y + widget.height

    def ancestors(widget) -> set[int]:
        found = set()
        while widget is not None and widget is not screen:
            found.add(id(widget))
            widget = widget.parent
        return found

    things = [w for w in screen.walk() if shown(w) and w.width > 0 and w.height > 0 and (
        isinstance(w, (ButtonBehavior, QrCode, FaceIcon, StaffPhoto)) or (isinstance(w, Label) and w.text))]
    found = []
    for i, a in enumerate(things):
        ax0, ay0, ax1, ay1 = box(a)
        for b in things[i + 1:]:
            if id(a) in ancestors(b) or id(b) in ancestors(a):
                continue
            bx0, by0, bx1, by1 = box(b)
            if min(ax1, bx1) - max(ax0, bx0) > 1 and min(ay1, by1) - max(ay0, by0) > 1:
                found.append(f"{type(a).__name__} {getattr(a, 'text', '')[:8]!r} overlaps "
                             f"{type(b).__name__} {getattr(b, 'text', '')[:8]!r}")
    return found


def each_citizen_screen(window, settings, size, locale, states=CITIZEN_STATES):
    """Yield (name, screen) for every citizen screen state drawn in a window of `size`, in `locale`."""
    from kiosk.ui.app import RatingUi

    original = window.size
    window.size = size
    pump(3)
    ui = RatingUi(settings, service=None, locale=locale, receipt_link=demo_receipt_link)
    window.add_widget(ui.manager)
    try:
        for name, demo, prepare in states:
            show_demo(ui, demo, settings)
            if prepare is not None:
                prepare(ui)
            pump(4)
            assert tuple(window.size) == size and ui.manager.current == snapshot_screen(demo).value
            yield name, ui.manager.current_screen
    finally:
        window.remove_widget(ui.manager)
        window.size = original
        pump(3)


@pytest.mark.parametrize("locale", list(Locale), ids=lambda locale: locale.value)
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_citizen_screens_fit_every_size(window, make_settings, size, locale):
    settings = demo_settings(make_settings())
    found = {name: issues for name, screen in each_citizen_screen(window, settings, size, locale)
             if (issues := problems(screen, size) + overlapping(screen))}
    assert found == {}


# Terminals of each size, as sold: a 7" 800×480 panel, a 10.1" 1280×800 one, a 21.5" kiosk either way up.
DIAGONAL_IN = {(800, 480): 7.0, (1280, 800): 10.1, (1080, 1920): 21.5, (1920, 1080): 21.5}


def small_targets(screen, touch_px: float) -> list[str]:
    """Every visible thing a finger can press that is narrower or lower than `touch_px`."""
    from kivy.uix.behaviors import ButtonBehavior

    return [f"{type(w).__name__} {getattr(w, 'text', '')[:8]!r} {w.width:.0f}x{w.height:.0f} px"
            for w in screen.walk() if isinstance(w, ButtonBehavior) and visible(w, screen)
            and (w.width < touch_px - 0.5 or w.height < touch_px - 0.5)]


@pytest.mark.parametrize("locale", list(Locale), ids=lambda locale: locale.value)
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_touch_targets_are_at_least_15_mm(window, make_settings, size, locale):
    from kiosk.ui.metrics import physical
    from kiosk.ui.screens import KeypadButton

    settings = demo_settings(make_settings(ui={"diagonal_in": DIAGONAL_IN[size]}))
    found = {}
    keys_checked = 0
    for name, screen in each_citizen_screen(window, settings, size, locale):
        touch_px = physical.touch
        assert touch_px == pytest.approx(15 * (size[0] ** 2 + size[1] ** 2) ** 0.5 / (DIAGONAL_IN[size] * 25.4))
        if small := small_targets(screen, touch_px) + problems(screen, size):
            found[name] = small
        keys_checked += sum(isinstance(w, KeypadButton) and visible(w, screen) for w in screen.walk())
    assert found == {}
    assert keys_checked == 2 * 12          # the call-back keypad's keys were among the targets, in both its states


def drawn_side(qr) -> float:
    """The side of the QR code as drawn (the widget centres a square in its box)."""
    return min(qr.width, qr.height)


@pytest.mark.parametrize("locale", list(Locale), ids=lambda locale: locale.value)
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_qr_codes_are_big_enough_to_scan_and_their_captions_to_read(window, make_settings, size, locale):
    from kiosk.ui.metrics import physical
    from kiosk.ui.qr import QrCode

    settings = demo_settings(make_settings(ui={"diagonal_in": DIAGONAL_IN[size]}))
    with_qr = [(ScreenName.WAITING.value, ScreenName.WAITING, None), (BAD_THANKS, BAD_THANKS, None),
               (RECEIPT_THANKS, RECEIPT_THANKS, None)]
    for name, screen in each_citizen_screen(window, settings, size, locale, with_qr):
        codes = [w for w in screen.walk() if isinstance(w, QrCode) and visible(w, screen)]
        assert len(codes) == 1 and codes[0].matrix, name
        mm = drawn_side(codes[0]) / physical.mm
        assert mm >= settings.ui.qr_mm - 0.1, f"{name}: QR code {mm:.1f} mm"
        caption = screen.ids.qr_caption
        assert caption.text and caption.font_size >= physical.text - 0.01, f"{name}: caption {caption.font_size} px"
        assert physical.text >= settings.ui.text_min_mm * physical.mm - 0.01


def test_keypad_keys_are_styled_with_the_citizen_screens_and_follow_the_screen(window, make_settings):
    """The call-back keypad's rule loads with the citizen's screens, not with the staff's (opened later, if ever):
    keys drawn before any staff screen has been opened are not Kivy's default 15 px grey buttons."""
    from kivy.lang import Builder

    from kiosk.ui import kv
    from kiosk.ui.screens import KeypadButton

    kv.load(kv.CITIZEN)
    ours = [Path(rule.ctx.filename) for rule in Builder.match(KeypadButton())]
    ours = {path.name for path in ours if path.parent == kv.KV_DIR}      # not Kivy's own style.kv
    assert ours and ours <= set(kv.CITIZEN)

    settings = demo_settings(make_settings())
    sizes = {}
    states = [(ScreenName.CALLBACK.value, ScreenName.CALLBACK, None)]
    for size in ((800, 480), (1280, 800)):
        for _name, screen in each_citizen_screen(window, settings, size, settings.locale, states):
            keys = list(screen.ids.keypad.children)
            assert len(keys) == 12 and all(tuple(key.background_color) == (1, 1, 1, 1) for key in keys)
            sizes[size] = {key.font_size for key in keys}
    small, large = sizes[(800, 480)], sizes[(1280, 800)]
    assert len(small) == len(large) == 1
    assert 15 < small.pop() < large.pop()    # bigger than Kivy's default, and bigger on a bigger screen
