"""The citizen's screens as one widget tree: the service's views drawn, touches and keys passed to it.

Import only after `kiosk.ui.boot.prepare_kivy` has configured Kivy. The App around it is kiosk.ui.app.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from kivy.clock import Clock
from kivy.core.window import Keyboard
from kivy.uix.screenmanager import NoTransition, ScreenManager

from drivers.backlight import Backlight
from kiosk.config import Locale, Settings
from kiosk.devices import heap
from kiosk.devices.sound import PromptPlayer
from kiosk.rating.access import AccessControl
from kiosk.rating.service import RatingService, State, View
from kiosk.scheduling import Cancellable
from kiosk.screens import hours
from kiosk.screens.idle import IdleSwitch
from kiosk.screens.linger import ComplaintLinger
from kiosk.screens.presenter import ComplaintLink, Presenter, ReceiptLink, ScreenName, waits_for_nobody
from kiosk.screens.technician import Technician
from kiosk.store.tables import Channel
from kiosk.ui import kv, screens
from kiosk.ui.callback import CallbackPanel
from kiosk.ui.dimming import IdleWatch, ScreenDimmer
from kiosk.ui.metrics import physical
from kiosk.ui.staff import ScoresSource, StaffScreens

SCREEN_CLASSES = {
    ScreenName.RATING: screens.RatingScreen,
    ScreenName.WAITING: screens.WaitingScreen,
    ScreenName.ATTRACT: screens.WaitingScreen,   # the same screen, for open mode's idle time (presenter)
    ScreenName.REASONS: screens.ReasonsScreen,
    ScreenName.THANKS: screens.ThanksScreen,
    ScreenName.OUT_OF_SERVICE: screens.OutOfServiceScreen,
}
_KEY_NAMES = {code: name for name, code in Keyboard.keycodes.items()}


class RatingUi:
    """The screen manager and its wiring; usable inside an App or on its own in tests."""

    def __init__(self, settings: Settings, service: RatingService | None, locale: Locale | None = None,
                 access: AccessControl | None = None, scores: ScoresSource | None = None,
                 technician: Callable[[], Technician] | None = None, complaint_link: ComplaintLink | None = None,
                 prompts: PromptPlayer | None = None, backlight: Backlight | None = None,
                 now: Callable[[], datetime] | None = None, receipt_link: ReceiptLink | None = None) -> None:
        """`access` and `scores`: the staff screens behind the hidden corner (none without them);
        `technician`: makes technician mode (behind the technician's password) when first opened;
        `complaint_link`, `receipt_link`: sign the complaint and receipt QR codes of the thanks; `prompts`: the
        voice prompts (none: silent);
        `backlight`: dimmed when idle (None: an on-screen veil); `now`: the unit's wall clock (tests pass
        their own)."""
        self.prompts = prompts
        physical.configure(settings.ui)   # the .kv rules read it
        kv.load(kv.CITIZEN)
        self.settings = settings
        self.service = service
        self.locale = self.default_locale = locale or settings.locale
        self._reset_locale = False
        self.presenter = Presenter(settings, complaint_link, now, receipt_link)
        self.linger = ComplaintLinger(settings)   # the complaint or receipt QR stays up to be scanned
        self._linger_event: Cancellable | None = None
        # No fade: on the software GL of many panel PCs a transition renders two
        # window-sized FBOs, and the thanks screen (the proof that the rating
        # counted) would appear 0.3 s late.
        self.manager = ScreenManager(transition=NoTransition())
        for name, cls in SCREEN_CLASSES.items():
            self.manager.add_widget(cls(name=name.value, controller=self))
        self.callback = CallbackPanel(settings, self.manager, service, lambda: self.locale, self.switch_language)
        self._latest: View | None = None     # the newest view from the service, not drawn yet
        self._shown: View | None = None      # the view on the screen
        self._render_trigger = Clock.create_trigger(self._render_latest)
        self.staff = StaffScreens(settings, self.manager, access, scores, lambda: self.locale, self._back_to_citizen,
                                  technician, service) if access is not None and scores is not None else None
        self.dimming = ScreenDimmer(self.manager, settings.ui, backlight, self._may_dim)
        # Open mode: the attract screen after ui.attract_after_s untouched. Bound after the dimmer's touch
        # handler, so called before it: a touch on the attract screen goes no further (see _touch_down).
        self.attract = IdleWatch(IdleSwitch(settings.ui.attract_after_s), self._may_attract, self._attract_started)
        self.manager.bind(on_touch_down=self._touch_down)
        self._hours_event: Cancellable | None = None
        if service is not None:
            service.add_view_listener(self.view_changed)
            self.show(service.view)

    # -- service → screen (any thread → UI thread) --------------------------

    def view_changed(self, view: View) -> None:
        # Called from the panel thread or timers too: remember the newest view
        # and draw it on the next frame; a burst of changes draws once.
        self._latest = view
        self._render_trigger()

    def _render_latest(self, _dt: float) -> None:
        if self._latest is not None:
            self.dimming.activity()           # a request from the counter wakes the screen before anyone looks
            self.attract.activity()           # and a panel press on the attract screen shows its thanks
            self.show(self._latest)

    def show(self, view: View) -> None:
        view = self.linger.view_to_draw(view)
        self._shown = view
        self.callback.view_shown(view)       # outside the call-back step, no number stays on screen
        if view.state in (State.REASONS, State.CALLBACK, State.THANKS):
            self._reset_locale = True        # this citizen is done: the next one starts in the default
        elif self._reset_locale and view.state in (State.AWAITING, State.IDLE, State.OUT_OF_SERVICE):
            self._reset_locale, self.locale = False, self.default_locale
            Clock.schedule_once(self._between_citizens, 0)    # after this frame: the screen comes first
        if self.prompts is not None:
            self.prompts.show(view, self.locale)   # after the locale reset: the next citizen hears the default
        model = self.presenter.present(view, self.locale, attract=self.attracting)
        screen = self.manager.get_screen(model.screen.value)
        screen.model = model
        if self.manager.current != model.screen.value and not self._staff_in_front():
            self.manager.current = model.screen.value
        self.dimming.update()
        self.attract.update()
        if model.hours is not None:
            self._refresh_hours_at_next_change()
        self._redraw_when_linger_ends()

    def _redraw_when_linger_ends(self) -> None:
        if self._linger_event is not None:
            self._linger_event.cancel()
            self._linger_event = None
        remaining = self.linger.remaining_s()
        if remaining is not None:
            # A bound method, held weakly by the Clock (see _refresh_hours_at_next_change). A little late
            # rather than early: Kivy's clock and time.monotonic() need not agree to the millisecond.
            self._linger_event = Clock.schedule_once(self._linger_over, remaining + 0.05)

    def _linger_over(self, _dt: float) -> None:
        self._back_to_citizen()

    @staticmethod
    def _between_citizens(_dt: float) -> None:
        # What the last citizen's screens left is collected and goes back to the system (see kiosk.devices.heap):
        # a terminal's resident memory stays what it holds, over years of ratings.
        heap.settle()

    def _may_dim(self) -> bool:
        """Only a screen that waits for nobody dims: the waiting screen, or an open-mode rating screen with
        no request (or the attract screen it turned into); never a rating in progress, out of service or the
        staff screens."""
        view = self._shown
        if view is None or self._staff_in_front():
            return False
        return view.state is State.IDLE or waits_for_nobody(view)

    def _may_attract(self) -> bool:
        """Only open mode's rating screen with no request turns into the attract screen."""
        view = self._shown
        return view is not None and not self._staff_in_front() and waits_for_nobody(view)

    def quiet_s(self) -> float:
        """Seconds the screen has waited for nobody, untouched (0 during a rating or on the staff screens):
        how long since anyone was at the counter, as far as the terminal can tell."""
        return self.dimming.quiet_s() if self._may_dim() else 0.0

    def _staff_in_front(self) -> bool:
        return self.staff is not None and self.staff.active

    @property
    def attracting(self) -> bool:
        """The attract screen is what the citizen sees (or would, once the staff screens close)."""
        return self.attract.switch.idle and self._may_attract()

    def attract_now(self) -> None:
        """The attract screen now, as if left untouched for ui.attract_after_s (snapshots, layout checks)."""
        self.attract.switch.go_idle()
        self._redraw()

    def _attract_started(self) -> None:
        # Nobody touched the screen for a while: whoever switched the language has gone.
        self.locale = self.default_locale
        self._redraw()

    def _touch_down(self, _manager: Any, touch: Any) -> bool:
        """Every touch restarts the attract screen's idle time. On the attract screen a touch only brings
        the rating screen back: it is swallowed, so it can press nothing (and wakes a dimmed screen too).
        One on its 中文/English button also switches the language, as the citizen asked."""
        if not self.attracting:
            self.attract.activity()
            return False
        self.dimming.activity()               # the dimmer's own handler will not see this touch
        self.attract.activity()
        if self._on_language_button(self.manager.get_screen(ScreenName.ATTRACT.value), touch):
            self.switch_language()            # redraws: the rating screen, in the other language
        else:
            self._redraw()
        return True

    @staticmethod
    def _on_language_button(screen: Any, touch: Any) -> bool:
        button = next((w.ids["language"] for w in screen.walk(restrict=True) if "language" in w.ids), None)
        return button is not None and button.collide_point(*button.to_widget(*touch.pos))

    def _redraw(self) -> None:
        if self._shown is not None:
            self.show(self._shown)

    def _refresh_hours_at_next_change(self) -> None:
        # "Open now" flips at the opening and closing times: redraw then, not every minute.
        if self._hours_event is not None:
            self._hours_event.cancel()
        now = self.presenter.now()
        change = hours.next_change(self.settings.unit.opening_hours, now)
        if change is not None:
            # A bound method: Kivy's Clock keeps only a weak reference to it, so a pending redraw hours
            # away does not keep a discarded screen tree alive (a lambda would be held strongly).
            self._hours_event = Clock.schedule_once(self._hours_changed, (change - now).total_seconds() + 0.5)

    def _hours_changed(self, _dt: float) -> None:
        self._back_to_citizen()

    def _back_to_citizen(self) -> None:
        if self.service is not None:
            self.show(self.service.view)      # the service's view is the truth; it is read atomically

    def switch_language(self) -> None:
        """中文 ⇄ English for the citizen at the screen; back to the default after their rating."""
        self.locale = Locale.EN if self.locale is Locale.ZH else Locale.ZH
        self.callback.language_changed()
        if self.service is not None:
            self.show(self.service.view)

    def dismiss_thanks(self) -> None:
        """A touch on the thanks screen: a complaint QR code kept up for scanning goes with the service's thanks."""
        self.linger.dismiss()
        self._back_to_citizen()

    # -- screen → service ----------------------------------------------------

    def press(self, level: int, channel: Channel = Channel.TOUCH) -> None:
        if self.service is not None:
            self.service.press(level, channel)

    def toggle_reason(self, code: str) -> None:
        if self.service is not None:
            self.service.toggle_reason(code)

    def submit_reasons(self) -> None:
        if self.service is not None:
            self.service.submit_reasons()

    def skip_reasons(self) -> None:
        if self.service is not None:
            self.service.skip_reasons()

    def open_callback(self) -> None:
        self.callback.open()

    def solicit(self) -> None:
        if self.service is not None:
            self.service.solicit(source="screen")

    def key_down(self, key: int, codepoint: str | None) -> bool:
        """A typed key (USB-HID panels type digits); True when it was ours."""
        self.dimming.activity()               # keys count as activity but are never swallowed: they may rate
        if self.attract.activity():
            self._redraw()                    # the rating screen again; a rating key's thanks follows
        name = _KEY_NAMES.get(key, codepoint or "")
        keyboard = self.settings.keyboard
        if name in keyboard.levels:
            self.press(keyboard.levels[name], Channel.KEYBOARD)
            return True
        if keyboard.solicit is not None and name == keyboard.solicit:
            self.solicit()
            return True
        return False
