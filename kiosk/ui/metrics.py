"""Physical sizes on the screen: how many pixels make a millimetre, and so a finger-sized touch target.

Layouts share the window out by proportion, which keeps them legible from a
7" 800×480 panel to a 21.5" portrait one; but a button has to be big enough
for a finger whatever the screen (15 mm is the usual accessibility minimum).
The .kv rules take `physical.touch` as a floor for every touch target.

The pixel density comes from the configured screen diagonal: panel PCs often
report no DPI or a wrong one (SDL's kmsdrm and offscreen drivers say 96).
"""
from __future__ import annotations

import math

from kivy.event import EventDispatcher
from kivy.properties import NumericProperty

MM_PER_INCH = 25.4


def px_per_mm(size_px: tuple[int, int], diagonal_in: float | None, reported_dpi: float) -> float:
    """Pixels per millimetre of a screen `size_px` big; `diagonal_in` None = trust `reported_dpi`."""
    if diagonal_in is None:
        return reported_dpi / MM_PER_INCH
    return math.hypot(*size_px) / (diagonal_in * MM_PER_INCH)


class Physical(EventDispatcher):
    """Follows the window: `mm` is one millimetre in pixels, `touch` the smallest touch target."""

    mm = NumericProperty(96 / MM_PER_INCH)
    touch = NumericProperty(15 * 96 / MM_PER_INCH)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._diagonal_in: float | None = None
        self._touch_mm = 15.0
        self._window = None

    def configure(self, diagonal_in: float | None, touch_mm: float) -> None:
        """Called with the terminal's settings before its screens are built, and again if they change."""
        from kivy.core.window import Window

        self._diagonal_in, self._touch_mm = diagonal_in, touch_mm
        if self._window is not Window:
            Window.bind(size=lambda *_: self._update())
            self._window = Window
        self._update()

    def _update(self) -> None:
        from kivy.metrics import Metrics

        self.mm = px_per_mm(tuple(self._window.size), self._diagonal_in, Metrics.dpi)
        self.touch = self._touch_mm * self.mm


physical = Physical()
