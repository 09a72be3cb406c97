"""Inactivity on the Kivy side: the idle timers, dimming's veil and the touch that only wakes
(logic: kiosk.screens.idle, kiosk.screens.dimmer)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

from kivy.clock import Clock
from kivy.graphics import Color, Rectangle

from drivers.backlight import Backlight
from kiosk.config import UiSettings
from kiosk.screens.dimmer import Brightness, Dimmer


class Switch(Protocol):
    """What IdleWatch runs: kiosk.screens.idle.IdleSwitch or kiosk.screens.dimmer.Dimmer."""

    def activity(self) -> bool: ...

    def allow(self, allowed: bool) -> object: ...

    def due_in(self) -> float | None: ...

    def tick(self) -> bool: ...


_S = TypeVar("_S", bound=Switch)


class Veil:
    """A black layer over everything the manager draws, for terminals without a writable backlight."""

    def __init__(self, widget: Any, awake: float) -> None:
        self._awake = awake
        with widget.canvas.after:
            self._colour = Color(0, 0, 0, 0)
            self._rect = Rectangle(pos=widget.pos, size=widget.size)
        widget.bind(pos=self._follow, size=self._follow)

    @property
    def alpha(self) -> float:
        alpha: float = self._colour.a
        return alpha

    def set(self, share: float) -> None:
        # Awake means no veil at all, whatever backlight share `brightness` asks of a real backlight.
        self._colour.a = 0.0 if share >= self._awake else 1.0 - share

    def _follow(self, widget: Any, _value: object) -> None:
        self._rect.pos, self._rect.size = widget.pos, widget.size


class IdleWatch(Generic[_S]):
    """Runs an idle switch on Kivy's Clock: `allowed()` is asked again when it falls due, and `went_idle()`
    is called when it turns idle."""

    def __init__(self, switch: _S, allowed: Callable[[], bool],
                 went_idle: Callable[[], None] | None = None) -> None:
        self.switch = switch
        self._allowed = allowed
        self._went_idle = went_idle
        self._event: Any = None      # the pending Clock event

    def activity(self) -> bool:
        """A touch, key or new view; True if the switch was idle."""
        was_idle = self.switch.activity()
        self._arm()
        return was_idle

    def update(self) -> None:
        """The screen changed: whether it may go idle now."""
        self.switch.allow(self._allowed())
        self._arm()

    def cancel(self) -> None:
        if self._event is not None:
            self._event.cancel()
            self._event = None

    def _arm(self) -> None:
        # One pending one-shot at a time: a discarded UI leaves no interval ticking behind. The Clock holds
        # a bound method weakly, so a pending check does not keep the UI alive either.
        self.cancel()
        due = self.switch.due_in()
        self._event = Clock.schedule_once(self._check, due) if due is not None else None

    def _check(self, _dt: float) -> None:
        self._event = None
        self.switch.allow(self._allowed())
        if self.switch.tick() and self._went_idle is not None:
            self._went_idle()
        self._arm()


class ScreenDimmer:
    """Dims `manager` (its backlight, else a veil) once `may_dim()` has held for `ui.dim_after_s` untouched."""

    def __init__(self, manager: Any, settings: UiSettings, backlight: Backlight | None,
                 may_dim: Callable[[], bool]) -> None:
        self.veil = Veil(manager, settings.brightness)
        self.dimmer = Dimmer(settings.dim_after_s, settings.brightness, settings.dim_brightness,
                             backlight or self.veil, fallback=self.veil)
        self._watch = IdleWatch(self.dimmer, may_dim)
        # Bound after the staff screens' corner watch, so called before it: a waking touch goes no further.
        manager.bind(on_touch_down=lambda _manager, _touch: self.activity())

    @property
    def dimmed(self) -> bool:
        return self.dimmer.state is Brightness.DIMMED

    def activity(self) -> bool:
        """A touch, key or new view; True if it woke the screen (a touch is then swallowed)."""
        return self._watch.activity()

    def update(self) -> None:
        """The screen changed: whether it may dim now."""
        self._watch.update()

    def quiet_s(self) -> float:
        return self.dimmer.quiet_s()

    def restore(self) -> None:
        self._watch.cancel()
        self.dimmer.restore()
