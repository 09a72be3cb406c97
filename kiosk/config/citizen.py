"""What the citizen meets: the five levels and their colours, bad-review reasons, timings, the call-back offer."""
from __future__ import annotations

import enum
import hashlib
from typing import Annotated

from pydantic import Field, field_validator

from kiosk.config.base import Frozen, Locale

_HEX_COLOUR = r"^#[0-9A-Fa-f]{6}$"

MIN_CONTRAST = 3.0     # WCAG 2 AA for large text, against the white drawn on a level's colour


def _contrast_with_white(colour: str) -> float:
    """WCAG contrast ratio of white on `colour` (#RRGGBB)."""
    def linear(channel: int) -> float:
        value = channel / 255
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    red, green, blue = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    luminance = 0.2126 * linear(red) + 0.7152 * linear(green) + 0.0722 * linear(blue)
    return 1.05 / (luminance + 0.05)


class LevelSettings(Frozen):
    level: Annotated[int, Field(ge=1, le=5, description="5 = 非常满意 … 1 = 非常不满意")]
    zh: Annotated[str, Field(min_length=1, max_length=12)]
    en: Annotated[str, Field(min_length=1, max_length=24)]
    colour: Annotated[str, Field(pattern=_HEX_COLOUR, description="Button colour, #RRGGBB.")]
    bad: bool = Field(False, description="A bad review (差评): the citizen is asked for reasons.")

    @field_validator("colour")
    @classmethod
    def _readable_under_white(cls, value: str) -> str:
        # The label and face are drawn in white, large and bold: WCAG asks 3:1 for such text.
        if _contrast_with_white(value) < MIN_CONTRAST:
            raise ValueError(f"{value} is too light for the white label on it (contrast "
                             f"{_contrast_with_white(value):.2f}:1, needs {MIN_CONTRAST}:1); choose a darker colour")
        return value

    @property
    def rgba(self) -> tuple[float, float, float, float]:
        value = int(self.colour[1:], 16)
        return ((value >> 16) / 255, ((value >> 8) & 0xFF) / 255, (value & 0xFF) / 255, 1.0)

    def label(self, locale: Locale) -> str:
        return locale.pick(self.zh, self.en)


class ReasonSettings(Frozen):
    code: Annotated[str, Field(pattern=r"^[a-z0-9_]{1,32}$", description="Stored and synced; never shown.")]
    zh: Annotated[str, Field(min_length=1, max_length=20)]
    en: Annotated[str, Field(min_length=1, max_length=40)]

    def label(self, locale: Locale) -> str:
        return locale.pick(self.zh, self.en)


def default_levels() -> tuple[LevelSettings, ...]:
    return (
        LevelSettings(level=5, zh="非常满意", en="Very satisfied", colour="#1B7F3B"),
        LevelSettings(level=4, zh="满意", en="Satisfied", colour="#4C9A2A"),
        LevelSettings(level=3, zh="基本满意", en="Acceptable", colour="#B7791F"),
        LevelSettings(level=2, zh="不满意", en="Dissatisfied", colour="#C05621", bad=True),
        LevelSettings(level=1, zh="非常不满意", en="Very dissatisfied", colour="#B91C1C", bad=True),
    )


def default_reasons() -> tuple[ReasonSettings, ...]:
    return (
        ReasonSettings(code="attitude", zh="服务态度差", en="Unfriendly service"),
        ReasonSettings(code="slow", zh="办理效率低", en="Too slow"),
        ReasonSettings(code="wait", zh="等候时间长", en="Long wait"),
        ReasonSettings(code="unclear", zh="告知不清楚", en="Unclear guidance"),
        ReasonSettings(code="extra_trips", zh="多次跑腿", en="Had to come back again"),
        ReasonSettings(code="environment", zh="环境设施差", en="Poor facilities"),
    )


