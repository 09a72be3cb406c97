"""A device that appears after start, on procfs-shaped folders (no sound card exists on this machine: the one
fake here), and the sound cards that can play."""
from __future__ import annotations

import shutil
from pathlib import Path

from kiosk.devices.device_watch import DeviceWatcher
from kiosk.devices.sound import sound_outputs


def add_card(proc_asound: Path, number: int, card_id: str, *pcms: str) -> None:
    card = proc_asound / f"card{number}"
    card.mkdir(parents=True)
    (card / "id").write_text(card_id + "\n")
    for pcm in pcms:
        (card / pcm).mkdir()


def test_sound_outputs_are_the_cards_with_a_playback_pcm(tmp_path):
    add_card(tmp_path, 0, "PCH", "pcm0p", "pcm0c")
    add_card(tmp_path, 1, "Webcam", "pcm0c")                  # a microphone only
    add_card(tmp_path, 2, "Device", "pcm0p")                  # a USB speaker
    (tmp_path / "cards").write_text(" 0 [PCH   ]: HDA-Intel\n")  # procfs files beside the cards
    assert sound_outputs(tmp_path) == {"card0:PCH", "card2:Device"}
    assert sound_outputs(tmp_path / "no-alsa") == frozenset()   # no ALSA in the kernel at all


def test_a_device_the_app_did_not_start_with_is_told_from_then_on(tmp_path):
    add_card(tmp_path, 0, "PCH", "pcm0p")
    watcher = DeviceWatcher("sound output", lambda: sound_outputs(tmp_path))
    assert watcher.check() is False
    shutil.rmtree(tmp_path / "card0")                        # unplugged: nothing new to open
    assert watcher.check() is False
    add_card(tmp_path, 0, "PCH", "pcm0p")                    # the same one back: still nothing new
    assert watcher.check() is False
    add_card(tmp_path, 1, "Device", "pcm0p")
    assert watcher.check() is True
    shutil.rmtree(tmp_path / "card1")
    assert watcher.check() is True and watcher.appeared      # once seen, the app acts on it when it can
