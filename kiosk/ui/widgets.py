"""Reusable widgets. They draw; they decide nothing."""
from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, ClassVar

from kivy.clock import Clock
from kivy.core.image import Image as CoreImage
from kivy.graphics import Color, Ellipse, Line, Rectangle
from kivy.properties import (
    BooleanProperty,
    ColorProperty,
    ListProperty,
    NumericProperty,
    ObjectProperty,
    StringProperty,
)
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.label import Label
from kivy.uix.togglebutton import ToggleButton
from kivy.uix.widget import Widget

from kiosk.screens.linebreak import break_lines, unbreakable

log = logging.getLogger(__name__)


def one_line_font(text: str, width: float, height: float, share: float = 0.4) -> float:
    """A font size at which `text` fits on one line of a `width` button: `share` of its height at most. A CJK
    character is about as wide as the font is high, a Latin letter (or space) at most 0.6 of it."""
    ems = sum(1.0 if ord(ch) >= 0x2E80 else 0.6 for ch in text)
    return min(height * share, width * 0.9 / max(1.0, ems))


def language_corner(window: Sequence[float], touch: float) -> tuple[float, float, float]:
    """Width, height and margin of the 中文/English button in the bottom right corner of every screen that has
    it: finger-sized on any screen, from the window's shorter side (a portrait window is narrow)."""
    width, height = window
    short = min(width, height)
    return (max(min(short * 0.3, width * 0.2), 96.0, touch * 1.6), max(short * 0.1, touch), short * 0.015)


class FitLabel(Label):  # type: ignore[misc]  # Kivy ships no type hints: its classes are Any here
    """Text that fits its box in any language and on any screen: wrapped to the box's width, at
    `max_font_size` or, when that overflows, the largest size that does not.

    The rules give each label a size proportional to its box; English runs longer than Chinese and a
    portrait screen is narrow, so a fixed proportion clips somewhere. Sizes are measured without drawing
    (no textures made), and only when the text or the box changes.

    The lines are cut here, not by Kivy (which breaks Chinese between any two characters): by
    `kiosk.screens.linebreak`, so no line starts with "，" and "7 天" stays whole, whatever the text's source
    (the catalog or config.yaml). `text` stays the text as given; `laid_out` is what is drawn, its lines joined
    by "\n". Each of them fits the box's width, so Kivy's own wrapping (on, for halign) cuts none of them. The
    height is left free: Kivy, given "\n"s and a height with valign "middle", drops a line that fits; the
    block is drawn in the middle of the box, as valign "middle" would.
    """

    max_font_size = NumericProperty(20)
    min_font_size = NumericProperty(8)
    # Labels that must read as one set (the five levels) share the smallest of their fitted sizes: `cap`.
    fitted_font_size = NumericProperty(20)
    cap = NumericProperty(float("inf"))
    laid_out = StringProperty("")

    def __init__(self, **kwargs: Any) -> None:
        self._fit_trigger = Clock.create_trigger(self._fit, -1)
        self._laid_out_from = ""        # the `text` that `laid_out` was cut from
        super().__init__(**kwargs)
        self.bind(size=self._fit_trigger, text=self._fit_trigger, max_font_size=self._fit_trigger,
                  min_font_size=self._fit_trigger, cap=self._fit_trigger, font_name=self._fit_trigger,
                  bold=self._fit_trigger, padding=self._fit_trigger)
        self.text_size = (self.width, None)
        self._fit_trigger()

    def _fit(self, *_args: object) -> None:
        self.text_size = (self.width, None)
        size = max(self.max_font_size, self.min_font_size)
        if self.text and self.width > 1 and self.height > 1:
            for _ in range(12):
                if size <= self.min_font_size or self._fits(size):
                    break
                size = max(self.min_font_size, size * 0.9)
        self.fitted_font_size = size
        self.font_size = min(size, self.cap)
        self._laid_out_from = self.text
        self.laid_out = "\n".join(self._lines_at(self.font_size)) if self.text else ""
        self._trigger_texture()

    def texture_update(self, *largs: object) -> None:
        # Kivy hands `text` to its core label on every change; draw our lines instead, once they are cut from it.
        if self.text and self._laid_out_from == self.text:
            self._label.text = self.laid_out
        super().texture_update(*largs)

    def _core(self, font_size: float, text: str = "") -> Any:
        from kivy.core.text import Label as CoreLabel

        return CoreLabel(text=text, text_size=(self.width, None), font_size=font_size, font_name=self.font_name,
                         bold=self.bold, italic=self.italic, halign=self.halign, padding=self.padding,
                         line_height=self.line_height)

    def _line_width(self) -> float:
        left, _top, right, _bottom = self.padding
        return float(self.width - left - right)

    def _lines_at(self, font_size: float) -> list[str]:
        measure = self._core(font_size)
        return break_lines(self.text, self._line_width(), lambda text: float(measure.get_extents(text)[0]))

    def _fits(self, font_size: float) -> bool:
        measure = self._core(font_size, "\n".join(self._lines_at(font_size)))
        _width, height = measure.render()
        if height > self.height:
            return False
        # A word (or a number with its unit) wider than the box would be cut mid-word: count that as not
        # fitting. Chinese breaks between most two characters, so a run of it is never one piece.
        return all(measure.get_extents(piece)[0] <= self._line_width() for piece in unbreakable(self.text))


