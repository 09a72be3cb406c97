"""The hidden corner, sign-in and staff scores, driven by simulated touch in a real offscreen window."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import time

import pytest

from evaluator.terminal import staff_access
from kiosk.rating.access import AccessFile
from kiosk.rating.service import RatingService
from kiosk.store import Identity, RatingStore
from kiosk.store.tables import Channel, EventKind
from tests.kiosk.ui.conftest import pump, pump_until, store_for, tap

STAFF = [{"id": "E1023", "name": "李明"}, {"id": "E2000", "name": "王芳"}]


@pytest.fixture
def terminal(mounted, make_settings, tmp_path):
    """The touchscreen terminal as `evaluator run` composes it, with PINs set for E1023 and a technician."""
    def build(**access):
        settings = make_settings(staff=STAFF, sync={"state_dir": str(tmp_path / "state")},
                                 access={"hold_s": 0.5, "idle_s": 5, **access})
        secrets = AccessFile(settings.sync.state_dir)
        secrets.set_staff_pin("E1023", "2468")
        secrets.set_technician_password("97531")
        store = store_for(settings)
        allowed, scores = staff_access(settings, store)
        return mounted.mount(settings, store, access=allowed, scores=scores), store, settings

    return build


def hold(manager, pos, seconds: float):
    """A finger down at `pos` (window coordinates), kept there for `seconds` of frames, then lifted."""
    from kivy.tests.common import UnitTestTouch

    touch = UnitTestTouch(*pos)
    touch.touch_down()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        pump(1)
    touch.touch_up()


def top_right(manager):
    return manager.right - 5, manager.top - 5


def sign_in(app, who: str, pin: str) -> None:
    pump()                                                         # the screen just opened: laid out first
    screen = app.ui.manager.get_screen("sign_in")
    tap(next(button for button in screen.ids.choices.children if button.key == who))
    keys = {button.text: button for button in screen.ids.keypad.children}
    for digit in pin:
        tap(keys[digit])
    pump()
    tap(screen.ids.ok)
    pump()


def shown_rows(screen) -> list[tuple[str, str]]:
    """The table rows the screen draws, each laid out with a real height (a dp() gone negative once drew
    every row at -44 px: the staff table and the technician's status were blank)."""
    from kiosk.ui.screens import ScoreLine

    pump(2)
    rows = [w for w in screen.walk() if isinstance(w, ScoreLine)]
    assert rows and all(w.height > 0 for w in rows), [w.height for w in rows]
    return [(w.left, w.right) for w in rows]


def test_a_long_press_in_the_corner_opens_sign_in_and_a_short_one_does_not(terminal):
    app, store, _settings = terminal()
    manager = app.ui.manager
    hold(manager, top_right(manager), 0.2)
    assert manager.current == "rating"
    hold(manager, (manager.center_x, manager.top - 5), 0.8)       # long, but not in the corner
    assert manager.current == "rating"
    hold(manager, top_right(manager), 0.8)
    assert manager.current == "sign_in"
    assert store.count_ratings() == 0                              # the gesture rated nothing


def test_staff_pin_opens_scores_that_match_the_summary(terminal, tmp_path):
    app, store, settings = terminal()
    for level in (5, 5, 4, 1):
        store.append_rating(level, Channel.TOUCH, "open", staff_id="E1023")
    store.append_rating(2, Channel.TOUCH, "open", staff_id="E2000")
    manager = app.ui.manager
    hold(manager, top_right(manager), 0.8)
    sign_in(app, "E1023", "2468")
    pump_until(lambda: manager.current == "scores")
    model = manager.get_screen("scores").model
    config = tmp_path / "summary.yaml"
    config.write_text(f"store: {{path: {settings.store.path}}}\n", encoding="utf-8")
    summary = json.loads(subprocess.run([sys.executable, "-m", "evaluator.cli", "summary", "--json", "--config",
                                         str(config)], capture_output=True, text=True, timeout=60).stdout)
    assert model.total == summary["total"] == 5
    assert {str(level.level): level.count for level in model.by_level} == summary["by_level"]
    assert model.good_rate == pytest.approx(summary["good_rate"]) and model.good_rate_text == "60.0 %"
    assert model.meets_target is False and model.target == 0.8
    lines = {line.staff_id: line for line in model.staff}
    assert lines["E1023"].highlighted and not lines["E2000"].highlighted and lines["E1023"].total == 4
    bars = manager.get_screen("scores").ids.bars
    pump()
    assert [entry[2] for entry in bars.entries] == [2, 1, 0, 1, 1]
    assert len(shown_rows(manager.get_screen("scores"))) >= len(model.staff)
    assert [e["detail"]["user_id"] for e in store.events_of(EventKind.ACCESS_GRANTED)] == ["E1023"]


def test_wrong_pins_lock_sign_in_until_the_lockout_ends(terminal):
    app, store, _settings = terminal(max_tries=3, lockout_s=1.5)
    manager = app.ui.manager
    hold(manager, top_right(manager), 0.8)
    screen = manager.get_screen("sign_in")
    sign_in(app, "E1023", "1111")
    assert manager.current == "sign_in" and "2" in screen.ids.message.text
    sign_in(app, "E1023", "1111")
    sign_in(app, "E1023", "1111")
    assert "分钟" in screen.ids.message.text
    sign_in(app, "E1023", "2468")                                 # the right PIN, but locked
    assert manager.current == "sign_in"
    assert len(store.events_of(EventKind.ACCESS_LOCKED)) == 1
    pump_until(lambda: app.ui.staff.form._access.locked_for() == 0, timeout_s=3)
    sign_in(app, "E1023", "2468")
    assert manager.current == "scores"


def test_the_technician_password_and_the_back_button(terminal):
    app, _store, _settings = terminal()
    manager = app.ui.manager
    hold(manager, top_right(manager), 0.8)
    sign_in(app, "__technician__", "97531")
    assert manager.current == "scores"
    tap(manager.get_screen("scores").ids.back)
    assert manager.current == "rating"


def test_staff_screens_return_to_the_citizen_after_a_minute_without_touch(terminal):
    app, store, _settings = terminal(idle_s=5)
    manager = app.ui.manager
    hold(manager, top_right(manager), 0.8)
    sign_in(app, "E1023", "2468")
    assert manager.current == "scores"
    app.service.press(4, Channel.PANEL)                           # a citizen rates on the panel meanwhile
    pump(3)
    assert manager.current == "scores"                             # staff screens stay in front…
    started = time.monotonic()
    pump_until(lambda: manager.current != "scores", timeout_s=8)
    assert time.monotonic() - started > 3                          # …until idle (5 s, counted from the last touch)
    assert manager.current in ("rating", "thanks")
    assert store.count_ratings() == 1


@pytest.fixture
def technician_terminal(window, make_settings, tmp_path, usb_stick):
    """The terminal with a real panel on a pty, and technician mode whose restart (an end, and a relaunch:
    no systemd in its environment) is recorded."""
    from drivers.panel import Backoff
    from drivers.simulator import PanelSimulator
    from evaluator.terminal import technician_mode
    from kiosk.devices.panel_link import PanelLink
    from kiosk.ui.app import EvaluatorApp, KivyScheduler

    with PanelSimulator() as sim:
        settings = make_settings(staff=STAFF, sync={"state_dir": str(tmp_path / "state")},
                                 access={"hold_s": 0.5, "export_dir": str(usb_stick)},
                                 panel={"port": sim.device_path, "ping_interval_s": None})
        AccessFile(settings.sync.state_dir).set_technician_password("97531")
        store = RatingStore(settings.store.path, Identity(settings.device.id, settings.unit.id, settings.counter.id))
        service = RatingService(settings, store, KivyScheduler())
        link = PanelLink(settings, service, backoff=Backoff(initial=0.05, cap=0.5))
        restarts: list[str] = []
        allowed, scores = staff_access(settings, store)
        app = EvaluatorApp(settings, service, link=link, access=allowed, scores=scores,
                           technician=lambda _stop: technician_mode(
                               settings, store, link, lambda: restarts.append("end"), environ={},
                               relaunch=lambda: restarts.append("relaunch")))
        root = app.build()
        window.add_widget(root)
        app.on_start()
        pump_until(lambda: link.panel.connected)
        try:
            yield app, store, sim, restarts, settings
        finally:
            app.on_stop()
            window.remove_widget(root)
            store.close()


def test_technician_mode_checks_exports_lights_keys_and_restarts(technician_terminal):
    app, store, sim, restarts, settings = technician_terminal
    store.append_rating(5, Channel.TOUCH, "open")
    store.append_rating(1, Channel.TOUCH, "open")
    manager = app.ui.manager
    hold(manager, top_right(manager), 0.8)
    sign_in(app, "__technician__", "97531")
    assert manager.current == "technician"
    screen = manager.get_screen("technician")
    model = screen.model
    assert model.section("device").value("id") == settings.device.id and model.section("store").value("ratings") == "2"
    assert "integrity" not in [row.key for row in model.section("store").rows]   # no quick_check at each drawing
    assert model.section("panel").value("connected") == "是"
    assert json.loads(screen.model.qr_payload)["device"] == settings.device.id
    assert screen.ids.qr.payload == screen.model.qr_payload
    rows = dict(shown_rows(screen))
    assert rows["设备编号"] == settings.device.id and rows["已连接"] == "是"      # labels, not keys
    assert rows["剩余空间"].endswith((" MB", " GB"))
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", rows["最近评价"])          # local, to the second

    tap(screen.ids.check)
    pump_until(lambda: "2 条评价" in screen.message)
    tap(screen.ids.export)
    assert screen.message == "正在导出到U盘，请稍候…"          # a slow stick does not hold the screen up
    pump_until(lambda: "2 条" in screen.message)
    exported = list((settings.access.export_dir).glob("ratings-*.csv"))
    assert len(exported) == 1 and "2 条" in screen.message
    assert len(exported[0].read_text(encoding="utf-8-sig").splitlines()) == 3      # header and two ratings
    while not sim.received.empty():
        sim.received.get_nowait()
    tap(next(b for b in screen.ids.test_keys.children if b.text == "3"))
    deadline = time.monotonic() + 5
    frame = None
    while frame != ("L", 3):
        frame = sim.received.get(timeout=max(0.01, deadline - time.monotonic()))
    assert any(row.value == "L3" and row.label.endswith("发") for row in screen.model.section("frames").rows)
    panel = app.link.panel
    tap(screen.ids.reconnect)
    pump_until(lambda: panel.status().counters.reconnects == 1 and panel.connected)
    tap(screen.ids.restart)                                   # asks first: nothing restarts on one tap
    pump()
    assert restarts == [] and screen.ids.restart.text == "确认重启" and "确认重启" in screen.message
    tap(screen.ids.restart)
    assert restarts == ["relaunch", "end"]                    # no systemd: it starts itself again, then ends
    actions = [e["detail"]["action"] for e in store.events_of(EventKind.TECHNICIAN_ACTION)]
    assert actions == ["opened", "check_storage", "export", "test_key", "reconnect_panel", "restart"]
    assert store.count_ratings() == 2                                              # nothing added or changed


def test_the_screen_keeps_drawing_while_technician_mode_checks_a_large_store(technician_terminal):
    # Years of ratings on an SD card make the check outlast the 30 s watchdog that the main loop pings; a
    # real chain of 30,000 ratings (the store's own INSERT and hash) makes it long enough to count frames in.
    from kivy.clock import Clock

    from bench.sync_backlog import fill_store

    app, store, _sim, _restarts, settings = technician_terminal
    fill_store(settings, 30_000)
    manager = app.ui.manager
    hold(manager, top_right(manager), 0.8)
    sign_in(app, "__technician__", "97531")
    screen = manager.get_screen("technician")
    tap(screen.ids.check)
    assert screen.message == "正在检查存储，请稍候…"           # the tap returned at once, showing the check runs
    drawn = Clock.frames_displayed
    pump_until(lambda: screen.message != "正在检查存储，请稍候…", timeout_s=60)
    assert Clock.frames_displayed - drawn >= 5                 # frames (and watchdog pings) went on meanwhile
    assert screen.message == "存储完好：30000 条评价，哈希链完整"
    checked = store.events_of(EventKind.TECHNICIAN_ACTION)[-1]["detail"]
    assert (checked["action"], checked["ok"], checked["checked"]) == ("check_storage", True, 30_000)


def test_restart_asks_then_goes_back_and_a_missing_panel_is_named(mounted, make_settings, tmp_path):
    # No panel configured, under systemd: 重连面板 says so; 重启程序 turns into 确认重启 for a while, then back.
    from evaluator.terminal import technician_mode

    settings = make_settings(staff=STAFF, sync={"state_dir": str(tmp_path / "state")}, access={"hold_s": 0.5})
    AccessFile(settings.sync.state_dir).set_technician_password("97531")
    store = store_for(settings)
    ends: list[str] = []
    allowed, scores = staff_access(settings, store)
    app = mounted.mount(settings, store, access=allowed, scores=scores, technician=lambda _stop: technician_mode(
        settings, store, None, lambda: ends.append("end"), environ={"NOTIFY_SOCKET": "/run/systemd/notify"},
        relaunch=lambda: ends.append("relaunch")))
    manager = app.ui.manager
    hold(manager, top_right(manager), 0.8)
    sign_in(app, "__technician__", "97531")
    screen = manager.get_screen("technician")
    tap(screen.ids.reconnect)
    assert screen.message == "未配置面板"
    app.ui.staff.technician.restart_tap.window_s = 1.5
    tap(screen.ids.restart)
    assert screen.ids.restart.text == "确认重启" and screen.message == "1.5 秒内再点“确认重启”即重启程序"
    pump_until(lambda: screen.ids.restart.text == "重启程序", timeout_s=5)   # untouched: back by itself
    assert screen.message == "" and ends == []
    tap(screen.ids.restart)                                                   # a late tap asks again
    assert ends == [] and screen.ids.restart.text == "确认重启"
    tap(screen.ids.restart)
    assert ends == ["end"]                                                    # systemd starts it again
    assert [e["detail"] for e in store.events_of(EventKind.TECHNICIAN_ACTION)][-1] == {"action": "restart",
                                                                                     "how": "exit"}


def test_staff_screens_and_technician_mode_are_built_when_first_opened(window, make_settings, tmp_path):
    # The citizen's first frame waits for none of them (cold start).
    from evaluator.terminal import staff_access, technician_mode
    from kiosk.ui.app import EvaluatorApp, KivyScheduler

    settings = make_settings(staff=STAFF, sync={"state_dir": str(tmp_path / "state")}, access={"hold_s": 0.5})
    AccessFile(settings.sync.state_dir).set_technician_password("97531")
    store = RatingStore(settings.store.path, Identity(settings.device.id, settings.unit.id, settings.counter.id))
    service = RatingService(settings, store, KivyScheduler())
    made: list[object] = []

    def make_technician(stop):
        made.append(technician_mode(settings, store, None, stop))
        return made[-1]

    allowed, scores = staff_access(settings, store)
    app = EvaluatorApp(settings, service, access=allowed, scores=scores, technician=make_technician)
    root = app.build()
    window.add_widget(root)
    service.start()
    try:
        manager = app.ui.manager
        citizen = {"rating", "waiting", "attract", "reasons", "callback", "thanks", "out_of_service"}
        assert set(manager.screen_names) == citizen and made == []
        hold(manager, top_right(manager), 0.8)
        assert manager.current == "sign_in" and set(manager.screen_names) == citizen | {"sign_in"}
        assert made == []
        sign_in(app, "__technician__", "97531")
        assert manager.current == "technician" and len(made) == 1
    finally:
        app.on_stop()
        window.remove_widget(root)
        store.close()
