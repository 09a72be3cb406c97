"""The terminal's audio output is Kivy's (SDL2's mixer): kiosk.devices.sound plays what this opens."""
from __future__ import annotations

from typing import Any


def load_sound(path: str) -> Any:
    """A Kivy sound for the file, or None; SDL2 gives a sound of length 0 when no device could be opened."""
    from kivy.core.audio import SoundLoader  # imported late: the audio provider starts with the first prompt

    return SoundLoader.load(path)
