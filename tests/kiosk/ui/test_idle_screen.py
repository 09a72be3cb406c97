"""The waiting screen, open mode's attract screen, opening hours and dimming after inactivity, in a real
offscreen window touched through Kivy's input pipeline."""
from __future__ import annotations

import datetime as dt
import time
from zoneinfo import ZoneInfo

import pytest

from drivers.backlight import Backlight
from kiosk.rating.service import RatingService, State
from kiosk.store import Identity, RatingStore
from tests.drivers.test_backlight import device
from tests.kiosk.ui.conftest import pump, pump_until, read_qr_codes, tap, tap_at

SOLICITED = {"mode": "solicited", "timings": {"thanks_s": 1.0}}
MONDAY_10 = dt.datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.fixture
def idle_terminal(window, make_settings):
    """Screens + service + store, with a clock for the opening hours and an optional backlight folder."""
    from kiosk.ui.app import KivyScheduler, RatingUi

    made = []

    def build(now=lambda: MONDAY_10, backlight: Backlight | None = None, **overrides):
        settings = make_settings(**{**SOLICITED, **overrides})
        store = RatingStore(settings.store.path, Identity(settings.device.id, settings.unit.id, settings.counter.id))
        service = RatingService(settings, store, KivyScheduler())
        ui = RatingUi(settings, service, backlight=backlight, now=now)
        window.add_widget(ui.manager)
        service.start()
        pump()
        made.append((ui, service, store))
        return ui, service, store

    yield build
    for ui, service, store in made:
        ui.dimming.restore()
        ui.attract.cancel()
        service.stop()
        window.remove_widget(ui.manager)
        store.close()


def shown_texts(screen) -> list[str]:
    """The text of every label the screen draws (not those made transparent)."""
    from kivy.uix.label import Label

    def drawn(widget) -> bool:
        while widget is not None and widget is not screen:   # (the window is its own parent)
            if widget.opacity == 0:
                return False
            widget = widget.parent
        return True

    return [w.text for w in screen.walk() if isinstance(w, Label) and w.text and drawn(w)]


def test_waiting_screen_shows_the_unit_and_the_counter(idle_terminal):
    ui, _service, _store = idle_terminal()
    unit, counter = ui.settings.unit, ui.settings.counter
    screen = ui.manager.get_screen("waiting")
    pump()
    texts = shown_texts(screen)
    assert unit.name in texts and counter.name in texts
    ui.switch_language()
    pump()
    texts = shown_texts(screen)
    assert unit.name_en in texts and counter.name_en in texts and unit.name not in texts


def test_waiting_screen_shows_the_hours_and_whether_open_now(idle_terminal):
    ui, _service, _store = idle_terminal()
    screen = ui.manager.get_screen("waiting")
    assert ui.manager.current == "waiting"
    pump()
    # Two columns: the days, and each session on its own line (one wrapped text put 13:30–17:30 under the days).
    assert hours_rows(screen) == [("周一至周五", "09:00–12:00\n13:30–17:30"), ("周六、周日", "休息")]
    assert screen.ids.hours_status.text == "正在办公" and screen.ids.hours.opacity == 1

    ui.switch_language()
    pump()
    assert screen.ids.hours_status.text == "Open now"
    assert hours_rows(screen)[0] == ("Mon–Fri", "09:00–12:00\n13:30–17:30")


def hours_rows(screen) -> list[tuple[str, str]]:
    """The hours table as shown, top row first: (days, sessions one per line)."""
    from kiosk.ui.widgets import HoursRow

    rows = [w for w in screen.ids.hours_table.children if isinstance(w, HoursRow)]
    return [(row.ids.days.text, row.ids.sessions.text) for row in reversed(rows)]


def test_open_now_flips_at_the_closing_time_without_a_touch(idle_terminal):
    start, base = time.monotonic(), MONDAY_10.replace(hour=11, minute=59, second=58, microsecond=800_000)
    ui, _service, _store = idle_terminal(now=lambda: base + dt.timedelta(seconds=time.monotonic() - start))
    status = ui.manager.get_screen("waiting").ids.hours_status
    pump()
    assert status.text == "正在办公"
    pump_until(lambda: status.text == "非办公时间", timeout_s=5)   # redrawn at 12:00, 1.2 s later


def test_no_hours_configured_hides_the_box(idle_terminal):
    ui, _service, _store = idle_terminal(unit={"opening_hours": []})
    pump()
    assert ui.manager.get_screen("waiting").ids.hours.opacity == 0


