"""Dimming logic with a clock the test moves."""
from __future__ import annotations

import pytest

from kiosk.screens.dimmer import Brightness, Dimmer


class Recorder:
    def __init__(self, fail: bool = False):
        self.shares: list[float] = []
        self.fail = fail

    def set(self, share: float) -> None:
        if self.fail:
            raise OSError("write error")
        self.shares.append(share)


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


def test_dims_after_the_idle_time_only_where_allowed_and_wakes_on_activity(clock):
    out = Recorder()
    dimmer = Dimmer(60, 1.0, 0.15, out, clock=clock)
    assert out.shares == [1.0] and dimmer.due_in() is None          # not allowed yet: never dims
    clock.now = 500
    dimmer.tick()
    assert dimmer.state is Brightness.AWAKE

    dimmer.allow(True)                                               # counts as activity: 60 s from now
    assert dimmer.due_in() == 60
    clock.now = 559
    dimmer.tick()
    assert dimmer.state is Brightness.AWAKE
    clock.now = 560
    dimmer.tick()
    assert dimmer.state is Brightness.DIMMED and out.shares == [1.0, 0.15] and dimmer.due_in() is None

    assert dimmer.activity() is True                                 # the waking touch
    assert dimmer.state is Brightness.AWAKE and out.shares[-1] == 1.0
    assert dimmer.activity() is False                                # later touches act normally
    clock.now = 600
    dimmer.allow(False)                                              # a rating in progress stays lit
    clock.now = 10_000
    dimmer.tick()
    assert dimmer.state is Brightness.AWAKE


def test_never_dims_without_an_idle_time(clock):
    dimmer = Dimmer(None, 1.0, 0.15, Recorder(), clock=clock)
    dimmer.allow(True)
    clock.now = 1e9
    dimmer.tick()
    assert dimmer.state is Brightness.AWAKE and dimmer.due_in() is None


def test_a_failing_backlight_hands_over_to_the_fallback(clock):
    backlight, veil = Recorder(), Recorder()
    dimmer = Dimmer(10, 0.8, 0.1, backlight, fallback=veil, clock=clock)
    dimmer.allow(True)
    backlight.fail = True                                            # unplugged, or permissions changed
    clock.now = 10
    dimmer.tick()
    assert dimmer.state is Brightness.DIMMED and veil.shares == [0.1]
    dimmer.activity()
    assert veil.shares == [0.1, 0.8] and backlight.shares == [0.8]


def test_without_a_fallback_the_error_is_raised(clock):
    with pytest.raises(OSError):
        Dimmer(10, 1.0, 0.1, Recorder(fail=True), clock=clock)