class TimingSettings(Frozen):
    cooldown_s: Annotated[float, Field(gt=0, le=600, description="Open mode: presses after a rating are "
                                       "ignored this long.")] = 5.0
    solicit_window_s: Annotated[float, Field(gt=0, le=600, description="A request waits this long for its "
                                             "one press.")] = 15.0
    reason_timeout_s: Annotated[float, Field(gt=0, le=600, description="The reason step closes after this "
                                             "long untouched.")] = 30.0
    thanks_s: Annotated[float, Field(gt=0, le=60, description="How long the thanks screen stays.")] = 3.0
    complaint_qr_s: Annotated[float, Field(gt=0, le=300, description="How long the thanks screen stays when it "
                                           "shows the complaint or the receipt QR code, counted from when it "
                                           "appears (never less than thanks_s); a touch closes it sooner. Only "
                                           "the screen: "
                                           "presses count again after thanks_s, as after any rating.")] = 15.0
    storage_retry_s: Annotated[float, Field(gt=0, le=3600, description="Out of service: retry storage this "
                                            "often.")] = 5.0


_CONSENT_ZH = ("我同意留下电话号码，由本服务中心工作人员就本次评价回电联系我。号码仅用于此次回电，"
               "与评价分开保存，送达服务中心后即从本机删除，最长在本机保留 {days} 天。")
_CONSENT_EN = ("I agree to leave my phone number so that staff of this service centre can call me back about "
               "this rating. It is used only for this call, kept apart from the rating, and erased from this "
               "terminal once it reaches the centre, after {days} days at most.")


class CallbackSettings(Frozen):
    """Call-back with consent after a bad review: the citizen may leave a phone number (GB/T 39734 practice).

    The number is personal data: it is kept apart from the rating, sent to the centre, never shown on the
    terminal after submission, and erased from the terminal once the centre acknowledges it, or after
    `retention_days` when it never got there.
    """

    enabled: bool = Field(True, description="Offer the call-back on the reasons screen after a bad review. On "
                          "by default: the default consent texts below say who calls, why and for how long the "
                          "number is kept.")
    retention_days: Annotated[float, Field(gt=0, le=90, description="An unsent number is erased from the "
                                                                    "terminal after this many days.")] = 7.0
    purge_interval_s: Annotated[float, Field(ge=10, le=86_400, description="How often the terminal erases "
                                                                          "expired numbers.")] = 600.0
    consent_zh: Annotated[str, Field(min_length=20, max_length=400, description="The consent text the citizen "
                                     "ticks (中文); {days} is replaced by retention_days.")] = _CONSENT_ZH
    consent_en: Annotated[str, Field(min_length=20, max_length=600, description="The same in English.")] \
        = _CONSENT_EN

    def consent(self, locale: Locale) -> str:
        days = f"{self.retention_days:g}"
        return locale.pick(self.consent_zh, self.consent_en).replace("{days}", days)

    @property
    def consent_version(self) -> str:
        """A fingerprint of both texts as shown, stored with each number: what the citizen agreed to."""
        text = self.consent(Locale.ZH) + "\n" + self.consent(Locale.EN)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


class ReceiptAfter(str, enum.Enum):
    """After which ratings the thanks screen shows the receipt QR code (回执)."""

    BAD = "bad"        # after a bad review, when the citizen most wants to know it counted and what became of it
    EVERY = "every"    # after every rating
    NEVER = "never"


class CitizenSettings(Frozen):
    """Links the citizen can follow on a phone, shown as QR codes, and the call-back offer."""

    questionnaire_url: str | None = Field(None, max_length=300, description="The unit's online questionnaire "
                                          "or comment page (征求意见栏), on the waiting screen.")
    complaint_url: str | None = Field(None, max_length=300, description="Complaint page shown after a bad "
                                      "review; the rating id and a signature are appended.")
    receipt_url: str | None = Field(None, max_length=300, description="The centre's receipt page (回执): the "
                                    "rating id and a signature with the device key are appended, so it shows only "
                                    "once the terminal is enrolled. The centre sends it with the config.")
    receipt_after: ReceiptAfter = Field(ReceiptAfter.BAD, description="After which ratings the thanks screen "
                                        "shows the receipt QR code: bad (after a bad review, with the complaint: "
                                        "one code, the receipt page offers the complaint form), every, or never.")
    callback: CallbackSettings = Field(default_factory=CallbackSettings,
                                       description="Call-back with consent after a bad review.")

