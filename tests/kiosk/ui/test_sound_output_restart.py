"""Voice prompts silent for want of a sound output: once one is plugged in, the real terminal (offscreen window,
real store) restarts itself, under systemd and only when nobody is at the counter. The sound cards are a
callable the test sets (no sound card exists on this machine); the restart is the App's own stop, recorded."""
from __future__ import annotations

import socket
import time

import pytest

from kiosk.rating.service import State
from tests.kiosk.ui.conftest import FAST, pump, pump_until, store_for, tap


@pytest.fixture
def systemd(tmp_path, monkeypatch):
    """A NOTIFY_SOCKET that listens, as systemd's would: the terminal knows something will start it again."""
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    yield
    sock.close()


@pytest.fixture
def silent_terminal(mounted, make_settings, tmp_path, monkeypatch):
    """A terminal whose prompts went silent at start (a prompt SDL cannot play), with short checks."""
    import kiosk.ui.app as app_module

    monkeypatch.setattr(app_module, "SOUND_CHECK_S", 0.05)
    monkeypatch.setattr(app_module, "RESTART_QUIET_S", 0.6)
    broken = tmp_path / "request.wav"
    broken.write_bytes(b"RIFF, but not a sound")
    cards = {"now": frozenset({"card0:PCH"})}

    def build():
        settings = make_settings(sound={"request_prompt": str(broken)},
                                 timings={"thanks_s": 0.3, "cooldown_s": 0.3, "reason_timeout_s": 60})
        app = mounted.mount(settings, store_for(settings), sound_outputs=lambda: cards["now"])
        stops: list[float] = []
        monkeypatch.setattr(app, "stop", lambda *_args: stops.append(time.monotonic()))
        assert app.ui.prompts is not None and app.ui.prompts.silent
        return app, stops

    return build, cards


def test_a_sound_output_plugged_in_restarts_the_terminal_once_nobody_is_at_the_counter(systemd, silent_terminal):
    build, cards = silent_terminal
    app, stops = build()
    watch = app.watch_sound()
    try:
        pump_until(lambda: app.ui.quiet_s() > 1.0, timeout_s=10)
        assert stops == []                                   # quiet, but no new sound output
        rating = app.ui.manager.get_screen("rating")
        tap(next(button for button in rating.ids.levels.children if button.level == 1))
        pump_until(lambda: app.service.view.state is State.REASONS)
        cards["now"] = frozenset({"card0:PCH", "card1:Device"})   # a USB speaker, plugged in mid-rating
        started = time.monotonic()
        while time.monotonic() - started < 1.5:
            pump()
        assert stops == []                                   # a citizen is choosing reasons: no restart
        tap(app.ui.manager.get_screen("reasons").ids.skip)
        pump_until(lambda: app.ui.quiet_s() > 0)             # thanks, cooldown, then the screen waits again
        quiet_from = time.monotonic()
        pump_until(lambda: bool(stops), timeout_s=10)
        assert stops[0] - quiet_from >= 0.6 - 0.05           # only after RESTART_QUIET_S untouched
        pump(10)
        assert len(stops) == 1                               # once: the watch ends with the restart
    finally:
        watch.cancel()


def test_outside_systemd_nothing_would_start_it_again_so_it_keeps_running_silent(silent_terminal, monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    build, _cards = silent_terminal
    app, _stops = build()
    assert app.watch_sound() is None


def test_prompts_that_play_need_no_watch(systemd, mounted, make_settings):
    settings = make_settings(**FAST)
    app = mounted.mount(settings, store_for(settings), sound_outputs=lambda: frozenset())
    assert app.ui.prompts is not None and not app.ui.prompts.silent   # SDL's dummy device plays
    assert app.watch_sound() is None
