"""The call-back screen's controller: taps into the form (kiosk.screens.callback_form), the result into the service.

The form holds the digits only while the step is open: whenever the service
leaves the call-back state (stored, cancelled, timed out, out of service),
`view_shown` resets it and redraws, so the number leaves the screen and memory.
"""
from __future__ import annotations

import logging
from collections.abc import Callable

from kivy.uix.screenmanager import ScreenManager

from kiosk.config import Locale, Settings
from kiosk.rating.service import CallbackOutcome, RatingService, State, View
from kiosk.screens.callback_form import CallbackForm, Message
from kiosk.screens.presenter import ScreenName
from kiosk.ui import screens

log = logging.getLogger(__name__)


class CallbackPanel:
    def __init__(self, settings: Settings, manager: ScreenManager, service: RatingService | None,
                 locale: Callable[[], Locale], switch_language: Callable[[], None]) -> None:
        """`locale`: the citizen's language now; `switch_language`: the screens' 中文/English (kiosk.ui.app)."""
        self._settings = settings.citizen.callback
        self._service = service
        self._locale = locale
        self.switch_language = switch_language    # the screen's language button
        self.form = CallbackForm(self._settings)
        self.screen = screens.CallbackScreen(name=ScreenName.CALLBACK.value, controller=self)
        manager.add_widget(self.screen)
        self._redraw()

    def open(self) -> None:
        """The reasons screen's call-back button."""
        self.form.reset()
        self._redraw()
        if self._service is not None:
            self._service.open_callback()

    def key(self, key: str) -> None:
        self.form.key(key)
        self._touched()

    def toggle_consent(self) -> None:
        self.form.toggle_consent()
        self._touched()

    def submit(self) -> None:
        phone = self.form.submit()
        if phone is None or self._service is None:      # no consent or not a number: refused, nothing stored
            self._touched()
            return
        outcome = self._service.submit_callback(phone, self.form.consented, self._settings.consent_version)
        if outcome is CallbackOutcome.INVALID:
            self.form.message = Message.NOT_A_PHONE
            self._touched()
            return
        log.info("call-back request: %s", outcome.value)   # the outcome only, never the number
        self.form.reset()
        self._redraw()

    def cancel(self) -> None:
        self.form.reset()
        self._redraw()
        if self._service is not None:
            self._service.cancel_callback()

    def language_changed(self) -> None:
        """The citizen switched language: the form in the new one; on this screen, a touch like any other
        (the service ignores the activity outside the call-back step)."""
        self._touched()

    def view_shown(self, view: View) -> None:
        """Every view the citizen's screens draw: outside the call-back step the form is blank."""
        if view.state is not State.CALLBACK and not self.form.blank:
            self.form.reset()
            self._redraw()

    def _touched(self) -> None:
        self._redraw()
        if self._service is not None:
            self._service.callback_activity()

    def _redraw(self) -> None:
        self.screen.form_model = self.form.model(self._locale())