def test_idle_screen_dims_the_backlight_and_the_first_touch_only_wakes_it(idle_terminal, tmp_path):
    folder = device(tmp_path / "sys", "panel", maximum=1000, brightness=1000)
    ui, service, _store = idle_terminal(backlight=Backlight(folder), ui={"dim_after_s": 5, "brightness": 0.9,
                                                                         "dim_brightness": 0.1})
    brightness = folder / "brightness"
    assert brightness.read_text() == "900\n"
    pump_until(lambda: ui.dimming.dimmed, timeout_s=10)
    assert brightness.read_text() == "100\n" and ui.dimming.veil.alpha == 0     # the backlight, not the veil

    solicit = ui.manager.get_screen("waiting").ids.solicit
    tap(solicit)                                      # wakes, and goes no further
    assert not ui.dimming.dimmed and brightness.read_text() == "900\n"
    assert service.view.state is State.IDLE
    tap(solicit)                                      # now the button works
    assert service.view.state is State.AWAITING


def test_a_request_wakes_the_screen_and_a_rating_in_progress_never_dims(idle_terminal):
    ui, service, store = idle_terminal(ui={"dim_after_s": 5})       # no backlight here: the veil
    pump_until(lambda: ui.dimming.dimmed, timeout_s=10)
    assert ui.dimming.veil.alpha == pytest.approx(0.85)

    service.solicit(staff_id="E1023")                 # the counter PC asks: lit before the citizen looks
    pump_until(lambda: ui.manager.current == "rating")
    assert not ui.dimming.dimmed and ui.dimming.veil.alpha == 0
    assert ui.dimming.dimmer.due_in() is None          # the rating screen waits for this citizen, lit
    pump(3)                                            # the level buttons' layout
    tap(next(b for b in ui.manager.get_screen("rating").ids.levels.children if b.level == 5))
    assert store.count_ratings() == 1                  # a lit screen: the first touch counted


def test_open_mode_rating_screen_dims_too(idle_terminal):
    ui, service, store = idle_terminal(mode="open", ui={"dim_after_s": 5})
    assert ui.manager.current == "rating"
    pump_until(lambda: ui.dimming.dimmed, timeout_s=10)
    button = next(b for b in ui.manager.get_screen("rating").ids.levels.children if b.level == 4)
    tap(button)
    assert store.count_ratings() == 0 and not ui.dimming.dimmed     # a dark screen's touch only wakes it
    tap(button)
    assert store.count_ratings() == 1


@pytest.mark.parametrize("screen", ["waiting", "attract"])
def test_a_discarded_screen_tree_is_freed_despite_its_pending_timers(window, make_settings, screen):
    # The hours redraw, the dimming and the attract screen wait on Kivy's Clock for minutes or hours; were
    # they to hold the UI, every UI built in a process would live on (in the tests: gc pauses long enough to
    # stall a frame).
    import gc
    import weakref

    from kiosk.screens.demo import demo_settings, demo_view
    from kiosk.screens.presenter import ScreenName
    from kiosk.ui.app import RatingUi

    settings = demo_settings(make_settings(ui={"dim_after_s": 600, "attract_after_s": 600}))
    ui = RatingUi(settings, service=None, now=lambda: MONDAY_10)
    window.add_widget(ui.manager)
    ui.show(demo_view(ScreenName(screen), settings))    # the attract demo: open mode's rating screen, untouched
    pump(3)
    assert ui.dimming.dimmer.due_in() is not None                                  # timers pending
    assert ui._hours_event is not None if screen == "waiting" else ui.attract.switch.due_in() is not None
    gone = weakref.ref(ui)
    window.remove_widget(ui.manager)
    del ui
    gc.collect()
    assert gone() is None


# -- open mode's attract screen -------------------------------------------------------------------------------

QUESTIONNAIRE = "https://zwfw.example.gov.cn/yijian?unit=unit-0001"
OPEN_ATTRACT = {"mode": "open", "ui": {"attract_after_s": 1}, "citizen": {"questionnaire_url": QUESTIONNAIRE},
                "timings": {"thanks_s": 1.0, "cooldown_s": 1.0}}


def attract_screen(ui, waited_from: float):
    """Wait for the attract screen; it must not come before ui.attract_after_s without a touch."""
    pump_until(lambda: ui.manager.current == "attract", timeout_s=5)
    assert time.monotonic() - waited_from >= ui.settings.ui.attract_after_s
    pump(3)
    return ui.manager.current_screen


