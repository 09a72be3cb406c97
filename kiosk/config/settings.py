"""config.yaml → validated, frozen settings.

Every field carries its unit in its name (``_s`` seconds, ``_ms``
milliseconds, ``_px`` pixels) and a description. A bad file never yields a
traceback: `load` raises `ConfigError`, whose lines each name the file and the
dotted field, and the CLI turns it into exit code 2.

Secrets (device keys, PIN hashes from the centre) never live here: unknown
keys are refused, so a secret pasted into config.yaml is an error, not a leak.
"""
from __future__ import annotations

import datetime as dt
import enum
import hashlib
import os
import re
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from drivers.protocol import FrameError, parse_panel_body

DEFAULT_PATHS = (Path("config.yaml"), Path("/etc/evaluator/config.yaml"))

_ID = r"^[A-Za-z0-9_.-]{1,40}$"
_HEX_COLOUR = r"^#[0-9A-Fa-f]{6}$"


class ConfigError(Exception):
    """A config file that cannot be used; each line names file and field."""

    def __init__(self, source: str, problems: list[tuple[str, str]]):
        self.source = source
        self.problems = problems
        super().__init__("\n".join(f"{source}: {field}: {msg}" if field else f"{source}: {msg}"
                                   for field, msg in problems))


class Mode(str, enum.Enum):
    OPEN = "open"            # always ready; a cooldown after each rating
    SOLICITED = "solicited"  # 一次一评: ready only after staff or the counter PC asks


class Locale(str, enum.Enum):
    ZH = "zh"
    EN = "en"

    def pick(self, zh: str, en: str) -> str:
        """The text of this locale from a (中文, English) pair."""
        return zh if self is Locale.ZH else en


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DeviceSettings(_Frozen):
    id: Annotated[str, Field(pattern=_ID, description="Device id; replaced by provisioning.")] = "dev-0001"


class Weekday(str, enum.Enum):
    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"

    @property
    def index(self) -> int:
        """Monday = 0, as `datetime.weekday()` counts."""
        return list(Weekday).index(self)


