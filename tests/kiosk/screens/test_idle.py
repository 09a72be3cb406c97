"""Inactivity (kiosk.screens.idle) with a clock the test moves, and which views may turn into the attract screen."""
from __future__ import annotations

import pytest

from kiosk.config import Locale, Mode
from kiosk.rating.service import Request, State, View
from kiosk.screens.idle import IdleSwitch
from kiosk.screens.presenter import Presenter, ScreenName, waits_for_nobody
from tests.kiosk.screens.test_dimmer import Clock

READY = View(state=State.AWAITING, mode=Mode.OPEN, accepting=True)


def test_turns_idle_once_after_the_idle_time_while_allowed_and_activity_ends_it():
    clock = Clock()
    switch = IdleSwitch(60, clock)
    clock.now = 500
    assert switch.tick() is False and switch.due_in() is None        # not allowed yet
    assert switch.allow(True) is False and switch.due_in() == 60     # allowing counts as activity
    clock.now = 560
    assert switch.tick() is True and switch.idle                      # it just turned idle…
    assert switch.tick() is False and switch.due_in() is None         # …once
    assert switch.activity() is True and not switch.idle              # the touch that ends it
    assert switch.activity() is False
    switch.go_idle()
    assert switch.allow(False) is True and not switch.idle           # a screen that may not idle ends it


@pytest.mark.parametrize("after_s", [60, None], ids=["idles", "never idles"])
def test_quiet_time_counts_from_the_last_activity_while_the_screen_allows_idling(after_s):
    clock = Clock()
    switch = IdleSwitch(after_s, clock)
    clock.now = 100
    assert switch.quiet_s() == 0                                      # a rating in progress: nobody left yet
    switch.allow(True)
    clock.now = 130
    assert switch.quiet_s() == 30
    switch.activity()
    clock.now = 135
    assert switch.quiet_s() == 5
    switch.allow(False)
    assert switch.quiet_s() == 0


def test_never_idles_without_an_idle_time():
    clock = Clock()
    switch = IdleSwitch(None, clock)
    switch.allow(True)
    clock.now = 1e9
    assert switch.tick() is False and switch.due_in() is None


@pytest.mark.parametrize("view, expected", [
    (READY, True),
    (View(state=State.AWAITING, mode=Mode.OPEN, accepting=False), True),          # cooldown: still nobody's
    (View(state=State.AWAITING, mode=Mode.OPEN, accepting=True,
          request=Request(case_no="2026A-1", staff_id=None, source="counter")), False),   # a citizen is asked
    (View(state=State.AWAITING, mode=Mode.SOLICITED, accepting=True), False),
    (View(state=State.IDLE, mode=Mode.SOLICITED, accepting=False), False),      # has its own waiting screen
    (View(state=State.THANKS, mode=Mode.OPEN, accepting=False), False),
], ids=["ready", "cooldown", "request", "solicited", "idle", "thanks"])
def test_only_open_modes_ready_rating_screen_turns_into_the_attract_screen(settings, view, expected):
    assert waits_for_nobody(view) is expected
    model = Presenter(settings).present(view, Locale.ZH, attract=True)
    assert (model.screen is ScreenName.ATTRACT) is expected           # otherwise the service's view, as itself


def test_the_attract_screen_has_the_waiting_screens_content_without_its_solicit_key(settings):
    settings = settings.model_copy(update={"citizen": settings.citizen.model_copy(
        update={"questionnaire_url": "https://zwfw.example.gov.cn/yijian"})})
    presenter = Presenter(settings)
    model = presenter.present(READY, Locale.EN, attract=True)
    assert presenter.present(READY, Locale.EN).screen is ScreenName.RATING
    assert (model.unit, model.counter) == (settings.unit.name_en, settings.counter.name_en)
    assert model.hours is not None and model.qr_payload == "https://zwfw.example.gov.cn/yijian"
    assert model.subtitle == "Touch the screen to rate our service" and model.solicit_label == ""
