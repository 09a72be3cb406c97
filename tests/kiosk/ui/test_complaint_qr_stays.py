"""The complaint QR code stays up long enough to scan, and a touch closes it: real window, real store, simulated
touch (the state logic: tests/kiosk/screens/test_linger.py)."""
from __future__ import annotations

from kiosk.rating.service import State
from tests.kiosk.ui.conftest import pump, pump_until, tap
from tests.kiosk.ui.test_rating_flow import level_button, shown

COMPLAINT = "https://12345.example.gov.cn/complaint?unit=unit-0001"


def bad_review_thanks(terminal, complaint_qr_s: float):
    app, store = terminal(citizen={"complaint_url": COMPLAINT},
                          timings={"thanks_s": 0.3, "cooldown_s": 0.3, "complaint_qr_s": complaint_qr_s})
    manager = app.ui.manager
    tap(level_button(manager, 1))
    pump_until(lambda: shown(manager, "reasons"))
    pump()
    tap(manager.get_screen("reasons").ids.skip)
    pump_until(lambda: shown(manager, "thanks"))
    assert manager.get_screen("thanks").model.qr_payload == COMPLAINT
    # The service's thanks ends after thanks_s as ever, and its cooldown too; the screen keeps the code.
    pump_until(lambda: app.service.view.state is State.AWAITING and app.service.view.accepting)
    pump(3)
    assert manager.current == "thanks"
    return app, store, manager


def test_a_touch_closes_the_complaint_qr_and_the_next_citizen_rates(terminal):
    app, store, manager = bad_review_thanks(terminal, complaint_qr_s=60.0)
    tap(manager.get_screen("thanks"))
    pump_until(lambda: shown(manager, "rating"))
    pump()
    tap(level_button(manager, 5))
    assert store.count_ratings() == 2


def test_the_complaint_qr_goes_by_itself_after_complaint_qr_s(terminal):
    _app, _store, manager = bad_review_thanks(terminal, complaint_qr_s=1.5)
    pump_until(lambda: shown(manager, "rating"), timeout_s=5)
