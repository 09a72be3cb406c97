"""The waiting (attract) screen: opening hours, and dimming after inactivity, in a real offscreen window."""
from __future__ import annotations

import datetime as dt
import time
from zoneinfo import ZoneInfo

import pytest

from drivers.backlight import Backlight
from kiosk.service import RatingService, State
from kiosk.store import Identity, RatingStore
from tests.drivers.test_backlight import device
from tests.kiosk.ui.conftest import pump, pump_until, tap

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
        service.stop()
        window.remove_widget(ui.manager)
        store.close()


def test_waiting_screen_shows_the_hours_and_whether_open_now(idle_terminal):
    ui, _service, _store = idle_terminal()
    screen = ui.manager.get_screen("waiting")
    assert ui.manager.current == "waiting"
    pump()
    assert screen.ids.hours_lines.text == "周一至周五  09:00–12:00  13:30–17:30\n周六、周日  休息"
    assert screen.ids.hours_status.text == "正在办公" and screen.ids.hours.opacity == 1

    ui.switch_language()
    pump()
    assert screen.ids.hours_status.text == "Open now"
    assert screen.ids.hours_lines.text.startswith("Mon–Fri  09:00–12:00")


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


def test_a_discarded_screen_tree_is_freed_despite_its_pending_timers(window, make_settings):
    # The hours redraw and the dimming wait on Kivy's Clock for minutes or hours; were they to hold the UI,
    # every UI built in a process would live on (in the tests: gc pauses long enough to stall a frame).
    import gc
    import weakref

    from kiosk.demo import demo_settings, demo_view
    from kiosk.presenter import ScreenName
    from kiosk.ui.app import RatingUi

    settings = demo_settings(make_settings(ui={"dim_after_s": 600}))
    ui = RatingUi(settings, service=None, now=lambda: MONDAY_10)
    window.add_widget(ui.manager)
    ui.show(demo_view(ScreenName.WAITING, settings))
    pump(3)
    assert ui._hours_event is not None and ui.dimming.dimmer.due_in() is not None   # both timers pending
    gone = weakref.ref(ui)
    window.remove_widget(ui.manager)
    del ui
    gc.collect()
    assert gone() is None
