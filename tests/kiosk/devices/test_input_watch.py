"""The touchscreen watcher on a sysfs-shaped folder (no touch device exists on this machine: the one fake here)."""
from __future__ import annotations

import shutil
from pathlib import Path

from kiosk.devices.input_watch import TouchWatcher, touch_devices, touchscreens


def add_device(sys_input: Path, event: str, name: str, abs_caps: str, input_no: int | None = None) -> None:
    """As sysfs shows one: /sys/class/input/eventN/device is a link to the inputN device (numbered by the
    kernel from a counter that never goes back; `input_no` defaults to the event's number)."""
    device = sys_input / f"input{event.removeprefix('event') if input_no is None else input_no}"
    (device / "capabilities").mkdir(parents=True)
    (device / "capabilities" / "abs").write_text(abs_caps + "\n")
    (device / "name").write_text(name + "\n")
    (sys_input / event).mkdir()
    (sys_input / event / "device").symlink_to(f"../{device.name}")


def unplug(sys_input: Path, event: str) -> None:
    device = (sys_input / event / "device").resolve()
    shutil.rmtree(sys_input / event)
    shutil.rmtree(device)


def test_touchscreens_are_told_from_keyboards_by_their_absolute_axes(tmp_path):
    add_device(tmp_path, "event0", "AT Translated Set 2 keyboard", "0")
    add_device(tmp_path, "event1", "ILITEK Multi-Touch", "3273800000000003")   # ABS_MT_POSITION_X (0x35) and X/Y
    add_device(tmp_path, "event2", "eGalax Touch", "3")                       # ABS_X, ABS_Y only
    add_device(tmp_path, "event3", "Wide bitmap", "1 0")                      # two words: the high one is bit 64
    assert touch_devices(tmp_path) == {"input1:event1:ILITEK Multi-Touch", "input2:event2:eGalax Touch"}


def test_a_replugged_touchscreen_restarts_the_app_once(tmp_path):
    add_device(tmp_path, "event4", "ILITEK Multi-Touch", "3273800000000003")
    restarts = []
    watcher = TouchWatcher(lambda: restarts.append(True), tmp_path)
    watcher.check()
    assert restarts == []
    unplug(tmp_path, "event4")                           # cable pulled
    watcher.check()
    assert restarts == []                                # nothing to read until it is back
    add_device(tmp_path, "event7", "ILITEK Multi-Touch", "3273800000000003")  # re-enumerated as event7
    watcher.check()
    watcher.check()
    assert restarts == [True]


def test_a_screen_replugged_under_its_old_event_node_restarts_the_app_too(tmp_path):
    # The kernel hands the freed event4 to the screen again; only its inputN is new.
    add_device(tmp_path, "event4", "ILITEK Multi-Touch", "3273800000000003", input_no=11)
    restarts = []
    watcher = TouchWatcher(lambda: restarts.append(True), tmp_path)
    unplug(tmp_path, "event4")
    watcher.check()
    add_device(tmp_path, "event4", "ILITEK Multi-Touch", "3273800000000003", input_no=12)
    watcher.check()
    assert restarts == [True]


def test_exactly_one_input_provider_whatever_config_ini_held(tmp_path):
    """Kivy's default mouse + probesysfs pair would count each touch twice on a console."""
    import os
    import subprocess
    import sys

    (tmp_path / "config.ini").write_text("[input]\nmouse = mouse\n%(name)s = probesysfs\n"
                                         "mtdev_%(name)s = probesysfs,provider=mtdev\n", encoding="utf-8")
    script = ("import sys; from kiosk.config import Settings; from kiosk.ui.boot import prepare_kivy; "
              "prepare_kivy(Settings.model_validate({'ui': {'input': sys.argv[1]}}), offscreen=True); "
              "from kivy.config import Config; print(Config.items('input'))")
    seen = {}
    for mode in ("touchscreen", "desktop"):
        done = subprocess.run([sys.executable, "-c", script, mode], capture_output=True, text=True, timeout=60,
                              env={**os.environ, "KIVY_HOME": str(tmp_path), "KIVY_NO_ARGS": "1"})
        assert done.returncode == 0, done.stderr
        seen[mode] = done.stdout.strip().splitlines()[-1]
    assert seen["touchscreen"] == "[]"          # this machine has no touchscreen: no provider, none twice
    assert seen["desktop"] == "[('mouse', 'mouse,disable_multitouch')]"


def test_each_touchscreen_gets_one_provider_that_reads_it(tmp_path):
    """mtdev for a multitouch screen, hidinput for a single-touch one, nothing for a keyboard."""
    from kivy.config import ConfigParser

    from kiosk.config import InputMode
    from kiosk.ui.boot import _input_providers

    add_device(tmp_path, "event0", "AT Translated Set 2 keyboard", "0")
    add_device(tmp_path, "event3", "ILITEK Multi-Touch", "3273800000000003")
    add_device(tmp_path, "event5", "eGalax Touch", "3")                       # resistive: ABS_X, ABS_Y only
    config = ConfigParser(name="input-test")
    config.add_section("input")
    config.set("input", "mouse", "mouse")                                      # whatever was there goes
    _input_providers(config, InputMode.TOUCHSCREEN, touchscreens(tmp_path))
    assert sorted(config.items("input")) == [("touch_event3", "mtdev,/dev/input/event3"),
                                             ("touch_event5", "hidinput,/dev/input/event5")]
    _input_providers(config, InputMode.DESKTOP, touchscreens(tmp_path))
    assert config.items("input") == [("mouse", "mouse,disable_multitouch")]


def test_capability_words_are_read_in_the_kernels_word_size(tmp_path):
    # The same multitouch screen as a 32-bit kernel writes it: ABS_MT_POSITION_X (bit 53) in the high word.
    add_device(tmp_path, "event1", "ILITEK Multi-Touch", "660800 3")
    assert [s.multitouch for s in touchscreens(tmp_path, word_bits=32)] == [True]
    assert [s.multitouch for s in touchscreens(tmp_path, word_bits=64)] == [False]   # read as 64-bit: ABS_X only
