"""The Kivy App: the citizen's screens (kiosk.ui.rating_ui) in a window, with the terminal's core running.

Import only after `kiosk.ui.boot.prepare_kivy` has configured Kivy.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from kivy.app import App
from kivy.clock import Clock
from kivy.core.window import Keyboard, Window

from drivers.backlight import Backlight, BacklightError
from kiosk.config import InputMode, Settings
from kiosk.devices import heap
from kiosk.devices.device_watch import DeviceWatcher
from kiosk.devices.input_watch import TouchWatcher
from kiosk.devices.panel_link import PanelLink
from kiosk.devices.sound import open_prompts, sound_outputs
from kiosk.devices.terminal_core import Supervision, TerminalCore
from kiosk.rating.access import AccessControl
from kiosk.rating.service import RatingService
from kiosk.scheduling import Cancellable
from kiosk.screens.presenter import ComplaintLink, ReceiptLink
from kiosk.screens.technician import Technician
from kiosk.ui.audio import load_sound
from kiosk.ui.rating_ui import SCREEN_CLASSES, RatingUi
from kiosk.ui.staff import ScoresSource

__all__ = ["SCREEN_CLASSES", "EvaluatorApp", "KivyScheduler", "RatingUi", "StatusApp", "find_backlight"]

log = logging.getLogger(__name__)

_ESCAPE, _F1 = Keyboard.keycodes["escape"], Keyboard.keycodes["f1"]
TOUCH_CHECK_S = 2.0   # how often the touchscreen's presence is checked
SOUND_CHECK_S = 5.0   # how often a sound output is looked for while the voice prompts are silent
RESTART_QUIET_S = 30.0  # untouched this long on a screen waiting for nobody: a restart bothers no one


class KivyScheduler:
    """The service's timers and the watchdog's pings on Kivy's Clock: callbacks run on the UI thread."""

    def call_later(self, delay_s: float, callback: Callable[[], None]) -> Cancellable:
        # Kivy counts the delay from the last frame, not from now: after a slow
        # frame a 3 s thanks screen would be cut short by that frame's length.
        late_s = max(0.0, Clock.time() - Clock.get_time())
        event: Cancellable = Clock.schedule_once(lambda _dt: callback(), delay_s + late_s)
        return event

    def call_every(self, interval_s: float, callback: Callable[[], None]) -> Cancellable:
        event: Cancellable = Clock.schedule_interval(lambda _dt: callback(), interval_s)
        return event


def find_backlight(settings: Settings) -> Backlight | None:
    """The terminal's backlight, or None to dim with the veil; a configured one that fails is logged, not fatal."""
    try:
        return Backlight.find(settings.ui.backlight)
    except BacklightError as exc:
        log.error("ui.backlight: %s; dimming with the on-screen veil instead", exc)
        return None


