"""The staff card on the rating and waiting screens: photo, name, 工号 and post of whoever serves at the counter.

Staff take the counter by the counter PC's `I` line (a real pty) or by touch after their PIN; the card is read
back from the drawn widgets of a real offscreen window.
"""
from __future__ import annotations

import logging
import os

import pytest

from drivers.panel import Backoff
from drivers.simulator import PanelSimulator
from evaluator.terminal import staff_access
from kiosk.config import Locale, load
from kiosk.devices.panel_link import PanelLink
from kiosk.rating.access import AccessFile
from kiosk.rating.service import RatingService
from kiosk.store import Identity, RatingStore
from kiosk.store.tables import EventKind
from tests.images import write_png
from tests.kiosk.ui.conftest import pump, pump_until, store_for, tap
from tests.kiosk.ui.test_staff_screens import hold, sign_in, top_right
from tests.sync.conftest import collector, provisioned, terminal_config  # noqa: F401  (a real collector process)
from tests.sync.test_worker import run_worker_until, set_roster

NOBODY = ("暂无工作人员签到", "", None)


@pytest.fixture
def roster(tmp_path):
    photo = write_png(tmp_path / "e1023.png", 30, 40)
    return photo, [{"id": "E1023", "name": "李明", "post": "综合受理窗口", "photo": str(photo)},
                   {"id": "E2000", "name": "王芳", "post": "咨询台"}]


def card(manager, screen: str) -> tuple[str, str, tuple[int, int] | None]:
    """What the card on `screen` draws: the name, the 工号/post line, the photo's size (None: the silhouette)."""
    from kiosk.ui.widgets import FitLabel, StaffPhoto

    pump(3)
    assert manager.current == screen
    widget = next(w for w in manager.get_screen(screen).walk() if type(w).__name__ == "StaffCard")
    name, line = (label.text for label in widget.walk(restrict=True) if isinstance(label, FitLabel))
    photo = next(w for w in widget.walk(restrict=True) if isinstance(w, StaffPhoto))
    return name, line, tuple(photo.texture.size) if photo.texture is not None else None


LI_MING = ("李明", "工号 E1023  ·  综合受理窗口", (30, 40))


def test_the_counter_pcs_sign_in_shows_on_the_waiting_and_rating_screens(mounted, make_settings, roster):
    with PanelSimulator() as counter:
        settings = make_settings(staff=roster[1], mode="solicited", counter_link={"port": counter.device_path},
                                 timings={"thanks_s": 0.2, "cooldown_s": 0.2})
        app = mounted.mount(settings, store_for(settings))
        link = PanelLink(settings, app.service, backoff=Backoff(initial=0.05, cap=0.5))
        link.start()
        try:
            pump_until(lambda: link.counter.connected)
            manager = app.ui.manager
            assert card(manager, "waiting") == NOBODY

            counter.sign_in("E1023")                        # `I E1023`
            pump_until(lambda: app.service.view.staff_id == "E1023")
            assert card(manager, "waiting") == LI_MING
            counter.case("2026A-0001")                       # the service ends: the citizen rates it
            pump_until(lambda: manager.current == "rating")
            assert card(manager, "rating") == LI_MING
            counter.sign_in("E2000")                         # a colleague takes over: no photo in the roster
            pump_until(lambda: app.service.view.staff_id == "E2000")
            assert card(manager, "rating") == ("王芳", "工号 E2000  ·  咨询台", None)

            counter.sign_out()                               # `O`
            pump_until(lambda: app.service.view.staff_id is None)
            assert card(manager, "rating") == NOBODY
            tap(next(b for b in manager.get_screen("rating").ids.levels.children if b.level == 5))
            pump_until(lambda: manager.current == "waiting", timeout_s=5)
            assert card(manager, "waiting") == NOBODY
            assert [e["detail"]["source"] for e in app.service._store.events_of(EventKind.STAFF_SIGN_IN)] \
                == ["counter", "counter"]
        finally:
            link.stop()


@pytest.fixture
def touch_terminal(mounted, make_settings, tmp_path, roster):
    settings = make_settings(staff=roster[1], mode="solicited", sync={"state_dir": str(tmp_path / "state")},
                             access={"hold_s": 0.5, "idle_s": 30}, timings={"thanks_s": 0.2, "cooldown_s": 0.2})
    secrets = AccessFile(settings.sync.state_dir)
    secrets.set_staff_pin("E1023", "2468")
    secrets.set_technician_password("97531")
    store = store_for(settings)
    allowed, scores = staff_access(settings, store)
    return mounted.mount(settings, store, access=allowed, scores=scores), store


