"""The citizen's flow driven by simulated touch in a real offscreen Kivy window."""
from __future__ import annotations

import kiosk.ui.app
from kiosk.config import Locale
from kiosk.rating.service import State
from kiosk.store.tables import Channel, EventKind
from tests.kiosk.ui.conftest import pump, pump_until, tap


def shown(manager, name: str) -> bool:
    """The screen is current and its fade is over (a ScreenManager ignores touches mid-transition)."""
    return manager.current == name and not manager.transition.is_active


def level_button(manager, level: int):
    row = manager.get_screen("rating").ids.levels
    return next(button for button in row.children if button.level == level)


def test_press_is_stored_then_thanks_then_back_to_rating(terminal):
    app, store = terminal()
    manager = app.ui.manager
    assert manager.current == "rating"

    tap(level_button(manager, 4))
    rows = store.recent_ratings(5)
    assert [(row["level"], row["channel"]) for row in rows] == [(4, "touch")]
    pump_until(lambda: shown(manager, "thanks"))
    thanks = manager.get_screen("thanks")
    assert thanks.model.rated_level.level == 4 and "满意" in thanks.model.rated_caption

    tap(level_button(manager, 1))                        # a second press while thanking does not count
    assert store.count_ratings() == 1
    pump_until(lambda: shown(manager, "rating"))
    pump_until(lambda: manager.get_screen("rating").model.accepting)
    tap(level_button(manager, 5))
    assert store.count_ratings() == 2


def test_bad_review_by_touch_asks_for_reasons(terminal):
    app, store = terminal()
    manager = app.ui.manager
    tap(level_button(manager, 1))
    assert store.recent_ratings(1)[0]["level"] == 1      # committed at the press
    pump_until(lambda: shown(manager, "reasons"))
    screen = manager.get_screen("reasons")
    pump()
    toggles = {toggle.code: toggle for toggle in screen.ids.reasons.children}
    tap(toggles["wait"])
    tap(toggles["unclear"])
    pump()
    assert toggles["wait"].state == "down"
    tap(screen.ids.submit)
    assert store.reasons_for(store.recent_ratings(1)[0]["uuid"]) == ["unclear", "wait"]
    pump_until(lambda: shown(manager, "thanks"))
    assert "改进" in manager.get_screen("thanks").model.subtitle


def test_solicited_mode_waits_for_the_staff_key(terminal):
    app, store = terminal(mode="solicited")
    manager = app.ui.manager
    assert manager.current == "waiting"
    tap(manager.get_screen("waiting").ids.solicit)
    pump_until(lambda: shown(manager, "rating"))
    tap(level_button(manager, 5))
    assert store.recent_ratings(1)[0]["mode"] == "solicited"


def test_keyboard_keys_are_rating_keys(terminal, window):
    from kivy.core.window import Keyboard

    app, store = terminal()
    window.dispatch("on_key_down", Keyboard.keycodes["2"], 0, "2", [])
    assert [(row["level"], row["channel"]) for row in store.recent_ratings(1)] == [(4, "keyboard")]
    window.dispatch("on_key_down", Keyboard.keycodes["q"], 0, "q", [])   # not a rating key
    assert store.count_ratings() == 1


def test_kiosk_ignores_escape_f1_and_close(terminal, window):
    from kivy.core.window import Keyboard

    app, _store = terminal(ui={"kiosk": True})
    assert window.dispatch("on_key_down", Keyboard.keycodes["escape"], 0, None, []) is True
    assert window.dispatch("on_key_down", Keyboard.keycodes["f1"], 0, None, []) is True
    assert window.dispatch("on_request_close") is True
    assert app.open_settings() is False
    # Kivy's own exit path: on_keyboard with Escape asks on_request_close, then stops the loop.
    from kivy.base import EventLoop

    assert window.dispatch("on_keyboard", Keyboard.keycodes["escape"], 0, None, []) is not True
    assert not EventLoop.stopping
    pump()
    assert app.ui.manager.current == "rating"


def test_storage_failure_shows_out_of_service_and_recovers(terminal):
    app, store = terminal(timings={"thanks_s": 0.05, "cooldown_s": 0.05, "storage_retry_s": 0.2})
    manager = app.ui.manager
    store.pragma(f"max_page_count = {store.pragma('page_count')}")
    for _ in range(300):
        if app.service.view.state is State.OUT_OF_SERVICE:
            break
        pump_until(lambda: app.service.view.accepting or app.service.view.state is State.OUT_OF_SERVICE)
        app.ui.press(5, Channel.TOUCH)
    pump_until(lambda: shown(manager, "out_of_service"))
    assert "full" in manager.get_screen("out_of_service").model.detail
    store.pragma("max_page_count = 1073741823")
    pump_until(lambda: shown(manager, "rating"))
    assert store.events_of(EventKind.STORAGE_RECOVERED)


def test_labels_are_drawn_with_real_chinese_glyphs(terminal):
    """A font without CJK draws every character as the same box; compare with a box rendering."""
    from kivy.core.text import Label as CoreLabel

    app, _store = terminal()
    button = level_button(app.ui.manager, 5)
    label = next(child for child in button.children if getattr(child, "text", "") == "非常满意")
    label.texture_update()

    def pixels(text: str) -> bytes:
        core = CoreLabel(text=text, font_size=label.font_size, font_name=label.font_name, bold=label.bold)
        core.refresh()
        return core.texture.pixels

    assert label.texture is not None and label.texture.width > label.font_size * 3
    assert pixels("非常满意") != pixels("\ue000\ue001\ue002\ue003")   # private-use: always the box
    assert pixels("满") != pixels("意")


def test_english_locale_uses_english_labels(terminal):
    app, _store = terminal(locale="en")
    assert app.ui.locale is Locale.EN
    assert level_button(app.ui.manager, 1).text == "Very dissatisfied"


def test_the_citizen_switches_language_and_the_next_one_starts_in_the_default(terminal):
    app, store = terminal()
    manager = app.ui.manager
    rating = manager.get_screen("rating")
    language = next(w for w in rating.walk() if getattr(w, "text", None) == "English")
    tap(language)
    pump()
    assert app.ui.locale is Locale.EN and level_button(manager, 5).text == "Very satisfied"
    tap(level_button(manager, 5))
    pump_until(lambda: shown(manager, "thanks"))
    assert manager.get_screen("thanks").model.title == "Thank you for your rating!"
    pump_until(lambda: shown(manager, "rating"))
    pump()
    assert app.ui.locale is Locale.ZH and level_button(manager, 5).text == "非常满意"
    assert next(w for w in rating.walk() if getattr(w, "text", None) == "English")
    assert store.count_ratings() == 1                      # switching language rated nothing


def test_memory_settles_once_each_citizen_is_done(terminal, monkeypatch):
    settled: list[str] = []
    monkeypatch.setattr(kiosk.ui.app.heap, "settle", lambda: settled.append(app.ui.manager.current))
    app, store = terminal()
    manager = app.ui.manager
    pump()
    assert settled == []                                   # nobody rated yet
    tap(level_button(manager, 5))
    pump_until(lambda: shown(manager, "thanks"))
    pump()
    assert settled == []                                   # not while the citizen reads the thanks
    pump_until(lambda: shown(manager, "rating") and manager.get_screen("rating").model.accepting)
    pump()
    assert settled == ["rating"] and store.count_ratings() == 1
