"""Dimming on the Kivy side: the veil, the timer, and the touch that only wakes (logic: kiosk.dimmer)."""
from __future__ import annotations

from typing import Callable

from kivy.clock import Clock
from kivy.graphics import Color, Rectangle

from drivers.backlight import Backlight
from kiosk.config import UiSettings
from kiosk.dimmer import Brightness, Dimmer


class Veil:
    """A black layer over everything the manager draws, for terminals without a writable backlight."""

    def __init__(self, widget, awake: float):
        self._awake = awake
        with widget.canvas.after:
            self._colour = Color(0, 0, 0, 0)
            self._rect = Rectangle(pos=widget.pos, size=widget.size)
        widget.bind(pos=self._follow, size=self._follow)

    @property
    def alpha(self) -> float:
        return self._colour.a

    def set(self, share: float) -> None:
        # Awake means no veil at all, whatever backlight share `brightness` asks of a real backlight.
        self._colour.a = 0.0 if share >= self._awake else 1.0 - share

    def _follow(self, widget, _value) -> None:
        self._rect.pos, self._rect.size = widget.pos, widget.size


class ScreenDimmer:
    """Dims `manager` (its backlight, else a veil) once `may_dim()` has held for `ui.dim_after_s` untouched."""

    def __init__(self, manager, settings: UiSettings, backlight: Backlight | None, may_dim: Callable[[], bool]):
        self.veil = Veil(manager, settings.brightness)
        self.dimmer = Dimmer(settings.dim_after_s, settings.brightness, settings.dim_brightness,
                             backlight or self.veil, fallback=self.veil)
        self._may_dim = may_dim
        self._event = None
        # Bound after the staff screens' corner watch, so called before it: a waking touch goes no further.
        manager.bind(on_touch_down=lambda _manager, _touch: self.activity())

    @property
    def dimmed(self) -> bool:
        return self.dimmer.state is Brightness.DIMMED

    def activity(self) -> bool:
        """A touch, key or new view; True if it woke the screen (a touch is then swallowed)."""
        woke = self.dimmer.activity()
        self._arm()
        return woke

    def update(self) -> None:
        """The screen changed: whether it may dim now."""
        self.dimmer.allow(self._may_dim())
        self._arm()

    def restore(self) -> None:
        if self._event is not None:
            self._event.cancel()
        self.dimmer.restore()

    def _arm(self) -> None:
        # One pending one-shot at a time: a discarded UI leaves no interval ticking behind.
        if self._event is not None:
            self._event.cancel()
        due = self.dimmer.due_in()
        self._event = Clock.schedule_once(self._check, due) if due is not None else None

    def _check(self, _dt: float) -> None:
        self._event = None
        self.dimmer.allow(self._may_dim())
        self.dimmer.tick()
        self._arm()
