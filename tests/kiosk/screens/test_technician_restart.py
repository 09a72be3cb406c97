"""重启程序 without Kivy: asked twice, and where no systemd would start the terminal again, it starts itself."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from kiosk.config import Locale
from kiosk.screens.technician import Technician
from kiosk.screens.technician_restart import RestartKind, SecondTap, relaunch_command, restart_kind
from kiosk.store.tables import EventKind


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_systemd_is_recognised_by_what_it_puts_in_the_environment() -> None:
    assert restart_kind({}) is RestartKind.RELAUNCH
    assert restart_kind({"PATH": "/usr/bin", "NOTIFY_SOCKET": ""}) is RestartKind.RELAUNCH
    assert restart_kind({"NOTIFY_SOCKET": "/run/systemd/notify"}) is RestartKind.EXIT
    assert restart_kind({"INVOCATION_ID": "5b1e2c0d8f0a4b6e9d3c2a1f0e9d8c7b"}) is RestartKind.EXIT


def test_the_relaunch_repeats_the_command_as_it_was_given() -> None:
    assert relaunch_command("/usr/bin/python3", ["python3", "-m", "evaluator.cli", "run", "--config", "c.yaml"]) \
        == ["/usr/bin/python3", "-m", "evaluator.cli", "run", "--config", "c.yaml"]
    assert relaunch_command("/opt/venv/bin/python", ["/opt/venv/bin/python", "/opt/venv/bin/evaluator", "run"]) \
        == ["/opt/venv/bin/python", "/opt/venv/bin/evaluator", "run"]


def test_a_second_tap_counts_only_within_the_window() -> None:
    clock = Clock()
    tap = SecondTap(window_s=5.0, clock=clock)
    assert tap.tap() is False and tap.armed
    clock.now += 6
    assert not tap.armed and tap.tap() is False          # too late: it asks again
    clock.now += 4.9
    assert tap.tap() is True and not tap.armed
    assert tap.tap() is False                            # a confirmation is used up


@pytest.fixture
def make_technician(settings, store):
    def make(environ, relaunch=True):
        calls: list[str] = []
        clock = Clock()
        technician = Technician(settings, store, panels=list, light_key=lambda _key: False,
                                restart=lambda: calls.append("restart"),
                                relaunch=(lambda: calls.append("relaunch")) if relaunch else None,
                                environ=environ)
        technician.restart_tap = SecondTap(5.0, clock)
        return technician, calls, clock
    return make


@pytest.mark.parametrize("environ, expected, how", [
    ({}, ["relaunch", "restart"], "relaunch"),
    ({"NOTIFY_SOCKET": "/run/systemd/notify"}, ["restart"], "exit"),
    ({"INVOCATION_ID": "5b1e"}, ["restart"], "exit"),
])
def test_restart_asks_first_then_ends_or_relaunches(make_technician, store, environ, expected, how) -> None:
    technician, calls, clock = make_technician(environ)
    assert technician.model(Locale.ZH).labels["restart"] == "重启程序"
    assert technician.restart(Locale.ZH) == "5 秒内再点“确认重启”即重启程序"
    assert calls == [] and technician.model(Locale.ZH).labels["restart"] == "确认重启"
    assert technician.model(Locale.EN).labels["restart"] == "Confirm restart"
    assert store.events_of(EventKind.TECHNICIAN_ACTION) == []             # asking is no action
    clock.now += 2
    assert technician.restart(Locale.EN) == "Restarting…"
    assert calls == expected
    assert [e["detail"] for e in store.events_of(EventKind.TECHNICIAN_ACTION)] == [{"action": "restart", "how": how}]


def test_a_late_second_tap_asks_again(make_technician) -> None:
    technician, calls, clock = make_technician({})
    technician.restart(Locale.ZH)
    clock.now += 5.5
    assert technician.model(Locale.ZH).labels["restart"] == "重启程序"      # the button went back by itself
    assert technician.restart(Locale.ZH) == technician.restart_ask(Locale.ZH) and calls == []
    technician.opened()                                                   # a new visit starts unarmed
    assert technician.restart(Locale.ZH) == technician.restart_ask(Locale.ZH) and calls == []


def test_without_a_relaunch_the_restart_only_ends(make_technician) -> None:
    technician, calls, _clock = make_technician({}, relaunch=False)
    technician.restart(Locale.ZH)
    technician.restart(Locale.ZH)
    assert calls == ["restart"]


def test_relaunch_at_exit_starts_the_same_command_again_in_the_same_process(tmp_path) -> None:
    # A real process: it asks for the relaunch and exits; the relaunched one (same pid: exec, not a child)
    # finds its first run written down and just exits.
    runs = tmp_path / "runs"
    script = tmp_path / "program.py"
    script.write_text(textwrap.dedent(f"""
        import os, pathlib, sys
        from evaluator.terminal import relaunch_at_exit

        runs = pathlib.Path({str(runs)!r})
        before = runs.read_text().splitlines() if runs.exists() else []
        runs.write_text("\\n".join([*before, f"{{os.getpid()}} {{' '.join(sys.argv[1:])}}"]))
        if not before:
            relaunch_at_exit()
    """))
    env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "INVOCATION_ID")}
    done = subprocess.run([sys.executable, str(script), "run", "--config", "x.yaml"], env=env, cwd=os.getcwd(),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    first, second = runs.read_text().splitlines()
    assert first == second and first.endswith(" run --config x.yaml")
