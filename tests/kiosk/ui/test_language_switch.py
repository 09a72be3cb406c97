"""中文/English on the reasons and call-back screens, by simulated touch: the citizen who gave a bad review can
read why and the consent in either language; the next citizen starts in the default."""
from __future__ import annotations

from kiosk.config import Locale
from tests.kiosk.ui.conftest import pump, pump_until, tap
from tests.kiosk.ui.test_callback_flow import type_number
from tests.kiosk.ui.test_rating_flow import level_button, shown

SLOW_STEPS = {"timings": {"thanks_s": 1.0, "cooldown_s": 0.5, "reason_timeout_s": 30.0}}


def to_reasons(app):
    manager = app.ui.manager
    tap(level_button(manager, 1))
    pump_until(lambda: shown(manager, "reasons"))
    pump()
    return manager, manager.get_screen("reasons")


def switch(screen) -> None:
    tap(screen.ids.language)
    pump()


def test_reasons_and_call_back_switch_language_and_the_next_citizen_starts_in_the_default(terminal):
    app, store = terminal(**SLOW_STEPS)
    manager, reasons = to_reasons(app)
    assert reasons.ids.language.text == "English"
    switch(reasons)
    assert app.ui.locale is Locale.EN and reasons.model.title == "We are sorry about your experience"
    assert {toggle.text for toggle in reasons.ids.reasons.children} >= {"Too slow", "Long wait"}
    assert reasons.ids.callback.text == "Request a call-back" and reasons.ids.language.text == "中文"

    tap(reasons.ids.callback)
    pump_until(lambda: shown(manager, "callback"))
    pump()
    callback = manager.get_screen("callback")
    assert callback.ids.consent.text.startswith("I agree to leave my phone number")
    type_number(manager, "138")
    switch(callback)                                       # back to Chinese, with what was typed kept
    assert app.ui.locale is Locale.ZH and callback.ids.consent.text.startswith("我同意留下电话号码")
    assert callback.ids.number.text == "138" and callback.ids.language.text == "English"
    switch(callback)
    assert callback.ids.cancel.text == "No, thanks"

    tap(callback.ids.cancel)
    pump_until(lambda: shown(manager, "thanks"))
    assert manager.get_screen("thanks").model.title == "Thank you for your rating!"
    pump_until(lambda: shown(manager, "rating"))
    pump()
    assert app.ui.locale is Locale.ZH and level_button(manager, 5).text == "非常满意"
    assert store.count_ratings() == 1                      # switching language rated nothing


def test_a_request_after_a_switch_on_the_reasons_screen_is_in_the_default_language(terminal):
    app, _store = terminal(mode="solicited", **SLOW_STEPS)
    app.ui.solicit()
    manager = app.ui.manager
    pump_until(lambda: shown(manager, "rating"))
    pump()
    manager, reasons = to_reasons(app)
    switch(reasons)
    assert app.ui.locale is Locale.EN
    app.service.solicit(case_no="2026A-0043")              # the staff's next service, the reasons unanswered
    pump_until(lambda: shown(manager, "rating"))
    pump()
    assert app.ui.locale is Locale.ZH and level_button(manager, 5).text == "非常满意"
