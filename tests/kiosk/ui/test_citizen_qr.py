"""QR codes for the citizen's phone: the signed complaint link after a bad review, the questionnaire while waiting.

Each screen is read back from the window as drawn and its QR code decoded by zbar: what a phone would read.
"""
from __future__ import annotations

import pytest

from contract import verify_complaint_url
from evaluator.terminal import complaint_link
from sync.client import Credentials
from tests.kiosk.ui.conftest import pump, pump_until, read_qr_codes, store_for, tap
from tests.kiosk.ui.test_rating_flow import level_button

COMPLAINT = "https://12345.example.gov.cn/complaint?unit=unit-0001"
QUESTIONNAIRE = "https://zwfw.example.gov.cn/yijian"


@pytest.fixture
def terminal(mounted, make_settings, tmp_path):
    def build(enrolled: bool = True, **overrides):
        settings = make_settings(sync={"state_dir": str(tmp_path / "state")},
                                 citizen={"complaint_url": COMPLAINT, "questionnaire_url": QUESTIONNAIRE},
                                 timings={"thanks_s": 5.0, "cooldown_s": 0.5}, **overrides)
        if enrolled:
            Credentials("http://centre", "dev-0042", "s3cret").save(settings.sync.state_dir)
        store = store_for(settings, "dev-0042")
        return mounted.mount(settings, store, complaint_link=complaint_link(settings)), store

    return build


def bad_review(app) -> None:
    manager = app.ui.manager
    tap(level_button(manager, 1))
    pump_until(lambda: manager.current == "reasons")
    pump()
    tap(manager.get_screen("reasons").ids.skip)
    pump_until(lambda: manager.current == "thanks")
    pump(3)


def test_a_bad_review_shows_a_complaint_qr_signed_for_that_rating(terminal):
    app, store = terminal()
    bad_review(app)
    thanks = app.ui.manager.get_screen("thanks")
    [scanned] = read_qr_codes(thanks)                                       # what a phone reads off the screen
    assert scanned == thanks.model.qr_payload and scanned.startswith(COMPLAINT + "&")
    rating = store.recent_ratings(1)[0]
    assert verify_complaint_url(scanned, {"dev-0042": "s3cret"}.get) == rating["uuid"]
    assert verify_complaint_url(scanned.replace(rating["uuid"][:8], "ffffffff"), {"dev-0042": "s3cret"}.get) is None
    assert "投诉" in thanks.model.qr_caption


def test_a_good_rating_shows_no_complaint_qr(terminal):
    app, _store = terminal()
    manager = app.ui.manager
    tap(level_button(manager, 5))
    pump_until(lambda: manager.current == "thanks")
    pump(3)
    thanks = manager.get_screen("thanks")
    assert thanks.model.qr_payload == "" and read_qr_codes(thanks) == []


def test_before_enrollment_the_plain_complaint_page_is_shown(terminal):
    app, _store = terminal(enrolled=False)
    bad_review(app)
    assert read_qr_codes(app.ui.manager.get_screen("thanks")) == [COMPLAINT]


def test_the_waiting_screen_shows_the_questionnaire(terminal):
    app, _store = terminal(mode="solicited")
    waiting = app.ui.manager.get_screen("waiting")
    assert app.ui.manager.current == "waiting"
    pump(3)
    assert read_qr_codes(waiting) == [QUESTIONNAIRE]