def test_open_mode_shows_the_attract_screen_after_the_idle_time(idle_terminal):
    start = time.monotonic()
    ui, _service, _store = idle_terminal(**OPEN_ATTRACT)
    assert ui.manager.current == "rating"
    from kivy.uix.button import Button

    english = next(w for w in ui.manager.get_screen("rating").walk() if isinstance(w, Button) and w.text == "English")
    tap(english)                                       # a citizen reads in English, then leaves
    assert ui.locale.value == "en"
    screen = attract_screen(ui, start)
    texts = shown_texts(screen)
    settings = ui.settings
    assert settings.unit.name in texts and settings.counter.name in texts   # back in the default language
    assert {"周一至周五", "09:00–12:00\n13:30–17:30", "周六、周日", "休息"} <= set(texts) and "正在办公" in texts
    assert "欢迎光临" in texts and "请触摸屏幕，对本次服务进行评价" in texts
    assert "扫码提出意见和建议" in texts and read_qr_codes(screen) == [QUESTIONNAIRE]
    assert screen.ids.solicit.opacity == 0 and screen.ids.solicit.disabled   # no 请评价: always ready here


def test_a_touch_on_the_attract_screen_brings_back_the_rating_screen_and_rates_nothing(idle_terminal):
    start = time.monotonic()
    ui, service, store = idle_terminal(**OPEN_ATTRACT)
    pump(3)
    excellent = next(b for b in ui.manager.get_screen("rating").ids.levels.children if b.level == 5)
    where = excellent.to_window(*excellent.center)
    attract_screen(ui, start)
    tap_at(*where)                                     # where 非常满意 is on the rating screen
    assert ui.manager.current == "rating" and store.count_ratings() == 0
    pump(3)                                            # the rating screen laid out again, as a finger's pause
    again = time.monotonic()
    tap(excellent)                                     # now it rates, as any touch on the rating screen
    assert store.count_ratings() == 1
    pump_until(lambda: ui.manager.current == "thanks")
    pump_until(lambda: ui.manager.current == "rating" and service.view.accepting)
    attract_screen(ui, again)                          # and untouched again, the attract screen again
    assert store.count_ratings() == 1


def test_the_language_button_on_the_attract_screen_brings_the_rating_screen_in_that_language(idle_terminal):
    start = time.monotonic()
    ui, _service, store = idle_terminal(**OPEN_ATTRACT)
    screen = attract_screen(ui, start)
    button = next(w.ids["language"] for w in screen.walk(restrict=True) if "language" in w.ids)
    assert button.text == "English"
    tap(button)
    assert ui.manager.current == "rating" and ui.locale.value == "en" and store.count_ratings() == 0
    ui.attract.cancel()               # a busy machine's next frames may take the 1 s that brings it back
    pump(3)
    assert "Very satisfied" in shown_texts(ui.manager.current_screen)


def test_a_panel_press_on_the_attract_screen_rates_once_and_shows_thanks(idle_terminal):
    from drivers.panel import Backoff
    from drivers.simulator import PanelSimulator
    from kiosk.devices.panel_link import PanelLink

    with PanelSimulator() as sim:
        start = time.monotonic()
        ui, service, store = idle_terminal(**OPEN_ATTRACT, panel={"port": sim.device_path, "ping_interval_s": None})
        link = PanelLink(ui.settings, service, backoff=Backoff(initial=0.05, cap=0.5))
        link.start()
        try:
            pump_until(lambda: link.panel.connected)
            attract_screen(ui, start)
            sim.press(2)                               # the panel's 满意 key, read by the panel's thread
            pump_until(lambda: ui.manager.current == "thanks")
            [rating] = store.recent_ratings(5)
            assert rating["level"] == 4 and rating["channel"] == "panel"
        finally:
            link.stop()


def test_a_key_on_the_attract_screen_rates_once_and_any_other_key_brings_back_the_rating_screen(window, terminal):
    from kivy.core.window import Keyboard

    start = time.monotonic()
    app, store = terminal(**OPEN_ATTRACT)
    attract_screen(app.ui, start)
    again = time.monotonic()             # before the key: the idle time runs from the key, not from after it
    window.dispatch("on_key_down", Keyboard.keycodes["q"], 0, "q", [])     # not a rating key
    assert app.ui.manager.current == "rating" and store.count_ratings() == 0
    attract_screen(app.ui, again)
    window.dispatch("on_key_down", Keyboard.keycodes["2"], 0, "2", [])     # a USB-HID panel's 满意
    pump_until(lambda: app.ui.manager.current == "thanks")
    [rating] = store.recent_ratings(5)
    assert rating["level"] == 4 and rating["channel"] == "keyboard"


def test_without_an_attract_time_open_mode_stays_on_the_rating_screen(idle_terminal):
    ui, _service, _store = idle_terminal(**{**OPEN_ATTRACT, "ui": {"attract_after_s": 0}})
    assert ui.attract.switch.due_in() is None
    pump(5)
    assert ui.manager.current == "rating"
