"""Technician mode against a real collector process: enroll on the screen, test the link, upload now."""
from __future__ import annotations

import pytest

from evaluator.terminal import staff_access, technician_mode
from kiosk.config import load
from kiosk.rating.access import AccessFile
from kiosk.rating.service import RatingService
from kiosk.store import Identity, RatingStore
from kiosk.store.tables import Channel, EventKind
from tests.kiosk.ui.conftest import pump, pump_until, tap
from tests.kiosk.ui.test_staff_screens import hold, sign_in, top_right
from tests.sync.conftest import collector, terminal_config  # noqa: F401  (fixtures: a real collector process)


@pytest.fixture
def terminal(window, terminal_config):  # noqa: F811
    from kiosk.ui.app import EvaluatorApp, KivyScheduler

    config = terminal_config(extra="staff: [{id: E1023, name: 李明}]\naccess: {hold_s: 0.5}\n")
    settings = load(config)
    AccessFile(settings.sync.state_dir).set_technician_password("97531")
    store = RatingStore(settings.store.path, Identity(settings.device.id, settings.unit.id, settings.counter.id))
    service = RatingService(settings, store, KivyScheduler())
    allowed, scores = staff_access(settings, store)
    app = EvaluatorApp(settings, service, access=allowed, scores=scores,
                       technician=lambda restart: technician_mode(settings, store, None, restart, str(config)))
    root = app.build()
    window.add_widget(root)
    service.start()
    pump()
    try:
        yield app, store, config
    finally:
        app.on_stop()
        window.remove_widget(root)
        store.close()


def type_on_keyboard(screen, text: str) -> None:
    keys = {button.text: button for button in screen.ids.keyboard.children}
    for char in text.lower():
        tap(keys[char])


def test_enroll_test_the_link_and_upload_from_the_screen(terminal, collector):  # noqa: F811
    app, store, config = terminal
    manager = app.ui.manager
    hold(manager, top_right(manager), 0.8)
    sign_in(app, "__technician__", "97531")
    technician = manager.get_screen("technician")

    tap(technician.ids.test_connection)                      # not enrolled yet: said so, nothing raised
    pump_until(lambda: "连接失败" in technician.message, timeout_s=10)
    assert technician.message == "连接失败：本机尚未登记，请先点“设备登记”"      # no command to run, in Chinese only

    tap(technician.ids.provision)
    form = manager.get_screen("provision")
    pump()                                                    # laid out before the first tap
    for _ in range(len("https://")):
        tap(next(b for b in form.ids.keyboard.children if b.text == "←"))
    type_on_keyboard(form, collector.url)
    tap(form.ids.code)
    type_on_keyboard(form, collector.enroll_code(unit="unit-9", counter="c-2"))
    pump()
    assert form.server == collector.url and form.code.isupper()
    tap(form.ids.submit)
    pump_until(lambda: "已登记为" in form.message, timeout_s=20)
    assert load(config).unit.id == "unit-9"                   # the centre's config, for the next start

    tap(form.ids.back)
    pump()
    tap(technician.ids.test_connection)
    pump_until(lambda: "已连接" in technician.message, timeout_s=20)
    enrolled = load(config)                                   # as the terminal starts after "restart"
    presses = RatingStore(enrolled.store.path, Identity(enrolled.device.id, enrolled.unit.id, enrolled.counter.id))
    for level in (5, 4, 1):
        presses.append_rating(level, Channel.TOUCH, "open")
    presses.close()
    tap(technician.ids.sync_now)
    pump_until(lambda: "已上传：3 条" in technician.message, timeout_s=20)
    assert collector.json("integrity")["devices"][0]["ratings_held"] == 3
    actions = [(e["detail"]["action"], e["detail"].get("ok")) for e in store.events_of(EventKind.TECHNICIAN_ACTION)]
    assert actions == [("opened", None), ("test_connection", False), ("provision", True),
                       ("test_connection", True), ("sync_now", True)]
