"""What every part of the settings schema shares: frozen models that refuse unknown keys, ids, the locale."""
from __future__ import annotations

import enum

from pydantic import BaseModel, ConfigDict

ID_PATTERN = r"^[A-Za-z0-9_.-]{1,40}$"


class Frozen(BaseModel):
    # extra="forbid": a secret pasted into config.yaml must be an error, not something silently kept.
    model_config = ConfigDict(frozen=True, extra="forbid")


class Locale(str, enum.Enum):
    ZH = "zh"
    EN = "en"

    def pick(self, zh: str, en: str) -> str:
        """The text of this locale from a (中文, English) pair."""
        return zh if self is Locale.ZH else en
