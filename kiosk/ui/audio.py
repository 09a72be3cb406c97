"""The terminal's audio output is Kivy's (SDL2's mixer): kiosk.devices.sound plays what this opens."""
from __future__ import annotations

import logging
from typing import Any

# Kivy's audio providers log a missing sound device as CRITICAL (and each file after it as a WARNING); the
# prompt player says it once, as a WARNING of its own. Theirs go to DEBUG, where they still help a technician.
_KIVY_AUDIO = ("AudioSDL2:", "Audio:", "AudioGstplayer:", "AudioFFPy:")


class _AudioToDebug(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.DEBUG and str(record.msg).startswith(_KIVY_AUDIO):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger("kivy").isEnabledFor(logging.DEBUG)
        return True


def load_sound(path: str) -> Any:
    """A Kivy sound for the file, or None; SDL2 gives a sound of length 0 when no device could be opened."""
    kivy_log = logging.getLogger("kivy")
    quiet = _AudioToDebug()
    kivy_log.addFilter(quiet)
    try:
        from kivy.core.audio import SoundLoader  # imported late: the audio provider starts with the first prompt

        return SoundLoader.load(path)
    finally:
        kivy_log.removeFilter(quiet)
