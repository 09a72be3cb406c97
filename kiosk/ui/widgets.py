"""Reusable widgets. They draw; they decide nothing."""
from __future__ import annotations

from kivy.clock import Clock
from kivy.graphics import Color, Ellipse, Line
from kivy.properties import BooleanProperty, ColorProperty, NumericProperty, ObjectProperty, StringProperty
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.togglebutton import ToggleButton
from kivy.uix.widget import Widget

# Mouth curvature per level: the scale reads without words or colour.
_SMILE = {5: 1.0, 4: 0.5, 3: 0.0, 2: -0.5, 1: -1.0}


class FaceIcon(Widget):
    """A face drawn with Kivy graphics: a big smile at 5 down to a frown at 1."""

    level = NumericProperty(3)
    ink = ColorProperty((1, 1, 1, 1))

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._redraw = Clock.create_trigger(self._draw)  # coalesce pos/size/level changes
        self.bind(pos=self._redraw, size=self._redraw, level=self._redraw, ink=self._redraw)

    def _draw(self, *_args) -> None:
        self.canvas.clear()
        d = min(self.width, self.height)
        if d <= 0:
            return
        cx, cy, r = self.center_x, self.center_y, d / 2
        width = max(1.5, d * 0.045)
        with self.canvas:
            Color(*self.ink)
            Line(circle=(cx, cy, r - width), width=width)
            eye = d * 0.075
            for dx in (-0.32, 0.32):
                Ellipse(pos=(cx + dx * r - eye / 2, cy + 0.22 * r - eye / 2), size=(eye, eye))
            Line(points=_mouth(cx, cy - 0.28 * r, 0.5 * r, _SMILE.get(int(self.level), 0.0) * 0.28 * r),
                 width=width, cap="round", joint="round")


def _mouth(cx: float, cy: float, half_width: float, depth: float, steps: int = 16) -> list[float]:
    """A parabola through the mouth corners; positive depth curves up at the corners (a smile)."""
    points = []
    for i in range(steps + 1):
        t = -1 + 2 * i / steps
        points += [cx + t * half_width, cy + depth * (t * t - 0.5)]
    return points


class LevelButton(ButtonBehavior, BoxLayout):
    """One rating level: face, label and colour; dimmed while a press would not count."""

    level = NumericProperty(3)
    text = StringProperty("")
    background = ColorProperty((0.3, 0.3, 0.3, 1))
    accepting = BooleanProperty(True)


class ReasonToggle(ToggleButton):
    code = StringProperty("")
    controller = ObjectProperty(None, allownone=True)


def dim(rgba, factor: float = 0.45):
    """The same hue, muted: a button that shows it is not taking presses now."""
    r, g, b, a = rgba
    grey = (r + g + b) / 3
    return (grey + (r - grey) * factor, grey + (g - grey) * factor, grey + (b - grey) * factor, a)
