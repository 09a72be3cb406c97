"""The root of the settings: every area's model, the operating mode and the checks that span areas."""
from __future__ import annotations

import enum
import hashlib
from typing import Any

from pydantic import Field, field_validator, model_validator

from kiosk.config.base import Frozen, Locale
from kiosk.config.citizen import (
    CitizenSettings,
    LevelSettings,
    ReasonSettings,
    TimingSettings,
    default_levels,
    default_reasons,
)
from kiosk.config.devices import CounterLinkSettings, KeyboardSettings, PanelSettings, SoundSettings
from kiosk.config.screen import AccessSettings, UiSettings
from kiosk.config.storage import StoreSettings, SyncSettings
from kiosk.config.unit import CounterSettings, DeviceSettings, StaffMember, UnitSettings


class Mode(str, enum.Enum):
    OPEN = "open"            # always ready; a cooldown after each rating
    SOLICITED = "solicited"  # 一次一评: ready only after staff or the counter PC asks


class Settings(Frozen):
    device: DeviceSettings = DeviceSettings()
    unit: UnitSettings = UnitSettings()
    counter: CounterSettings = CounterSettings()
    staff: tuple[StaffMember, ...] = ()
    mode: Mode = Mode.OPEN
    locale: Locale = Locale.ZH
    levels: tuple[LevelSettings, ...] = Field(default_factory=default_levels)
    bad_reasons: tuple[ReasonSettings, ...] = Field(default_factory=default_reasons)
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
