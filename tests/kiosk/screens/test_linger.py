"""The complaint QR code kept on screen to be scanned (kiosk.screens.linger), over the real service on a real SQLite
store; time is virtual (see virtual_time.py). The service's own rules must not change under it."""
from __future__ import annotations

import pytest

from kiosk.rating.service import PressOutcome, State
from kiosk.screens.linger import ComplaintLinger
from kiosk.store.tables import Channel
from tests.kiosk.rating.test_service import make_service

COMPLAINT = {"citizen": {"complaint_url": "https://12345.example.gov.cn/tousu"},
             "timings": {"thanks_s": 3.0, "cooldown_s": 5.0, "complaint_qr_s": 15.0}}


@pytest.fixture
def terminal(make_settings, store):
    """Service, linger and a `drawn()` that says what the screen would draw now."""
    def build(**overrides):
        settings = make_settings(**{**COMPLAINT, **overrides})
        service, clock = make_service(settings, store)
        linger = ComplaintLinger(settings, clock.monotonic)
        return service, clock, linger, lambda: linger.view_to_draw(service.view)

    return build


def bad_review(service, drawn):
    """Rate 1, skip the reasons: the thanks the screen draws."""
    if service.view.state is State.IDLE:
        assert service.solicit(case_no="A-0")
    assert service.press(1, Channel.TOUCH) is PressOutcome.COUNTED
    service.skip_reasons()
    thanks = drawn()
    assert thanks.state is State.THANKS
    return thanks


def test_the_complaint_qr_stays_after_the_thanks_and_the_next_press_counts_as_ever(terminal, store):
    service, clock, linger, drawn = terminal()
    thanks = bad_review(service, drawn)
    assert thanks.state is State.THANKS and linger.remaining_s() == pytest.approx(15.0)
    clock.advance(3.0)                               # the service's thanks is over, as after any rating
    assert service.view.state is State.AWAITING and drawn() is thanks
    assert service.press(5, Channel.PANEL) is PressOutcome.SUPPRESSED     # the cooldown, no longer nor shorter
    clock.advance(2.0)
    assert service.view.accepting and drawn() is thanks
    assert service.press(4, Channel.PANEL) is PressOutcome.COUNTED        # the next citizen's press counts
    assert drawn().state is State.THANKS and drawn().rating.level == 4 and linger.remaining_s() is None
    assert store.count_ratings() == 2


def test_it_goes_after_complaint_qr_s(terminal):
    service, clock, linger, drawn = terminal()
    thanks = bad_review(service, drawn)
    clock.advance(14.9)
    assert drawn() is thanks
    clock.advance(0.1)
    assert drawn() is service.view and drawn().state is State.AWAITING and linger.remaining_s() is None


def test_a_touch_closes_it_once_the_services_thanks_is_over(terminal):
    service, clock, linger, drawn = terminal()
    bad_review(service, drawn)
    linger.dismiss()
    assert drawn().state is State.THANKS              # the thanks itself still shows its thanks_s
    clock.advance(3.0)
    assert drawn() is service.view and drawn().state is State.AWAITING


def test_a_request_is_drawn_at_once(terminal):
    service, clock, _linger, drawn = terminal(mode="solicited")
    bad_review(service, drawn)
    clock.advance(3.0)
    assert service.view.state is State.IDLE and drawn().state is State.THANKS
    assert service.solicit(case_no="A-1")
    assert drawn() is service.view and drawn().request.case_no == "A-1"


def test_only_a_thanks_with_the_complaint_qr_stays(terminal):
    service, clock, linger, drawn = terminal()
    assert service.press(5, Channel.TOUCH) is PressOutcome.COUNTED
    assert drawn().state is State.THANKS and linger.remaining_s() is None
    clock.advance(3.0)
    assert drawn() is service.view and drawn().state is State.AWAITING


def test_without_a_complaint_page_nothing_stays(terminal):
    service, clock, _linger, drawn = terminal(citizen={"complaint_url": None})
    bad_review(service, drawn)
    clock.advance(3.0)
    assert drawn().state is State.AWAITING
