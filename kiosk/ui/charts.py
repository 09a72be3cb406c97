"""Charts for the staff scores screen, drawn with Kivy graphics. They draw; they decide nothing.

Every figure and text arrives computed (kiosk.screens.scores.ScoresModel). Each chart
redraws once per frame at most (Clock.create_trigger, as FaceIcon does) and
exposes the geometry it drew (`bar_rects`, `fill_rect`, `segments`…) so
tests check what is on screen without reading pixels.

Texts are Label children created once and then only re-texted: a new Label
per refresh would leave a new texture behind on a terminal that runs for
years. Shapes go in `canvas.before`, under the labels, so clearing them never
touches the children's canvases.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kivy.clock import Clock
from kivy.graphics import Color, Ellipse, Line, Rectangle
from kivy.properties import BooleanProperty, ColorProperty, ListProperty, NumericProperty, StringProperty
from kivy.uix.label import Label
from kivy.uix.widget import Widget

Rect = tuple[float, float, float, float]   # x, y, width, height

_TRACK = (0.86, 0.88, 0.91, 1)


class _Chart(Widget):  # type: ignore[misc]  # Kivy ships no type hints: its classes are Any here
    ink = ColorProperty((0.12, 0.14, 0.18, 1))

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._redraw = Clock.create_trigger(self._draw)   # coalesce size, pos and data changes
        self.bind(pos=self._redraw, size=self._redraw, ink=self._redraw)
        self._redraw()

    def _labels(self, count: int) -> list[Label]:
        """Exactly `count` reusable labels; new ones only when the count grows."""
        have = [child for child in reversed(self.children) if isinstance(child, Label)]
        for _ in range(count - len(have)):
            label = Label(size_hint=(None, None), halign="left", valign="middle", shorten=True)
            self.add_widget(label)
            have.append(label)
        for label in have[count:]:
            self.remove_widget(label)
        return have[:count]

    def _place(self, label: Label, text: str, rect: Rect, font_size: float, halign: str = "left") -> None:
        x, y, width, height = rect
        label.text, label.color, label.halign = text, self.ink, halign
        label.font_size = max(1.0, font_size)
        label.pos, label.size, label.text_size = (x, y), (max(0.0, width), height), (max(0.0, width), height)

    def _draw(self, *_args: Any) -> None:
        raise NotImplementedError


class LevelBars(_Chart):
    """One horizontal bar per level, best first from the top; lengths ∝ count, the largest fills the row.

    `entries`: (label, rgba, count) per level, e.g. from ScoresModel.by_level.
    """

    entries = ListProperty([])
    label_share = NumericProperty(0.28)   # of the width, for the level names
    count_share = NumericProperty(0.14)   # of the width, for the counts after the bars

    def __init__(self, **kwargs: Any) -> None:
        self.bar_rects: list[Rect] = []
        super().__init__(**kwargs)
        self.bind(entries=self._redraw, label_share=self._redraw, count_share=self._redraw)

    @staticmethod
    def from_levels(levels: Sequence[Any]) -> list[tuple[str, tuple[float, ...], int]]:
        """ScoresModel.by_level (LevelCount items) → entries."""
        return [(level.label, tuple(level.rgba), level.count) for level in levels]

    def _draw(self, *_args: Any) -> None:
        self.canvas.before.clear()
        entries = list(self.entries)
        labels = self._labels(2 * len(entries))
        self.bar_rects = []
        if not entries or self.width <= 0 or self.height <= 0:
            return
        row_h = self.height / len(entries)
        bar_x = self.x + self.width * self.label_share
        bar_max = self.width * max(0.0, 1 - self.label_share - self.count_share)
        most = max((count for _label, _rgba, count in entries), default=0) or 1
        font = min(row_h * 0.45, self.width * 0.05)
        with self.canvas.before:
            for i, (text, rgba, count) in enumerate(entries):
                y = self.top - (i + 1) * row_h
                rect = (bar_x, y + row_h * 0.15, bar_max * count / most, row_h * 0.7)
                Color(*rgba)
                Rectangle(pos=rect[:2], size=rect[2:])
                self.bar_rects.append(rect)
                self._place(labels[2 * i], text, (self.x, y, bar_x - self.x - 8, row_h), font)
                self._place(labels[2 * i + 1], str(count),
                            (bar_x + rect[2] + 8, y, self.right - bar_x - rect[2] - 8, row_h), font)


class RateGauge(_Chart):
    """A bar from 0 to 100 %, filled to `rate`, with a mark at `target` and the rate as text.

    `rate` None (nothing rated yet) draws the empty track. `meets` picks the
    fill colour; the caller decides it (ScoresModel.meets_target).
    """

    rate = NumericProperty(None, allownone=True)
    target = NumericProperty(0.8)
    text = StringProperty("—")
    target_text = StringProperty("")
    meets = BooleanProperty(None, allownone=True)
    colour = ColorProperty((0.11, 0.50, 0.23, 1))
    below_colour = ColorProperty((0.73, 0.11, 0.11, 1))
    mark_colour = ColorProperty((0.12, 0.14, 0.18, 1))

    def __init__(self, **kwargs: Any) -> None:
        self.track_rect: Rect = (0.0, 0.0, 0.0, 0.0)
        self.fill_rect: Rect = (0.0, 0.0, 0.0, 0.0)
        self.target_x = 0.0
        self.mark_span = (0.0, 0.0)      # bottom and top of the target's mark
        super().__init__(**kwargs)
        self.bind(rate=self._redraw, target=self._redraw, text=self._redraw, target_text=self._redraw,
                  meets=self._redraw, colour=self._redraw, below_colour=self._redraw, mark_colour=self._redraw)

    def _draw(self, *_args: Any) -> None:
        self.canvas.before.clear()
        rate_label, target_label = self._labels(2)
        if self.width <= 0 or self.height <= 0:
            return
        # The rate as big text on the upper half; the track on the lower half, under the target's caption.
        # The mark stops above the caption's band (y to y + 12 %): "Target 80 %" is never crossed by it.
        track_h = self.height * 0.28
        track = (self.x, self.y + self.height * 0.2, self.width, track_h)
        rate = min(1.0, max(0.0, self.rate)) if self.rate is not None else 0.0
        self.track_rect, self.fill_rect = track, (track[0], track[1], track[2] * rate, track_h)
        self.target_x = track[0] + track[2] * min(1.0, max(0.0, self.target))
        self.mark_span = (track[1] - track_h * 0.25, track[1] + track_h * 1.3)
        with self.canvas.before:
            Color(*_TRACK)
            Rectangle(pos=track[:2], size=track[2:])
            Color(*(self.below_colour if self.meets is False else self.colour))
            Rectangle(pos=self.fill_rect[:2], size=self.fill_rect[2:])
            Color(*self.mark_colour)
            Line(points=[self.target_x, self.mark_span[0], self.target_x, self.mark_span[1]],
                 width=max(1.0, track_h * 0.06))
        top = track[1] + track_h * 1.3
        self._place(rate_label, self.text, (self.x, top, self.width, self.top - top), (self.top - top) * 0.7)
        self._place(target_label, self.target_text, (self.x, self.y, self.width, self.height * 0.12),
                    self.height * 0.1, halign="right")


class TrendChart(_Chart):
    """Daily good rates as a line, oldest left; a day without ratings (None) is a gap, not a zero.

    `rates`: one value 0–1 or None per day. The y axis runs from `floor` to 100 %.
    """

    rates = ListProperty([])
    target = NumericProperty(0.8)
    floor = NumericProperty(0.0)
    colour = ColorProperty((0.06, 0.22, 0.42, 1))
    target_colour = ColorProperty((0.73, 0.11, 0.11, 1))
    first_text = StringProperty("")       # e.g. the first day's date, under the left end
    last_text = StringProperty("")
    target_text = StringProperty("")

    def __init__(self, **kwargs: Any) -> None:
        self.segments: list[list[float]] = []   # flat x, y lists: one per run of days with ratings
        self.dots: list[tuple[float, float]] = []
        self.gaps: list[int] = []               # indices of days drawn as gaps
        self.target_y = 0.0
        self.plot_rect: Rect = (0.0, 0.0, 0.0, 0.0)
        super().__init__(**kwargs)
        self.bind(rates=self._redraw, target=self._redraw, floor=self._redraw, colour=self._redraw,
                  target_colour=self._redraw, first_text=self._redraw, last_text=self._redraw,
                  target_text=self._redraw)

    def _draw(self, *_args: Any) -> None:
        self.canvas.before.clear()
        first, last, target = self._labels(3)
        self.segments, self.dots, self.gaps = [], [], []
        if self.width <= 0 or self.height <= 0:
            return
        caption_h = self.height * 0.14
        plot = (self.x, self.y + caption_h, self.width * 0.86, self.height - caption_h * 1.5)
        self.plot_rect = plot
        self.target_y = self._y(self.target, plot)
        rates = list(self.rates)
        step = plot[2] / max(1, len(rates) - 1)
        run: list[float] = []
        for i, rate in enumerate(rates):
            if rate is None:
                self.gaps.append(i)
                self._close(run)
                run = []
                continue
            x = plot[0] + i * step if len(rates) > 1 else plot[0] + plot[2] / 2
            y = self._y(rate, plot)
            run += [x, y]
            self.dots.append((x, y))
        self._close(run)
        self._paint(plot)
        font = caption_h * 0.7
        self._place(first, self.first_text, (plot[0], self.y, plot[2] / 2, caption_h), font)
        self._place(last, self.last_text, (plot[0] + plot[2] / 2, self.y, plot[2] / 2, caption_h), font,
                    halign="right")
        self._place(target, self.target_text, (plot[0] + plot[2] + 6, self.target_y - caption_h / 2,
                                               self.right - plot[0] - plot[2] - 6, caption_h), font)

    def _y(self, rate: float, plot: Rect) -> float:
        floor: float = min(max(0.0, self.floor), 0.99)
        share = (min(1.0, max(floor, rate)) - floor) / (1 - floor)
        return plot[1] + plot[3] * share

    def _close(self, run: list[float]) -> None:
        if len(run) >= 4:   # two days or more: a line; a lone day is only its dot
            self.segments.append(run)

    def _paint(self, plot: Rect) -> None:
        line_w = max(1.0, self.height * 0.012)
        dot = line_w * 4
        with self.canvas.before:
            Color(*_TRACK)
            Rectangle(pos=plot[:2], size=plot[2:])
            Color(*self.target_colour)
            # Kivy dashes only lines of width 1: a thin dashed rule reads as "goal", not as data.
            Line(points=[plot[0], self.target_y, plot[0] + plot[2], self.target_y], width=1, dash_length=6,
                 dash_offset=4)
            Color(*self.colour)
            for points in self.segments:
                Line(points=points, width=line_w, joint="round", cap="round")
            for x, y in self.dots:
                Ellipse(pos=(x - dot / 2, y - dot / 2), size=(dot, dot))
