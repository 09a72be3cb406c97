"""The sysfs backlight driver on a folder shaped like /sys/class/backlight (no panel here has one)."""
from __future__ import annotations

from pathlib import Path

import pytest

from drivers.backlight import Backlight, BacklightError


def device(root: Path, name: str, maximum: int | str = 255, brightness: int = 255) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "max_brightness").write_text(f"{maximum}\n")
    (folder / "brightness").write_text(f"{brightness}\n")
    return folder


def test_finds_the_first_usable_device_and_sets_shares_of_its_range(tmp_path):
    device(tmp_path, "acpi_video0", maximum=0)            # a firmware stub with no range is skipped
    folder = device(tmp_path, "intel_backlight", maximum=1200)
    light = Backlight.find(sysfs_class=tmp_path)
    assert light is not None and light.folder == folder and light.maximum == 1200
    light.set(0.15)
    assert (folder / "brightness").read_text() == "180\n"
    assert light.level == pytest.approx(0.15)
    light.set(0.0)                                        # the lowest step, never off
    assert (folder / "brightness").read_text() == "1\n"
    light.set(1.7)
    assert (folder / "brightness").read_text() == "1200\n"


def test_no_backlight_at_all_is_none(tmp_path):
    assert Backlight.find(sysfs_class=tmp_path / "missing") is None
    assert Backlight.find(sysfs_class=tmp_path) is None


def test_a_configured_device_that_does_not_work_names_the_file(tmp_path):
    with pytest.raises(BacklightError, match="nope/max_brightness"):
        Backlight.find(tmp_path / "nope")
    with pytest.raises(BacklightError, match="max_brightness"):
        Backlight(device(tmp_path, "garbled", maximum="lots"))


def test_a_write_that_fails_names_the_file(tmp_path):
    folder = device(tmp_path, "panel")
    light = Backlight(folder)
    (folder / "brightness").unlink()
    (folder / "brightness").mkdir()                      # unwritable even for root
    with pytest.raises(BacklightError, match="panel/brightness"):
        light.set(0.5)