class KioskApp(App):  # type: ignore[misc]  # Kivy has no type hints: App is Any to mypy
    """What every window of the terminal shares: its title, and the kiosk rules of the window itself."""

    title = "满意度评价器"
    use_kivy_settings = False

    def __init__(self, settings: Settings, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.settings = settings

    def open_settings(self, *_args: Any) -> bool:
        return False  # F1 must never open Kivy's settings panel on a citizen's screen

    def _on_request_close(self, *_args: Any, **_kwargs: Any) -> bool:
        if self.settings.ui.kiosk:
            log.info("window close request ignored (kiosk)")
            return True
        return False


class EvaluatorApp(KioskApp):
    """The terminal: the citizen's screens, the staff screens behind them, and the core (service, panel link,
    systemd) started and stopped with the window."""

    def __init__(self, settings: Settings, service: RatingService, link: PanelLink | None = None,
                 access: AccessControl | None = None, scores: ScoresSource | None = None,
                 technician: Callable[[Callable[[], None]], Technician] | None = None,
                 complaint_link: ComplaintLink | None = None, receipt_link: ReceiptLink | None = None,
                 sound_outputs: Callable[[], frozenset[str]] = sound_outputs, **kwargs: Any) -> None:
        """`technician`: makes technician mode, given how to restart (this App's stop); `sound_outputs`:
        the sound cards there are (kiosk.devices.sound.sound_outputs)."""
        super().__init__(settings, **kwargs)
        self.service = service
        self.link = link
        self.access = access
        self.scores = scores
        self.make_technician = technician
        self.complaint_link = complaint_link
        self.receipt_link = receipt_link
        self._sound_outputs = sound_outputs
        self.core = TerminalCore(service, link)
        self._touch_watch: Cancellable | None = None
        self._sound_watch: Cancellable | None = None
        self.ui: RatingUi   # made by build(), which Kivy calls before on_start

    def build(self) -> Any:
        make = self.make_technician
        technician = (lambda: make(self.stop)) if make is not None else None
        self.ui = RatingUi(self.settings, self.service, access=self.access, scores=self.scores,
                           technician=technician, complaint_link=self.complaint_link,
                           receipt_link=self.receipt_link,
                           prompts=open_prompts(self.settings.sound, load_sound),
                           backlight=find_backlight(self.settings))
        Window.bind(on_key_down=self._on_key_down, on_request_close=self._on_request_close)
        return self.ui.manager

    def on_start(self) -> None:
        heap.freeze_startup()                # built: later full collections need not walk all this again
        # systemd's watchdog on Kivy's Clock: a frozen UI stops the pings and is restarted.
        self.core.start(KivyScheduler())
        if self.settings.ui.input is InputMode.TOUCHSCREEN:
            # Touch providers never reopen a replugged screen: restart (systemd starts us again) instead.
            watcher = TouchWatcher(self.stop)
            self._touch_watch = Clock.schedule_interval(watcher.check, TOUCH_CHECK_S)
        self._sound_watch = self.watch_sound()

    def watch_sound(self) -> Cancellable | None:
        """Voice prompts silent for want of a sound output come back once one is plugged in: SDL opens its
        device once per process, so the terminal restarts, but only under systemd (which starts it again)
        and when nobody is at the counter. The Clock event of the watch; None when there is nothing to do."""
        prompts = self.ui.prompts
        if prompts is None or not prompts.silent or not self.core.supervision.supervised:
            return None
        outputs = DeviceWatcher("sound output", self._sound_outputs)

        def poll(_dt: float) -> bool | None:
            if outputs.check() and self.ui.quiet_s() >= RESTART_QUIET_S:
                log.warning("restarting so that the voice prompts play on the new sound output")
                self.stop()
                return False
            return None

        watch: Cancellable = Clock.schedule_interval(poll, SOUND_CHECK_S)
        return watch

    def on_stop(self) -> None:
        heap.release()
        self.core.stop()
        for event in (self._touch_watch, self._sound_watch):
            if event is not None:
                event.cancel()
        self.ui.dimming.restore()
        self.ui.attract.cancel()
        if self.ui.prompts is not None:
            self.ui.prompts.stop()
        Window.unbind(on_key_down=self._on_key_down, on_request_close=self._on_request_close)

    def _on_key_down(self, _window: Any, key: int, _scancode: int, codepoint: str | None, _modifiers: Any) -> bool:
        if key in (_ESCAPE, _F1):
            return self.settings.ui.kiosk or key == _F1  # swallowed: nothing leaves the rating screen
        return self.ui.key_down(key, codepoint)


class StatusApp(KioskApp):
    """A screen and nothing else (out of service before the store could be opened); kiosk rules still hold."""

    def __init__(self, settings: Settings, ui: RatingUi, **kwargs: Any) -> None:
        super().__init__(settings, **kwargs)
        self.ui = ui
        self.exit_code = 1
        self._supervision = Supervision()

    def build(self) -> Any:
        Window.bind(on_request_close=self._on_request_close)
        return self.ui.manager

    def on_start(self) -> None:
        self._supervision.ready(KivyScheduler())

    def on_stop(self) -> None:
        self._supervision.stopping()
        Window.unbind(on_request_close=self._on_request_close)
