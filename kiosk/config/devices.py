"""The terminal's devices: sound prompts, a USB keyboard panel, the serial panel and the counter PC's port."""
from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator

from drivers.panel import PanelMode
from drivers.protocol import FrameError, parse_panel_body
from kiosk.config.base import Frozen


class PromptStyle(str, enum.Enum):
    SPEECH = "speech"  # a chime, then the words spoken (synthesized when the project is built)
    CHIME = "chime"    # tones only: no words, the same in every language


class SoundSettings(Frozen):
    """Prompts played when a rating is requested (您好，请您对我的服务进行评价) and after it (谢谢您的评价)."""

    enabled: bool = Field(True, description="Play the prompts; false: the terminal never opens the audio device.")
    volume: Annotated[float, Field(ge=0, le=1, description="Prompt loudness, share of full scale 0.0–1.0 (the "
                                                           "system's mixer volume still applies).")] = 0.8
    style: PromptStyle = Field(PromptStyle.SPEECH, description="Which shipped prompts play where no file is set.")
    request_prompt: Path | None = Field(None, description="WAV or OGG played when a rating is requested, in "
                                                          "either language; relative to the config file's "
                                                          "folder. null = the shipped prompt.")
    thanks_prompt: Path | None = Field(None, description="WAV or OGG played once a rating is stored; null = "
                                                         "the shipped prompt.")
    request_prompt_en: Path | None = Field(None, description="The request prompt for a citizen using English; "
                                                             "null = request_prompt if set, else the shipped "
                                                             "English one.")
    thanks_prompt_en: Path | None = Field(None, description="The thanks prompt in English; null as for "
                                                            "request_prompt_en.")

    @property
    def files(self) -> dict[str, Path]:
        """The configured (not shipped) files, by setting name."""
        return {name: getattr(self, name) for name in ("request_prompt", "thanks_prompt", "request_prompt_en",
                                                       "thanks_prompt_en") if getattr(self, name) is not None}


def sound_file_problem(path: Path) -> str | None:
    """Why `path` cannot be played as a prompt, or None."""
    try:
        with path.open("rb") as file:
            head = file.read(12)
    except FileNotFoundError:
        return "file not found"
    except IsADirectoryError:
        return "is a folder, not a sound file"
    except OSError as exc:
        return f"cannot read: {exc.strerror or exc}"
    if (head[:4] == b"RIFF" and head[8:12] == b"WAVE") or head[:4] == b"OggS":
        return None
    return "not a WAV or OGG file (a prompt must be .wav or .ogg)"


class KeyboardSettings(Frozen):
    """USB-HID panels type keys: each maps to a level (or to the solicit key)."""

    levels: dict[str, Annotated[int, Field(ge=1, le=5)]] = Field(
        default_factory=lambda: {"1": 5, "2": 4, "3": 3, "4": 2, "5": 1},
        description="Key name (as Kivy names it) → level.")
    solicit: str | None = Field(None, description="Key that acts as the staff 请评价 key; null = none.")


class SerialPortSettings(Frozen):
    port: str | None = Field(None, description="pyserial URL (/dev/evaluator-panel, socket://…); null = none.")
    baudrate: Annotated[int, Field(gt=0, description="bit/s, 8N1")] = 9600
    checksum: bool = Field(False, description="Append *XX checksums to the frames the terminal sends.")
    ping_interval_s: Annotated[float | None, Field(gt=0, description="Ping the far end this often; "
                                                   "null = never.")] = 30.0


class PanelSettings(SerialPortSettings):
    mode: PanelMode = PanelMode.LINE
    keys: dict[int, Annotated[int, Field(ge=1, le=5)]] = Field(
        default_factory=lambda: {1: 5, 2: 4, 3: 3, 4: 2, 5: 1}, description="Panel key K<d> → level.")
    byte_table: dict[int, str] = Field(
        default_factory=lambda: {0x31: "K1", 0x32: "K2", 0x33: "K3", 0x34: "K4", 0x35: "K5", 0x53: "S"},
        description="Byte mode: received byte → the EVP-1 frame it stands for.")

    @field_validator("keys")
    @classmethod
    def _key_digits(cls, value: dict[int, int]) -> dict[int, int]:
        bad = sorted(k for k in value if not 1 <= k <= 9)
        if bad:
            raise ValueError(f"panel keys are 1…9, got {bad}")
        return value

    @field_validator("byte_table")
    @classmethod
    def _byte_frames(cls, value: dict[int, str]) -> dict[int, str]:
        bad = sorted(k for k in value if not 0 <= k <= 255)
        if bad:
            raise ValueError(f"byte_table keys are bytes 0…255, got {bad}")
        frames = sorted(frame for frame in value.values() if isinstance(parse_panel_body(frame), FrameError))
        if frames:
            raise ValueError(f"byte_table values must be EVP-1 panel frames such as K1 or S, got {frames}")
        return value


class CounterLinkSettings(SerialPortSettings):
    """The counter PC's own port; with no port, it may share the panel's."""

    ping_interval_s: Annotated[float | None, Field(gt=0)] = None
