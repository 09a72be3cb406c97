"""The terminal's settings: config.yaml (and the centre's centre.yaml) → validated, frozen `Settings`.

Everything else on the terminal imports its settings from here; errors name the field and the file.
The schema is split by area (unit, citizen, devices, screen, storage; the root in `settings`), the
reading of the files in `loading`, `files`, `provisioning` and `errors`.
"""
from drivers.panel import PanelMode
from kiosk.config.base import Locale
from kiosk.config.citizen import (
    MIN_CONTRAST,
    CallbackSettings,
    CitizenSettings,
    LevelSettings,
    ReasonSettings,
    ReceiptAfter,
    TimingSettings,
)
from kiosk.config.devices import (
    CounterLinkSettings,
    KeyboardSettings,
    PanelSettings,
    PromptStyle,
    SerialPortSettings,
    SoundSettings,
    sound_file_problem,
)
from kiosk.config.errors import ConfigError
from kiosk.config.loading import DEFAULT_PATHS, find_config, load
from kiosk.config.provisioning import PROVISIONED_FILE
from kiosk.config.screen import AccessSettings, Corner, InputMode, UiSettings
from kiosk.config.settings import Mode, Settings
from kiosk.config.storage import StoreSettings, SyncSettings
from kiosk.config.unit import CounterSettings, DeviceSettings, OpeningPeriod, StaffMember, UnitSettings, Weekday

__all__ = ["DEFAULT_PATHS", "MIN_CONTRAST", "PROVISIONED_FILE", "AccessSettings", "CallbackSettings",
           "CitizenSettings", "ConfigError", "Corner", "CounterLinkSettings", "CounterSettings", "DeviceSettings",
           "InputMode", "KeyboardSettings", "LevelSettings", "Locale", "Mode", "OpeningPeriod", "PanelMode",
           "PanelSettings", "PromptStyle", "ReasonSettings", "ReceiptAfter", "SerialPortSettings", "Settings",
           "SoundSettings", "StaffMember", "StoreSettings", "SyncSettings", "TimingSettings", "UiSettings",
           "UnitSettings", "Weekday", "find_config", "load", "sound_file_problem"]