class HoursTable(BoxLayout):  # type: ignore[misc]  # Kivy ships no type hints: its classes are Any here
    """The opening hours in two columns: the days, then their sessions one under the other, every session
    starting at the same x, right of the widest days. One font for the whole table, as large as its box allows:
    every line fits its height, and the widest days and session fit its width. Rows are `HoursRow`s (waiting.kv).
    """

    rows = ListProperty([])            # (days, sessions) pairs, from `kiosk.screens.hours`

    def __init__(self, **kwargs: Any) -> None:
        self._layout = Clock.create_trigger(self._lay_out, -1)
        super().__init__(orientation="vertical", **kwargs)
        self.bind(rows=self._rebuild, size=self._layout)

    def _rebuild(self, *_args: object) -> None:
        self.clear_widgets()
        for days, sessions in self.rows:
            self.add_widget(HoursRow(days=days, sessions="\n".join(sessions), size_hint_y=None))
        self.add_widget(Widget())      # the room the rows leave, under them
        self._layout()

    def _lay_out(self, *_args: object) -> None:
        from kivy.core.text import Label as CoreLabel

        if self.width <= 1 or self.height <= 1:
            return
        lines = max(1, sum(len(sessions) for _days, sessions in self.rows))
        gap = self.width * 0.05
        # A line is about 1.2 font sizes high, a row's 1.35 with air: the rows fill the box at most.
        font = measured_at = min(self.height * 0.72 / lines, self.width * 0.07)
        measure = CoreLabel(font_size=measured_at)
        days = max((measure.get_extents(days)[0] for days, _sessions in self.rows), default=0)
        sessions = max((measure.get_extents(session)[0] for _days, shown in self.rows for session in shown),
                       default=0)
        if days + sessions > 0:
            font *= min(1.0, (self.width - gap) * 0.97 / (days + sessions))
        for row in (child for child in self.children if isinstance(child, HoursRow)):
            # The widest days, now at `font`: every row's sessions start at the same x.
            row.line_font, row.day_width, row.spacing = font, days * font / measured_at + 2, gap
            row.height = (row.sessions.count("\n") + 1) * font * 1.35       # its lines, and air under them


class HoursRow(BoxLayout):  # type: ignore[misc]  # Kivy ships no type hints: its classes are Any here
    """One row of the `HoursTable`: drawn by its rule in waiting.kv."""

    days = StringProperty("")
    sessions = StringProperty("")      # one per line
    line_font = NumericProperty(15)    # the table's, set by it
    day_width = NumericProperty(0)


