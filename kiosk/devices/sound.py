"""Voice prompts: "please rate" when a rating is requested, "thank you" once it is stored.

Which prompt a change of the service's view calls for, and which file plays
it, are pure functions of the settings and the views. `PromptPlayer` plays
them through the loader the UI hands it (Kivy's audio, the SDL2 mixer), so it
imports no Kivy; it loads each file once, and never lets a missing or broken audio device reach the caller: it
logs once and stays silent. SDL opens the device once per process, so a
speaker plugged in later is heard only after a restart: `sound_outputs`
names the cards that can play, for the app to notice a new one.
"""
from __future__ import annotations

import enum
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from kiosk.config import Locale, PromptStyle, SoundSettings
from kiosk.rating.service import State, View

log = logging.getLogger(__name__)

SOUNDS_DIR = Path(__file__).parent.parent / "sounds"
PROC_ASOUND = Path("/proc/asound")


class Sound(Protocol):
    """A loaded sound as the UI's audio hands it back (Kivy's Sound)."""

    length: float      # s; 0 when the mixer could not open a device or decode the file
    volume: float

    def play(self) -> object: ...

    def stop(self) -> object: ...


# Opens a sound file for the output the UI drives; None when it cannot.
SoundLoader = Callable[[str], Sound | None]


class Prompt(str, enum.Enum):
    REQUEST = "request"   # 您好，请您对我的服务进行评价
    THANKS = "thanks"     # 谢谢您的评价


def prompt_for(previous: View | None, current: View) -> Prompt | None:
    """The prompt that the step from `previous` to `current` calls for, if any.

    A request is asked for when a new one opens (solicited mode; open mode asks
    nobody, the screen simply waits). Thanks follow each stored rating once,
    after its reasons if it was a bad review. Re-showing the same view (a
    language switch, staff screens closing) calls for nothing.
    """
    # Identity, not equality: two requests with the same (empty) case number are two services.
    if (current.state is State.AWAITING and current.request is not None
            and (previous is None or previous.request is not current.request)):
        return Prompt.REQUEST
    if (current.state is State.THANKS and current.rating is not None
            and (previous is None or previous.state is not State.THANKS or previous.rating != current.rating)):
        return Prompt.THANKS
    return None


def prompt_file(sound: SoundSettings, prompt: Prompt, locale: Locale) -> Path:
    """The file that plays `prompt` for a citizen reading `locale`.

    A configured file wins (the Chinese setting serves English too unless an
    `_en` one is set); else the shipped prompt of the style and language, else
    the shipped chime, which every build has.
    """
    chinese: Path | None = getattr(sound, f"{prompt.value}_prompt")
    english: Path | None = getattr(sound, f"{prompt.value}_prompt_en")
    configured = (english or chinese) if locale is Locale.EN else chinese
    if configured is not None:
        return configured
    spoken = SOUNDS_DIR / f"{prompt.value}-{locale.value}.wav"
    if sound.style is PromptStyle.SPEECH and spoken.is_file():
        return spoken
    return SOUNDS_DIR / f"{prompt.value}-chime.wav"


def sound_outputs(proc_asound: Path = PROC_ASOUND) -> frozenset[str]:
    """The sound cards that can play (they have a playback PCM), as "cardN:id"; none without ALSA."""
    found = set()
    for card in proc_asound.glob("card[0-9]*"):
        try:
            if any(card.glob("pcm*p")):
                found.add(f"{card.name}:{(card / 'id').read_text().strip()}")
        except OSError:
            continue                  # gone between glob and read: it is being unplugged
    return frozenset(found)


class PromptPlayer:
    """Plays the prompt each view change calls for; one at a time, never raising."""

    def __init__(self, sound: SoundSettings, loader: SoundLoader) -> None:
        """`loader`: opens a sound file for the UI's audio output (kiosk.ui's Kivy SoundLoader), None when it
        cannot; this module plays only what it is handed, so it needs no Kivy of its own."""
        self._sound = sound
        self._open = loader
        self._lock = threading.Lock()        # views may arrive from the panel thread in headless use
        self._previous: View | None = None
        self._playing: Sound | None = None
        self._silent = False                 # the device failed once: no more tries, no more logs
        self._loaded: dict[Path, Sound] = {}
        for prompt in Prompt:
            for locale in Locale:
                self._load(prompt_file(sound, prompt, locale))

    def show(self, view: View, locale: Locale) -> Prompt | None:
        """The service shows `view` to a citizen reading `locale`: play what it calls for; returns it."""
        with self._lock:
            prompt, self._previous = prompt_for(self._previous, view), view
            if prompt is not None:
                self._play(prompt_file(self._sound, prompt, locale))
            return prompt

    def stop(self) -> None:
        with self._lock:
            self._halt()

    @property
    def silent(self) -> bool:
        """The device (or a file) failed: nothing plays until the terminal starts again."""
        return self._silent

    def _load(self, path: Path) -> None:
        if path in self._loaded or self._silent:
            return
        try:
            sound = self._open(str(path))
        except Exception as exc:  # no audio provider at all: the terminal still rates, in silence
            self._go_silent(f"cannot load {path}: {exc}")
            return
        # SDL2 hands back a sound of length 0 when the mixer could not open a device (or decode the file).
        if sound is None or not sound.length:
            self._go_silent(f"no audio output for {path} (no sound device, or a file SDL cannot decode)")
            return
        sound.volume = self._sound.volume
        self._loaded[path] = sound

    def _play(self, path: Path) -> None:
        self._halt()                         # a prompt still playing gives way to the next
        sound = self._loaded.get(path)
        if sound is None:
            return
        try:
            sound.play()
            self._playing = sound
        except Exception as exc:
            self._go_silent(f"cannot play {path}: {exc}")

    def _halt(self) -> None:
        playing, self._playing = self._playing, None
        if playing is not None:
            try:
                playing.stop()
            except Exception:
                log.debug("stopping a prompt failed", exc_info=True)

    def _go_silent(self, why: str) -> None:
        if not self._silent:
            log.warning("voice prompts off until restart: %s (under systemd the terminal restarts by itself "
                        "once a sound output is plugged in and nobody is at the counter)", why)
        self._silent = True
        self._loaded.clear()


def open_prompts(sound: SoundSettings, loader: SoundLoader) -> PromptPlayer | None:
    """The player for these settings; None when prompts are off, so the audio device is never opened."""
    return PromptPlayer(sound, loader) if sound.enabled else None
