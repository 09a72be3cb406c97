"""Physical sizes on the screen: how many pixels make a millimetre, and so a finger-sized touch target.

Layouts share the window out by proportion, which keeps them legible from a
7" 800×480 panel to a 21.5" portrait one; but a button has to be big enough
for a finger whatever the screen (15 mm is the usual accessibility minimum).
The .kv rules take `physical.touch` as a floor for every touch target, `physical.qr` as the size a QR code
aims for and `physical.text` as a floor for small print such as a QR code's caption.

The pixel density comes from the configured screen diagonal: panel PCs often
report no DPI or a wrong one (SDL's kmsdrm and offscreen drivers say 96).
"""
from __future__ import annotations

import math
from typing import Any

from kivy.event import EventDispatcher
from kivy.properties import NumericProperty

from kiosk.config import UiSettings

MM_PER_INCH = 25.4
# Without a configured diagonal, millimetres come from the DPI the display reports (often a flat 96, well
# under a 7" panel's real 133): a text size in millimetres alone could then come out unreadably small.
TEXT_FLOOR_PX = 14


def px_per_mm(size_px: tuple[int, int], diagonal_in: float | None, reported_dpi: float) -> float:
    """Pixels per millimetre of a screen `size_px` big; `diagonal_in` None = trust `reported_dpi`."""
    if diagonal_in is None:
        return reported_dpi / MM_PER_INCH
    return math.hypot(*size_px) / (diagonal_in * MM_PER_INCH)


class Physical(EventDispatcher):  # type: ignore[misc]  # Kivy ships no type hints: its classes are Any here
    """Follows the window: `mm` is one millimetre in pixels, `touch` the smallest touch target, `qr` the side a
    QR code should have for a phone to scan it, `text` the smallest font size a citizen must read."""

    mm = NumericProperty(96 / MM_PER_INCH)
    touch = NumericProperty(15 * 96 / MM_PER_INCH)
    qr = NumericProperty(25 * 96 / MM_PER_INCH)
    text = NumericProperty(TEXT_FLOOR_PX)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._ui: UiSettings | None = None
        self._window: Any = None     # Kivy's Window, once configured

    def configure(self, ui: UiSettings) -> None:
        """Called with the terminal's settings before its screens are built, and again if they change."""
        from kivy.core.window import Window

        self._ui = ui
        if self._window is not Window:
            Window.bind(size=lambda *_: self._update())
            self._window = Window
        self._update()

    def _update(self) -> None:
        ui = self._ui
        assert ui is not None         # configure() sets it before it binds the window to this
        # The window's own dpi, which is what Metrics.dpi reports, but not Metrics.dpi itself: in Kivy 2.3, a
        # Metrics.dpi read before anything has read Metrics.dp caches dp as -1 for good, and every dp() in
        # the .kv rules turns negative (the staff table and technician rows drew with negative heights).
        self.mm = px_per_mm(tuple(self._window.size), ui.diagonal_in, self._window.dpi)
        self.touch = ui.touch_target_mm * self.mm
        self.qr = ui.qr_mm * self.mm
        self.text = max(ui.text_min_mm * self.mm, TEXT_FLOOR_PX)


physical = Physical()
