"""The way behind the citizen's screens: corner hold → sign-in → staff scores, and back when idle.

It adds its screens to the citizen's ScreenManager and watches its touches;
the form and the figures come from kiosk.screens.sign_in and kiosk.screens.scores, so nothing
here decides who may enter or computes a number.
"""
from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from functools import cached_property
from typing import Any, TypeVar

from kivy.clock import Clock
from kivy.uix.screenmanager import ScreenManager

from kiosk.config import Corner, Locale, Settings
from kiosk.rating.access import AccessControl, Outcome, Role
from kiosk.rating.service import RatingService
from kiosk.screens.scores import ScoresModel
from kiosk.screens.sign_in import SignInForm, counter_label, say
from kiosk.screens.technician import ProvisionField, Technician
from kiosk.screens.technician import say as say_technician
from kiosk.ui import kv, screens

log = logging.getLogger(__name__)

ScoresSource = Callable[[str | None, Locale], ScoresModel]   # (signed-in staff id, locale) → the figures
_Screen = TypeVar("_Screen")


class StaffMode(str, enum.Enum):
    OFF = "off"              # the citizen's screens
    SIGN_IN = "sign_in"
    SCORES = "scores"
    TECHNICIAN = "technician"
    PROVISION = "provision"


class StaffScreens:
    def __init__(self, settings: Settings, manager: ScreenManager, access: AccessControl, scores: ScoresSource,
                 locale: Callable[[], Locale], leave: Callable[[], None],
                 technician: Callable[[], Technician] | None = None, service: RatingService | None = None) -> None:
        """`leave`: show the citizen's current screen again; `technician`: makes what technician mode does;
        `service`: where a staff member signed in by PIN takes (or leaves) the counter (None: no such button).

        The staff screens and technician mode are built when first opened, not at start: the citizen's
        first frame must not wait for screens that most days nobody opens."""
        self._settings = settings.access
        self._manager = manager
        self._scores = scores
        self._locale = locale
        self._leave = leave
        self.form = SignInForm(settings, access)
        self._make_technician = technician
        self._technician: Technician | None = None
        self._service = service
        self._signed_in: str | None = None               # the staff member whose scores are open
        self.mode = StaffMode.OFF
        self._hold: tuple[Any, Any] | None = None        # (touch, Clock event) of a corner press
        self._idle = Clock.create_trigger(lambda _dt: self.leave_staff_mode(), self._settings.idle_s)
        manager.bind(on_touch_down=self._touch_down, on_touch_up=self._touch_up)

    @property
    def technician(self) -> Technician | None:
        if self._technician is None and self._make_technician is not None:
            self._technician = self._make_technician()
        return self._technician

    @property
    def _tech(self) -> Technician:
        """What technician mode's buttons act on: they show only after a technician signed in, so there is one."""
        technician = self.technician
        assert technician is not None
        return technician

    @cached_property
    def sign_in_screen(self) -> screens.SignInScreen:
        return self._add(screens.SignInScreen, StaffMode.SIGN_IN)

    @cached_property
    def scores_screen(self) -> screens.ScoresScreen:
        return self._add(screens.ScoresScreen, StaffMode.SCORES)

    @cached_property
    def technician_screen(self) -> screens.TechnicianScreen:
        return self._add(screens.TechnicianScreen, StaffMode.TECHNICIAN)

    @cached_property
    def provision_screen(self) -> screens.ProvisionScreen:
        return self._add(screens.ProvisionScreen, StaffMode.PROVISION)

    def _add(self, cls: Callable[..., _Screen], mode: StaffMode) -> _Screen:
        kv.load(kv.STAFF)                 # their rules apply as the screen is made
        screen = cls(name=mode.value, controller=self)
        self._manager.add_widget(screen)
        return screen

    @property
    def active(self) -> bool:
        return self.mode is not StaffMode.OFF

    # -- the hidden corner -------------------------------------------------------------

    def _touch_down(self, _manager: Any, touch: Any) -> bool:
        if self.active:
            self._restart_idle()                  # any touch keeps staff screens open
        elif self._in_corner(touch.pos):
            self._cancel_hold()
            self._hold = (touch, Clock.schedule_once(lambda _dt: self._held(touch), self._settings.hold_s))
        return False                              # the touch still reaches the screen below

    def _touch_up(self, _manager: Any, touch: Any) -> bool:
        if self._hold is not None and self._hold[0] is touch:
            self._cancel_hold()
        return False

    def _held(self, touch: Any) -> None:
        self._hold = None
        if not self.active and self._in_corner(touch.pos):    # a finger that slid away opens nothing
            self.open_sign_in()

    def _cancel_hold(self) -> None:
        if self._hold is not None:
            self._hold[1].cancel()
            self._hold = None

    def _in_corner(self, pos: tuple[float, float]) -> bool:
        manager = self._manager
        side = self._settings.corner_size * min(manager.width, manager.height)
        x, y = pos[0] - manager.x, pos[1] - manager.y
        left: bool = x <= side
        right: bool = x >= manager.width - side
        bottom: bool = y <= side
        top: bool = y >= manager.height - side
        return {Corner.TOP_LEFT: top and left, Corner.TOP_RIGHT: top and right,
                Corner.BOTTOM_LEFT: bottom and left, Corner.BOTTOM_RIGHT: bottom and right}[self._settings.corner]

    # -- sign-in ---------------------------------------------------------------------

    def open_sign_in(self) -> None:
        self.form.reset()
        self._enter(StaffMode.SIGN_IN)
        self._redraw_form()

    def sign_in_choose(self, key: str) -> None:
        self.form.choose(key)
        self._redraw_form()

    def sign_in_key(self, key: str) -> None:
        if key == "C":
            self.form.secret = ""
        elif key == "←":
            self.form.backspace()
        else:
            self.form.type_digit(key)
        self._redraw_form()

    def sign_in_submit(self) -> None:
        attempt = self.form.submit()
        self._redraw_form()
        # A granted attempt always names its role.
        if attempt is not None and attempt.outcome is Outcome.GRANTED and attempt.role is not None:
            log.info("%s signed in on the screen", attempt.user_id or attempt.role.value)
            if attempt.role is Role.TECHNICIAN and self.technician is not None:
                self.technician.opened()
                self.open_technician()
            else:
                self.open_scores(attempt.user_id)

    def _redraw_form(self) -> None:
        self.sign_in_screen.form_model = self.form.model(self._locale())

    # -- scores and leaving ------------------------------------------------------------

    def open_scores(self, staff_id: str | None) -> None:
        self._signed_in = staff_id
        self.scores_screen.back_label = say("back", self._locale())
        self.scores_screen.counter_label = counter_label(staff_id, self._service.view.staff_id, self._locale()) \
            if self._service is not None else ""
        self.scores_screen.model = self._scores(staff_id, self._locale())
        self._enter(StaffMode.SCORES)

    def toggle_counter(self) -> None:
        """The scores screen's 在此窗口服务 / 结束在此窗口服务: the same sign-in the counter PC's `I`/`O` lines make,
        recorded with source "screen"; then the citizen's screen, where the staff card shows the change."""
        staff_id = self._signed_in
        if self._service is None or staff_id is None:
            return
        if self._service.view.staff_id == staff_id:
            self._service.sign_out(source="screen")
        else:
            self._service.sign_in(staff_id, source="screen")
        log.info("%s %s the counter on the screen", staff_id,
                 "took" if self._service.view.staff_id == staff_id else "left")
        self.leave_staff_mode()

    # -- technician mode -----------------------------------------------------------------

    def open_technician(self, message: str = "") -> None:
        self.technician_screen.message = message
        self.technician_screen.model = self._tech.model(self._locale())
        self._enter(StaffMode.TECHNICIAN)

    def technician_check(self) -> None:
        self._working(self.technician_screen, "checking")
        self._tech.check_storage(self._locale(), _on_ui(self._technician_message))

    def technician_export(self) -> None:
        self._working(self.technician_screen, "exporting")
        self._tech.export(self._locale(), _on_ui(self._technician_message))

    def technician_test_key(self, key: int) -> None:
        self.open_technician(self._tech.test_key(key, self._locale()))

    def technician_reconnect(self) -> None:
        self.open_technician(self._tech.reconnect_panel(self._locale()))

    def technician_test_connection(self) -> None:
        self._working(self.technician_screen)
        self._tech.test_connection(self._locale(), _on_ui(self._technician_message))

    def technician_sync_now(self) -> None:
        self._working(self.technician_screen)
        progress = _on_ui(lambda text: setattr(self.technician_screen, "message", text))
        self._tech.sync_now(self._locale(), progress, _on_ui(self._technician_message))

    def _technician_message(self, message: str) -> None:
        if self.mode is StaffMode.TECHNICIAN:        # the technician may have left meanwhile
            self.open_technician(message)

    def _working(self, screen: Any, text_key: str = "working") -> None:
        screen.message = say_technician(text_key, self._locale())

    def technician_restart(self) -> None:
        """First tap: the button asks 确认重启 for a few seconds, then goes back; second: restart."""
        self.open_technician(self._tech.restart(self._locale()))
        self._restart_unasked_later()

    def _restart_unasked_later(self) -> None:
        left = self._tech.restart_tap.remaining_s
        if left > 0:    # checked again then: the Clock's time may lag the tap's (monotonic) a little
            Clock.schedule_once(lambda _dt: self._restart_unasked(), left + 0.05)

    def _restart_unasked(self) -> None:
        if self.mode is not StaffMode.TECHNICIAN:
            return
        if self._tech.restart_tap.armed:
            self._restart_unasked_later()
            return
        shown = self.technician_screen.message
        self.open_technician("" if shown == self._tech.restart_ask(self._locale()) else shown)

    # -- enrollment on the screen --------------------------------------------------------

    def open_provision(self) -> None:
        self.provision_screen.message = ""
        self._redraw_provision()
        self._enter(StaffMode.PROVISION)

    def provision_focus(self, field: str) -> None:
        self._tech.provision_form.focus = ProvisionField(field)
        self._redraw_provision()

    def provision_key(self, key: str) -> None:
        form = self._tech.provision_form
        form.backspace() if key == "←" else form.type(key)
        self._redraw_provision()

    def provision_submit(self) -> None:
        self._working(self.provision_screen)
        self._tech.provision(self._locale(), _on_ui(self._provision_message))

    def _provision_message(self, message: str) -> None:
        self.provision_screen.message = message

    def _redraw_provision(self) -> None:
        self.provision_screen.show(self._tech.provision_form, self._tech.labels(self._locale()))

    def leave_staff_mode(self) -> None:
        """The 返回 buttons; also the idle timeout."""
        self._idle.cancel()
        self.form.reset()
        self._signed_in = None
        self.mode = StaffMode.OFF
        self._leave()

    def _enter(self, mode: StaffMode) -> None:
        self.mode = mode
        getattr(self, f"{mode.value}_screen")      # made on first use
        self._manager.current = mode.value
        self._restart_idle()

    def _restart_idle(self) -> None:
        self._idle.cancel()                        # a trigger already armed would keep its old deadline
        self._idle()


def _on_ui(callback: Callable[[str], None]) -> Callable[[str], None]:
    """A callback safe to call from a worker thread: it runs on the UI thread's next frame."""
    return lambda message: Clock.schedule_once(lambda _dt: callback(message), 0)
