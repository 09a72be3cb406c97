"""Where the terminal stands: the device, its service unit and opening hours, the counter and its staff."""
from __future__ import annotations

import datetime as dt
import enum
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from kiosk.config.base import ID_PATTERN, Frozen


class DeviceSettings(Frozen):
    id: Annotated[str, Field(pattern=ID_PATTERN, description="Device id; replaced by provisioning.")] = "dev-0001"


class Weekday(str, enum.Enum):
    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"

    @property
    def index(self) -> int:  # type: ignore[override]  # str.index is never wanted on a weekday
        """Monday = 0, as `datetime.weekday()` counts."""
        return list(Weekday).index(self)


class OpeningPeriod(Frozen):
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


class UnitSettings(Frozen):
    id: Annotated[str, Field(pattern=ID_PATTERN, description="Service unit id, as the centre knows it.")] = "unit-0001"
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


class CounterSettings(Frozen):
    id: Annotated[str, Field(pattern=ID_PATTERN)] = "counter-01"
    name: Annotated[str, Field(min_length=1, max_length=40)] = "1号窗口"
    name_en: Annotated[str, Field(min_length=1, max_length=40)] = "Counter 1"
    staff_id: Annotated[str | None, Field(pattern=ID_PATTERN, description="Staff signed in at start, if any.")] = None


class StaffMember(Frozen):
    id: Annotated[str, Field(pattern=ID_PATTERN, description="工号")]
    name: Annotated[str, Field(min_length=1, max_length=20)]
    name_en: str | None = None
    post: str = Field("", description="岗位, shown on the staff card.")
    post_en: str | None = None
    photo: Path | None = Field(None, description="Photo for the staff card (PNG/JPEG, portrait, at most 64 KiB); "
                                                 "relative to the config file's folder. None: a neutral silhouette. "
                                                 "On an enrolled terminal the centre's roster photo wins.")

