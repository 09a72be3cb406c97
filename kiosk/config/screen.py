"""The screen and the staff's way in: the hidden corner, sign-in limits, window, touch, sizes and dimming."""
from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator, model_validator

from kiosk.config.base import Frozen


class Corner(str, enum.Enum):
    TOP_LEFT = "top_left"
    TOP_RIGHT = "top_right"
    BOTTOM_LEFT = "bottom_left"
    BOTTOM_RIGHT = "bottom_right"


class AccessSettings(Frozen):
    """The hidden way from the citizen's screens to staff scores and technician mode."""

    corner: Corner = Field(Corner.TOP_RIGHT, description="Where the long press opens sign-in.")
    corner_size: Annotated[float, Field(gt=0, le=0.5, description="Side of the corner zone, share of the "
                                                                   "window's shorter side.")] = 0.12
    hold_s: Annotated[float, Field(ge=0.5, le=30, description="How long the corner must be held.")] = 3.0
    idle_s: Annotated[float, Field(ge=5, le=3600, description="Back to the citizen's screen after this "
                                                               "long without a touch.")] = 60.0
    max_tries: Annotated[int, Field(ge=1, le=20, description="Wrong PINs before sign-in locks.")] = 5
    lockout_s: Annotated[float, Field(ge=1, le=86_400, description="How long sign-in stays locked.")] = 300.0
    target_good_rate: Annotated[float, Field(gt=0, le=1, description="好评率 goal the scores are judged "
                                                                      "against (policy: 80 %).")] = 0.8
    export_dir: Path = Field(Path("/media/usb0"), description="Where technician mode writes CSV exports "
                                                              "(a USB stick's mount point).")


class InputMode(str, enum.Enum):
    DESKTOP = "desktop"          # a desktop turns touches into pointer events: the mouse provider only
    TOUCHSCREEN = "touchscreen"  # the console: one mtdev provider per touch device, no mouse


class UiSettings(Frozen):
    fullscreen: bool = Field(False, description="Fill the screen.")
    input: InputMode = Field(InputMode.DESKTOP, description="How touches reach Kivy (see InputMode).")
    kiosk: bool = Field(False, description="Borderless, cursor hidden; Escape and window-close do nothing.")
    width_px: Annotated[int, Field(ge=320, le=7680)] = 1280
    height_px: Annotated[int, Field(ge=240, le=7680)] = 800
    font: Path | None = Field(None, description="A font with CJK glyphs; null = search the usual system paths.")
    diagonal_in: Annotated[float | None, Field(ge=3, le=100, description="Screen diagonal in inches: physical "
                                               "sizes (touch targets) follow from it. null = the DPI the "
                                               "display reports, often wrong on panel PCs.")] = None
    touch_target_mm: Annotated[float, Field(ge=7, le=30, description="Smallest side of anything the citizen "
                                            "touches, in millimetres.")] = 15.0
    qr_mm: Annotated[float, Field(ge=10, le=80, description="Side of a QR code for the citizen's phone, in "
                                  "millimetres; smaller only where the screen has no room for it.")] = 25.0
    text_min_mm: Annotated[float, Field(ge=1.5, le=10, description="Smallest text the citizen must read (QR "
                                        "captions), as font size in millimetres.")] = 3.0
    attract_after_s: Annotated[float | None, Field(ge=0, le=86_400, description="Open mode: show the attract "
                                                   "screen (unit, counter, staff, hours, questionnaire QR) after "
                                                   "this long untouched; a touch brings the rating screen back. "
                                                   "0 or null = never.")] = 60.0
    dim_after_s: Annotated[float | None, Field(ge=5, le=86_400, description="Dim the waiting screen after this "
                                               "long untouched; null = never.")] = 300.0
    brightness: Annotated[float, Field(gt=0, le=1, description="Backlight when awake, share of its maximum.")] = 1.0
    dim_brightness: Annotated[float, Field(ge=0, le=1, description="Backlight when dimmed, share of its "
                                           "maximum (or how much light the on-screen veil lets through).")] = 0.15
    backlight: Path | None = Field(None, description="sysfs backlight folder (/sys/class/backlight/NAME); null = "
                                   "the first one there; none = dim with an on-screen veil.")

    @field_validator("attract_after_s")
    @classmethod
    def _attract_off_or_readable(cls, value: float | None) -> float | None:
        if value == 0:
            return None        # 0 reads as "off" in a config file; one spelling of "never" inside
        if value is not None and value < 1:
            # Likely a slip (minutes meant?): the rating screen would vanish before anyone could read it.
            raise ValueError(f"{value} s is too short; give at least 1 s, or 0 / null for never")
        return value

    @model_validator(mode="after")
    def _dimmer_than_awake(self) -> UiSettings:
        if self.dim_brightness >= self.brightness:
            raise ValueError(f"dim_brightness {self.dim_brightness} must be below brightness {self.brightness}")
        return self