def test_staff_take_and_leave_the_counter_by_touch_after_their_pin(touch_terminal):
    app, store = touch_terminal
    manager = app.ui.manager
    assert card(manager, "waiting") == NOBODY
    hold(manager, top_right(manager), 0.8)
    sign_in(app, "E1023", "2468")
    scores = manager.get_screen("scores")
    assert manager.current == "scores" and scores.ids.counter.text == "在此窗口服务"
    assert app.service.view.staff_id is None                  # a PIN alone opens the scores, takes no counter
    tap(scores.ids.counter)
    assert card(manager, "waiting") == LI_MING                # back on the citizen's screen, with the card
    tap(manager.get_screen("waiting").ids.solicit)            # 请评价 on the screen
    assert card(manager, "rating") == LI_MING
    assert [(e["detail"]["staff_id"], e["detail"]["source"]) for e in store.events_of(EventKind.STAFF_SIGN_IN)] \
        == [("E1023", "screen")]

    hold(manager, top_right(manager), 0.8)
    sign_in(app, "E1023", "2468")
    assert scores.ids.counter.text == "结束在此窗口服务"
    tap(scores.ids.counter)
    assert card(manager, "rating") == NOBODY
    assert [e["detail"]["source"] for e in store.events_of(EventKind.STAFF_SIGN_OUT)] == ["screen"]
    tap(next(b for b in manager.get_screen("rating").ids.levels.children if b.level == 4))
    pump_until(lambda: manager.current == "waiting", timeout_s=5)
    assert card(manager, "waiting") == NOBODY
    assert [row["staff_id"] for row in store.recent_ratings(5)] == [None]


def test_a_technician_gets_no_counter_button(touch_terminal):
    app, store = touch_terminal
    manager = app.ui.manager
    hold(manager, top_right(manager), 0.8)
    sign_in(app, "__technician__", "97531")
    counter = manager.get_screen("scores").ids.counter
    assert manager.current == "scores" and counter.text == "" and counter.disabled and counter.opacity == 0
    tap(counter)
    assert store.events_of(EventKind.STAFF_SIGN_IN) == []


@pytest.mark.parametrize("size", [(800, 480), (1080, 1920)])
def test_the_counter_button_fits_in_both_languages(touch_terminal, window, size):
    from kivy.metrics import dp

    app, _store = touch_terminal
    original = window.size
    window.size = size
    try:
        for locale in Locale:
            app.ui.locale = locale
            app.ui.staff.open_scores("E1023")
            pump(4)
            scores = app.ui.manager.get_screen("scores")
            button = scores.ids.counter
            assert button.text == ("在此窗口服务" if locale is Locale.ZH else "Serve at this counter")
            assert button.texture_size[0] <= button.width and button.texture_size[1] <= button.height
            # As large as 返回 beside it, or at least the size of the scores' own lines: not shrunk to fit.
            assert button.font_size >= min(scores.ids.back.font_size, dp(17)) - 0.01
            app.ui.staff.leave_staff_mode()
    finally:
        window.size = original
        pump(3)


def test_a_bad_photo_is_logged_once_and_shows_the_silhouette(window, make_settings, tmp_path, caplog):
    from kiosk.ui.app import KivyScheduler, RatingUi

    good = write_png(tmp_path / "good.png", 30, 40)
    (tmp_path / "notes.png").write_bytes(b"not a png")
    write_png(tmp_path / "big.png", 300, 300, pixels=os.urandom(300 * 300))
    (tmp_path / "cut.png").write_bytes(good.read_bytes()[:30])         # a PNG's signature, then nothing
    bad = {"E2": ("notes.png", "not a JPEG or PNG"), "E3": ("gone.png", "file not found"),
           "E4": ("big.png", "at most 65,536"), "E5": ("cut.png", "cannot be read")}
    settings = make_settings(staff=[{"id": "E1", "name": "李明", "photo": str(good)}]
                             + [{"id": key, "name": "王芳", "photo": str(tmp_path / name)}
                                for key, (name, _why) in bad.items()])
    store = RatingStore(settings.store.path, Identity("d", "u", "c"))
    service = RatingService(settings, store, KivyScheduler())
    ui = RatingUi(settings, service)
    window.add_widget(ui.manager)
    try:
        service.start()
        with caplog.at_level(logging.WARNING):
            for staff_id in ["E1", *bad, *bad]:
                service.sign_in(staff_id)
                pump(3)
                expected = (30, 40) if staff_id == "E1" else None
                assert card(ui.manager, "rating")[2] == expected, staff_id
        for staff_id, (name, why) in bad.items():
            said = [r.getMessage() for r in caplog.records if r.name.startswith("kiosk") and name in r.getMessage()]
            assert len(said) == 1 and why in said[0] and "silhouette" in said[0], (staff_id, said)
    finally:
        window.remove_widget(ui.manager)
        service.stop()
        store.close()


def test_a_photo_set_at_the_centre_shows_on_the_card(mounted, collector, terminal_config, tmp_path):  # noqa: F811
    config = terminal_config()
    settings = provisioned(collector, config)
    write_png(tmp_path / "li.png", 30, 40)
    set_roster(collector, tmp_path, settings.unit.id, [{"id": "E1023", "name": "李明", "post": "综合受理窗口",
                                                        "photo": "li.png"}])
    run_worker_until(settings, config, lambda _w: len(load(config).staff) == 1)
    settings = load(config)                                   # what the terminal's next start reads
    app = mounted.mount(settings, store_for(settings))
    app.service.sign_in("E1023")
    assert card(app.ui.manager, "rating") == LI_MING
