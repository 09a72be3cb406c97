"""The terminal's settings: config.yaml (and the centre's centre.yaml) → validated, frozen `Settings`.

Everything else on the terminal imports its settings from here; errors name the field and the file.
"""
from kiosk.config.settings import (DEFAULT_PATHS, MIN_CONTRAST, PROVISIONED_FILE, AccessSettings, CallbackSettings,
                                   CitizenSettings, ConfigError, Corner, CounterLinkSettings, CounterSettings,
                                   DeviceSettings, InputMode, KeyboardSettings, LevelSettings, Locale, Mode,
                                   OpeningPeriod, PanelMode, PanelSettings, PromptStyle, ReasonSettings,
                                   SerialPortSettings, Settings, SoundSettings, StaffMember, StoreSettings,
                                   SyncSettings, TimingSettings, UiSettings, UnitSettings, Weekday, find_config,
                                   load, sound_file_problem)

__all__ = ["DEFAULT_PATHS", "MIN_CONTRAST", "PROVISIONED_FILE", "AccessSettings", "CallbackSettings",
           "CitizenSettings", "ConfigError", "Corner", "CounterLinkSettings", "CounterSettings", "DeviceSettings",
           "InputMode", "KeyboardSettings", "LevelSettings", "Locale", "Mode", "OpeningPeriod", "PanelMode",
           "PanelSettings", "PromptStyle", "ReasonSettings", "SerialPortSettings", "Settings", "SoundSettings",
           "StaffMember", "StoreSettings", "SyncSettings", "TimingSettings", "UiSettings", "UnitSettings", "Weekday",
           "find_config", "load", "sound_file_problem"]
