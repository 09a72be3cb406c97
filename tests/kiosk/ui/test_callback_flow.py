"""Call-back with consent by simulated touch in a real offscreen Kivy window, on a real SQLite store."""
from __future__ import annotations

import sqlite3

import pytest

from kiosk.store.callbacks import CallbackQueue
from kiosk.store.tables import EventKind
from tests.kiosk.ui.conftest import pump, pump_until, tap
from tests.kiosk.ui.test_rating_flow import level_button, shown

PHONE = "13812345678"
SHOWN = "138 1234 5678"


def keypad(manager) -> dict:
    return {button.text: button for button in manager.get_screen("callback").ids.keypad.children}


def type_number(manager, digits: str) -> None:
    keys = keypad(manager)
    for digit in digits:
        tap(keys[digit])
    pump()


def every_text(manager) -> str:
    """All text any screen of the terminal could draw now, whether or not it is the current one."""
    return "\n".join(str(getattr(widget, "text", "")) for screen in manager.screens for widget in screen.walk())


def to_callback_screen(app, store):
    manager = app.ui.manager
    tap(level_button(manager, 1))
    pump_until(lambda: shown(manager, "reasons"))
    pump()
    reasons = manager.get_screen("reasons")
    toggles = {toggle.code: toggle for toggle in reasons.ids.reasons.children}
    tap(toggles["attitude"])
    pump()
    assert reasons.ids.callback.text == "留下电话，请回电"
    tap(reasons.ids.callback)
    pump_until(lambda: shown(manager, "callback"))
    pump()
    rating_uuid = store.recent_ratings(1)[0]["uuid"]
    assert store.reasons_for(rating_uuid) == ["attitude"]          # the reasons ticked are kept
    return manager, manager.get_screen("callback"), rating_uuid


def callback_rows(store) -> list[tuple]:
    with sqlite3.connect(store.path) as raw:
        return raw.execute("SELECT rating_uuid, phone, consent_version FROM callback_requests").fetchall()


def test_call_back_is_refused_without_consent_and_nothing_is_stored(terminal):
    app, store = terminal(timings={"thanks_s": 1.0, "cooldown_s": 1.0, "reason_timeout_s": 30.0})
    manager, screen, _uuid = to_callback_screen(app, store)
    type_number(manager, PHONE)
    assert screen.ids.number.text == SHOWN                          # the citizen sees what they type
    assert not screen.ids.consent.ticked
    tap(screen.ids.submit)
    pump()
    assert "勾选" in screen.ids.message.text and screen.form_model.error   # a visible refusal
    assert manager.current == "callback"
    assert callback_rows(store) == [] and CallbackQueue(store).count() == 0
    assert not store.events_of(EventKind.CALLBACK_REQUESTED)


def test_with_consent_the_number_is_stored_linked_to_the_rating_then_never_shown(terminal):
    app, store = terminal(timings={"thanks_s": 1.0, "cooldown_s": 1.0, "reason_timeout_s": 30.0})
    manager, screen, rating_uuid = to_callback_screen(app, store)
    type_number(manager, "1281234567")
    tap(screen.ids.consent)
    pump()
    assert screen.ids.consent.ticked
    tap(screen.ids.submit)                                          # 10 digits, 12x: refused
    pump()
    assert "11" in screen.ids.message.text and callback_rows(store) == []
    tap(keypad(manager)["C"])
    type_number(manager, PHONE)
    tap(screen.ids.submit)
    # Committed before the thanks: the row is on disk when submit returns.
    assert callback_rows(store) == [(rating_uuid, PHONE, app.settings.citizen.callback.consent_version)]
    pump_until(lambda: shown(manager, "thanks"))
    pump()
    assert "回电" in manager.get_screen("thanks").model.subtitle
    for text in (PHONE, SHOWN, "1234 5678"):
        assert text not in every_text(manager)
    assert screen.ids.number.text == "" and not screen.ids.consent.ticked
    pump_until(lambda: shown(manager, "rating"))
    assert PHONE not in every_text(manager)
    assert store.count_ratings() == 1                               # a call-back adds no rating


def test_a_timeout_returns_to_the_rating_screen_without_storing(terminal):
    # Long enough to reach the call-back screen on a loaded machine; the test then waits it out.
    app, store = terminal(timings={"thanks_s": 1.0, "cooldown_s": 0.5, "reason_timeout_s": 3.0})
    manager, screen, _uuid = to_callback_screen(app, store)
    type_number(manager, PHONE)
    tap(screen.ids.consent)
    pump_until(lambda: shown(manager, "rating"), timeout_s=10)
    assert callback_rows(store) == []
    assert PHONE not in every_text(manager) and SHOWN not in every_text(manager)


def test_cancel_thanks_without_storing(terminal):
    app, store = terminal()
    manager, screen, _uuid = to_callback_screen(app, store)
    type_number(manager, "0106")
    tap(screen.ids.cancel)
    pump_until(lambda: shown(manager, "thanks"))
    assert callback_rows(store) == [] and "改进" in manager.get_screen("thanks").model.subtitle


@pytest.mark.parametrize("overrides", [{"citizen": {"callback": {"enabled": False}}}])
def test_no_button_when_the_call_back_is_disabled(terminal, overrides):
    app, _store = terminal(**overrides)
    manager = app.ui.manager
    tap(level_button(manager, 2))
    pump_until(lambda: shown(manager, "reasons"))
    button = manager.get_screen("reasons").ids.callback
    assert button.disabled and button.opacity == 0 and button.text == ""