class OpeningPeriod(_Frozen):
    """One stretch of opening on some days, e.g. Mon–Fri 09:00–12:00; a lunch break is two periods."""

    days: Annotated[tuple[Weekday, ...], Field(min_length=1, description="mon … sun")]
    open: dt.time = Field(description="Local time, 'HH:MM'.")
    close: dt.time = Field(description="Local time, 'HH:MM'; after `open`, on the same day.")

    @field_validator("open", "close", mode="before")
    @classmethod
    def _yaml_minutes(cls, value: Any) -> Any:
        # YAML 1.1 reads an unquoted 9:30 as the base-60 number 570, i.e. minutes since midnight.
        if isinstance(value, int) and not isinstance(value, bool):
            if not 0 <= value < 24 * 60:
                raise ValueError(f"{value} is not a time of day; write it as 'HH:MM'")
            return dt.time(value // 60, value % 60)
        return value

    @model_validator(mode="after")
    def _ordered(self) -> OpeningPeriod:
        if self.close <= self.open:
            raise ValueError(f"closes at {self.close:%H:%M}, not after it opens at {self.open:%H:%M}")
        return self


def _default_hours() -> tuple[OpeningPeriod, ...]:
    weekdays = (Weekday.MON, Weekday.TUE, Weekday.WED, Weekday.THU, Weekday.FRI)
    return (OpeningPeriod(days=weekdays, open=dt.time(9), close=dt.time(12)),
            OpeningPeriod(days=weekdays, open=dt.time(13, 30), close=dt.time(17, 30)))


class UnitSettings(_Frozen):
    id: Annotated[str, Field(pattern=_ID, description="Service unit id, as the centre knows it.")] = "unit-0001"
    name: Annotated[str, Field(min_length=1, max_length=60)] = "市民服务中心"
    name_en: Annotated[str, Field(min_length=1, max_length=80)] = "Citizen Service Centre"
    timezone: Annotated[str, Field(description="IANA zone; days are counted in it.")] = "Asia/Shanghai"
    opening_hours: tuple[OpeningPeriod, ...] = Field(default_factory=_default_hours, description="Shown on the "
                                                     "waiting screen; days not listed are closed. () = not shown.")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (an IANA name such as Asia/Shanghai)") from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class CounterSettings(_Frozen):
    id: Annotated[str, Field(pattern=_ID)] = "counter-01"
    name: Annotated[str, Field(min_length=1, max_length=40)] = "1号窗口"
    name_en: Annotated[str, Field(min_length=1, max_length=40)] = "Counter 1"
    staff_id: Annotated[str | None, Field(pattern=_ID, description="Staff signed in at start, if any.")] = None


class StaffMember(_Frozen):
    id: Annotated[str, Field(pattern=_ID, description="工号")]
    name: Annotated[str, Field(min_length=1, max_length=20)]
    name_en: str | None = None
    post: str = Field("", description="岗位, shown on the staff card.")
    post_en: str | None = None
    photo: Path | None = Field(None, description="Photo for the staff card (PNG/JPEG, portrait, at most 64 KiB); "
                                                 "relative to the config file's folder. None: a neutral silhouette. "
                                                 "On an enrolled terminal the centre's roster photo wins.")


MIN_CONTRAST = 3.0     # WCAG 2 AA for large text, against the white drawn on a level's colour


def _contrast_with_white(colour: str) -> float:
    """WCAG contrast ratio of white on `colour` (#RRGGBB)."""
    def linear(channel: int) -> float:
        value = channel / 255
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    red, green, blue = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    luminance = 0.2126 * linear(red) + 0.7152 * linear(green) + 0.0722 * linear(blue)
    return 1.05 / (luminance + 0.05)


class LevelSettings(_Frozen):
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
        return self.zh if locale is Locale.ZH else self.en


class ReasonSettings(_Frozen):
    code: Annotated[str, Field(pattern=r"^[a-z0-9_]{1,32}$", description="Stored and synced; never shown.")]
    zh: Annotated[str, Field(min_length=1, max_length=20)]
    en: Annotated[str, Field(min_length=1, max_length=40)]

    def label(self, locale: Locale) -> str:
        return self.zh if locale is Locale.ZH else self.en


def _default_levels() -> tuple[LevelSettings, ...]:
    return (
        LevelSettings(level=5, zh="非常满意", en="Very satisfied", colour="#1B7F3B"),
        LevelSettings(level=4, zh="满意", en="Satisfied", colour="#4C9A2A"),
        LevelSettings(level=3, zh="基本满意", en="Acceptable", colour="#B7791F"),
        LevelSettings(level=2, zh="不满意", en="Dissatisfied", colour="#C05621", bad=True),
        LevelSettings(level=1, zh="非常不满意", en="Very dissatisfied", colour="#B91C1C", bad=True),
    )


def _default_reasons() -> tuple[ReasonSettings, ...]:
    return (
        ReasonSettings(code="attitude", zh="服务态度差", en="Unfriendly service"),
        ReasonSettings(code="slow", zh="办理效率低", en="Too slow"),
        ReasonSettings(code="wait", zh="等候时间长", en="Long wait"),
        ReasonSettings(code="unclear", zh="告知不清楚", en="Unclear guidance"),
        ReasonSettings(code="extra_trips", zh="多次跑腿", en="Had to come back again"),
        ReasonSettings(code="environment", zh="环境设施差", en="Poor facilities"),
    )


class TimingSettings(_Frozen):
    cooldown_s: Annotated[float, Field(gt=0, le=600, description="Open mode: presses after a rating are ignored this long.")] = 5.0
    solicit_window_s: Annotated[float, Field(gt=0, le=600, description="A request waits this long for its one press.")] = 15.0
    reason_timeout_s: Annotated[float, Field(gt=0, le=600, description="The reason step closes after this long untouched.")] = 30.0
    thanks_s: Annotated[float, Field(gt=0, le=60, description="How long the thanks screen stays.")] = 3.0
    complaint_qr_s: Annotated[float, Field(gt=0, le=300, description="How long the thanks screen stays when it "
                                           "shows the complaint QR code, counted from when it appears (never "
                                           "less than thanks_s); a touch closes it sooner. Only the screen: "
                                           "presses count again after thanks_s, as after any rating.")] = 15.0
    storage_retry_s: Annotated[float, Field(gt=0, le=3600, description="Out of service: retry storage this often.")] = 5.0


_CONSENT_ZH = ("我同意留下电话号码，由本服务中心工作人员就本次评价回电联系我。号码仅用于此次回电，"
               "与评价分开保存，送达服务中心后即从本机删除，最长在本机保留 {days} 天。")
_CONSENT_EN = ("I agree to leave my phone number so that staff of this service centre can call me back about "
               "this rating. It is used only for this call, kept apart from the rating, and erased from this "
               "terminal once it reaches the centre, after {days} days at most.")


class CallbackSettings(_Frozen):
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


class CitizenSettings(_Frozen):
    """Links the citizen can follow on a phone, shown as QR codes, and the call-back offer."""

    questionnaire_url: str | None = Field(None, max_length=300, description="The unit's online questionnaire "
                                          "or comment page (征求意见栏), on the waiting screen.")
    complaint_url: str | None = Field(None, max_length=300, description="Complaint page shown after a bad "
                                      "review; the rating id and a signature are appended.")
    callback: CallbackSettings = Field(default_factory=CallbackSettings,
                                       description="Call-back with consent after a bad review.")


class PromptStyle(str, enum.Enum):
    SPEECH = "speech"  # a chime, then the words spoken (synthesized when the project is built)
    CHIME = "chime"    # tones only: no words, the same in every language


class SoundSettings(_Frozen):
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


class Corner(str, enum.Enum):
    TOP_LEFT = "top_left"
    TOP_RIGHT = "top_right"
    BOTTOM_LEFT = "bottom_left"
    BOTTOM_RIGHT = "bottom_right"


class AccessSettings(_Frozen):
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


class KeyboardSettings(_Frozen):
    """USB-HID panels type keys: each maps to a level (or to the solicit key)."""

    levels: dict[str, Annotated[int, Field(ge=1, le=5)]] = Field(
        default_factory=lambda: {"1": 5, "2": 4, "3": 3, "4": 2, "5": 1},
        description="Key name (as Kivy names it) → level.")
    solicit: str | None = Field(None, description="Key that acts as the staff 请评价 key; null = none.")


class PanelMode(str, enum.Enum):
    LINE = "line"  # EVP-1 text frames, both directions
    BYTE = "byte"  # cheap panels: one byte per key, nothing sent back


class SerialPortSettings(_Frozen):
    port: str | None = Field(None, description="pyserial URL (/dev/evaluator-panel, socket://…); null = none.")
    baudrate: Annotated[int, Field(gt=0, description="bit/s, 8N1")] = 9600
    checksum: bool = Field(False, description="Append *XX checksums to the frames the terminal sends.")
    ping_interval_s: Annotated[float | None, Field(gt=0, description="Ping the far end this often; null = never.")] = 30.0


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


class SyncSettings(_Frozen):
    server: str | None = Field(None, description="The centre's base URL; set by provisioning. null = no sync.")
    state_dir: Path = Field(Path("var/sync"), description="Device key (0600) and the centre's config; not config.yaml.")
    batch_size: Annotated[int, Field(ge=1, le=5000)] = 500
    interval_s: Annotated[float, Field(gt=0, le=86_400, description="Drain the queue this often.")] = 60.0
    bad_review_poll_s: Annotated[float, Field(gt=0, le=600, description="A new bad review is sent within this.")] = 2.0
    connect_timeout_s: Annotated[float, Field(gt=0, le=120)] = 5.0
    read_timeout_s: Annotated[float, Field(gt=0, le=600)] = 30.0
    backoff_base_s: Annotated[float, Field(gt=0, le=600)] = 1.0
    backoff_cap_s: Annotated[float, Field(gt=0, le=86_400)] = 300.0


class StoreSettings(_Frozen):
    path: Path = Field(Path("var/evaluator.db"), description="SQLite file; relative to the config file's folder.")
    busy_timeout_ms: Annotated[int, Field(ge=100, le=60_000)] = 5000


class InputMode(str, enum.Enum):
    DESKTOP = "desktop"          # a desktop turns touches into pointer events: the mouse provider only
    TOUCHSCREEN = "touchscreen"  # the console: one mtdev provider per touch device, no mouse


class UiSettings(_Frozen):
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


class Settings(_Frozen):
    device: DeviceSettings = DeviceSettings()
    unit: UnitSettings = UnitSettings()
    counter: CounterSettings = CounterSettings()
    staff: tuple[StaffMember, ...] = ()
    mode: Mode = Mode.OPEN
    locale: Locale = Locale.ZH
    levels: tuple[LevelSettings, ...] = Field(default_factory=_default_levels)
    bad_reasons: tuple[ReasonSettings, ...] = Field(default_factory=_default_reasons)
    timings: TimingSettings = TimingSettings()
    keyboard: KeyboardSettings = KeyboardSettings()
    access: AccessSettings = AccessSettings()
    citizen: CitizenSettings = CitizenSettings()
    sound: SoundSettings = SoundSettings()
    panel: PanelSettings = PanelSettings()
    counter_link: CounterLinkSettings = CounterLinkSettings()
    store: StoreSettings = StoreSettings()
    sync: SyncSettings = SyncSettings()
    ui: UiSettings = UiSettings()

    @field_validator("levels")
    @classmethod
    def _five_levels(cls, value: tuple[LevelSettings, ...]) -> tuple[LevelSettings, ...]:
        found = sorted(level.level for level in value)
        if found != [1, 2, 3, 4, 5]:
            raise ValueError(f"need each of the levels 1…5 exactly once, got {found}")
        return value

    @field_validator("bad_reasons", "staff")
    @classmethod
    def _unique_ids(cls, value: tuple[Any, ...]) -> tuple[Any, ...]:
        keys = [getattr(item, "code", None) or item.id for item in value]
        duplicates = sorted({key for key in keys if keys.count(key) > 1})
        if duplicates:
            raise ValueError(f"duplicate ids {duplicates}")
        return value

    @model_validator(mode="after")
    def _cross_checks(self) -> Settings:
        # "field: message" lets _describe name the field of a cross-field check.
        staff_id = self.counter.staff_id
        if staff_id is not None and self.staff_member(staff_id) is None:
            raise ValueError(f"counter.staff_id: {staff_id!r} is not in the staff list")
        if self.counter_link.port is not None and self.counter_link.port == self.panel.port:
            raise ValueError("counter_link.port: is the panel's port; leave it null to share that port")
        return self

    def digest(self) -> str:
        """A short fingerprint of the settings in force, recorded at each start."""
        return hashlib.sha256(self.model_dump_json().encode("utf-8")).hexdigest()[:16]

    def level(self, value: int) -> LevelSettings:
        return next(level for level in self.levels if level.level == value)

    @property
    def bad_levels(self) -> frozenset[int]:
        return frozenset(level.level for level in self.levels if level.bad)

    def staff_member(self, staff_id: str | None) -> StaffMember | None:
        return next((member for member in self.staff if member.id == staff_id), None)


def find_config(explicit: str | os.PathLike[str] | None) -> Path | None:
    """The file to read: the one asked for, else the first default that exists."""
    if explicit is not None:
        return Path(explicit)
    return next((path for path in DEFAULT_PATHS if path.is_file()), None)


def load(path: str | os.PathLike[str] | None = None, centre: dict[str, Any] | None = None) -> Settings:
    """Read and validate settings; no file at all means the embedded defaults.

    Relative paths inside the file are taken from the file's own folder, so a
    terminal behaves the same whatever directory systemd starts it in.
    `centre`: validate with this in place of the provisioned centre.yaml (a
    config pulled from the centre is checked before it replaces the file).
    """
    source = find_config(path)
    raw = _read_yaml(source) if source is not None else {}
    base = source.resolve().parent if source is not None else Path.cwd()
    raw, overlay = _with_provisioning(raw, base, centre)
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as exc:
        problems = [_describe(error) for error in exc.errors()]
        raise ConfigError(" with ".join(str(part) for part in (source or "defaults", overlay) if part),
                          problems) from None
    settings = _resolve_paths(settings, base)
    problems = _sound_file_problems(settings.sound)
    if problems:
        raise ConfigError(str(source or "defaults"), problems)
    return settings


PROVISIONED_FILE = "centre.yaml"


def _provisioned_path(raw: dict[str, Any], base: Path) -> Path:
    sync = raw.get("sync") if isinstance(raw.get("sync"), dict) else {}
    return _absolute(Path(str(sync.get("state_dir", SyncSettings().state_dir))), base) / PROVISIONED_FILE


def _with_provisioning(raw: dict[str, Any], base: Path,
                       centre: dict[str, Any] | None = None) -> tuple[dict[str, Any], Path | None]:
    """Overlay what provisioning received from the centre (device id, unit, counter, staff).

    The centre owns those keys once a terminal is enrolled; the technician's
    config.yaml keeps everything else. The file is written atomically by
    `evaluator provision`, so it is either the old or the new one.
    """
    path = _provisioned_path(raw, base)
    if centre is None and not path.is_file():
        return raw, None
    overlay = centre if centre is not None else _read_yaml(path)
    merged = dict(raw)
    for key in ("device", "unit", "counter", "sync"):
        if isinstance(overlay.get(key), dict):
            merged[key] = {**(merged.get(key) or {}), **overlay[key]}
    if "staff" in overlay:
        merged["staff"] = _centre_staff(overlay["staff"], raw.get("staff"), path.parent)
    return merged, path


def _centre_staff(centre: Any, local: Any, state_dir: Path) -> Any:
    """The centre's roster. Its photos are files next to centre.yaml (sync.provision writes them); a member it
    sends without a photo keeps the one config.yaml gives the same 工号, so local photos survive enrollment."""
    if not isinstance(centre, list):
        return centre                       # validation names the problem
    local_photos = {member.get("id"): member["photo"] for member in (local if isinstance(local, list) else [])
                    if isinstance(member, dict) and isinstance(member.get("id"), str) and member.get("photo")}
    staff = []
    for member in centre:
        if isinstance(member, dict) and isinstance(member.get("photo"), str):
            member = {**member, "photo": str(state_dir / member["photo"])}
        elif isinstance(member, dict) and isinstance(member.get("id"), str) and member["id"] in local_photos:
            member = {**member, "photo": local_photos[member["id"]]}
        staff.append(member)
    return staff


def _read_yaml(source: Path) -> dict[str, Any]:
    try:
        text = source.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(source), [("", "file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(source), [("", f"cannot read: {exc}")]) from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(str(source), [("", f"not valid YAML: {where}{problem}")]) from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(str(source), [("", f"must be a mapping of settings, got {type(raw).__name__}")])
    return raw


def _describe(error: dict[str, Any]) -> tuple[str, str]:
    field = ".".join(str(part) for part in error["loc"])
    message = re.sub(r"^Value error, ", "", error["msg"])
    if not field and ": " in message:
        field, message = message.split(": ", 1)
        return field, message
    if error["type"] == "extra_forbidden":
        return field, "unknown setting (secrets never go in config.yaml)"
    if error["type"] not in ("missing", "value_error") and "input" in error and not isinstance(error["input"], (dict, list)):
        message += f" (got {error['input']!r})"
    return field or "(top level)", message


def _resolve_paths(settings: Settings, base: Path) -> Settings:
    store = settings.store
    ui = settings.ui
    return settings.model_copy(update={
        "store": store.model_copy(update={"path": _absolute(store.path, base)}),
        "sync": settings.sync.model_copy(update={"state_dir": _absolute(settings.sync.state_dir, base)}),
        "ui": ui.model_copy(update={"font": _absolute(ui.font, base) if ui.font else None}),
        "access": settings.access.model_copy(update={"export_dir": _absolute(settings.access.export_dir, base)}),
        "sound": settings.sound.model_copy(update={name: _absolute(path, base)
                                                   for name, path in settings.sound.files.items()}),
        "staff": tuple(member.model_copy(update={"photo": _absolute(member.photo, base)}) if member.photo else member
                       for member in settings.staff),
    })


def _sound_file_problems(sound: SoundSettings) -> list[tuple[str, str]]:
    """Each configured prompt must be a WAV or OGG file (what Kivy's SDL2 mixer plays), checked by its header.

    Only when sound is on: a technician who turns prompts off must not be stopped by a stale path.
    """
    if not sound.enabled:
        return []
    problems = []
    for name, path in sound.files.items():
        problem = sound_file_problem(path)
        if problem is not None:
            problems.append((f"sound.{name}", f"{path}: {problem}"))
    return problems


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


def _absolute(path: Path, base: Path) -> Path:
    path = path.expanduser()
    return path if path.is_absolute() else base / path