# Mouth curvature per level: the scale reads without words or colour.
_SMILE = {5: 1.0, 4: 0.5, 3: 0.0, 2: -0.5, 1: -1.0}


class FaceIcon(Widget):  # type: ignore[misc]  # Kivy ships no type hints: its classes are Any here
    """A face drawn with Kivy graphics: a big smile at 5 down to a frown at 1."""

    level = NumericProperty(3)
    ink = ColorProperty((1, 1, 1, 1))

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._redraw = Clock.create_trigger(self._draw)  # coalesce pos/size/level changes
        self.bind(pos=self._redraw, size=self._redraw, level=self._redraw, ink=self._redraw)

    def _draw(self, *_args: object) -> None:
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
    points: list[float] = []
    for i in range(steps + 1):
        t = -1 + 2 * i / steps
        points += [cx + t * half_width, cy + depth * (t * t - 0.5)]
    return points


class LevelButton(ButtonBehavior, BoxLayout):  # type: ignore[misc]  # Kivy ships no type hints: its classes are Any here
    """One rating level: face, label and colour; dimmed while a press would not count."""

    level = NumericProperty(3)
    text = StringProperty("")
    background = ColorProperty((0.3, 0.3, 0.3, 1))
    accepting = BooleanProperty(True)


class ReasonToggle(ToggleButton):  # type: ignore[misc]  # Kivy ships no type hints: its classes are Any here
    code = StringProperty("")
    controller = ObjectProperty(None, allownone=True)


def dim(rgba: Sequence[float], factor: float = 0.45) -> tuple[float, float, float, float]:
    """The same hue, muted: a button that shows it is not taking presses now."""
    r, g, b, a = rgba
    grey = (r + g + b) / 3
    return (grey + (r - grey) * factor, grey + (g - grey) * factor, grey + (b - grey) * factor, a)


class StaffPhoto(Widget):  # type: ignore[misc]  # Kivy ships no type hints: its classes are Any here
    """The signed-in staff member's photo, or a neutral silhouette when there is none (or it cannot be read)."""

    source = StringProperty("")
    # Files Kivy could not decode: tried (and logged) once per run, not per sign-in.
    _unreadable: ClassVar[set[str]] = set()

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.texture: Any = None         # the photo drawn, for tests; None while the silhouette shows
        self._redraw = Clock.create_trigger(self._draw)
        self.bind(pos=self._redraw, size=self._redraw, source=self._load)

    def _load(self, *_args: object) -> None:
        self.texture = None
        if self.source and self.source not in self._unreadable:
            try:
                # Kivy caches it by file name: a few staff photos, loaded once each for the app's life.
                self.texture = CoreImage(self.source).texture
            except Exception:  # a corrupt or unreadable file: the silhouette, never a crash at the counter
                self._unreadable.add(self.source)
                log.warning("staff photo %s cannot be read; showing the silhouette", self.source)
        self._redraw()

    def _draw(self, *_args: object) -> None:
        self.canvas.clear()
        if self.width <= 0 or self.height <= 0:
            return
        with self.canvas:
            if self.texture is not None:
                tw, th = self.texture.size
                scale = min(self.width / tw, self.height / th)
                w, h = tw * scale, th * scale
                Color(1, 1, 1, 1)
                Rectangle(texture=self.texture, pos=(self.center_x - w / 2, self.center_y - h / 2), size=(w, h))
                return
            d = min(self.width, self.height)
            cx, cy = self.center_x, self.center_y
            Color(0.80, 0.83, 0.87, 1)
            Ellipse(pos=(cx - d * 0.2, cy + d * 0.02), size=(d * 0.4, d * 0.4))             # head
            Ellipse(pos=(cx - d * 0.38, cy - d * 0.5), size=(d * 0.76, d * 0.6),              # shoulders
                    angle_start=-90, angle_end=90)
