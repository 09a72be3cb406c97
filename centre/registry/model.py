"""What a registered unit and counter are, and what the office may write for them.

Every check a terminal would make on its config is made here, before anything is stored: a unit or counter
the registry holds can always be sent to a terminal (ids, names it can show, an IANA zone, hours).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, fields
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from centre.errors import BadInput
from centre.registry import hours
from centre.registry.codes import credit_code_problem, region_code_problem

DEFAULT_TIMEZONE = "Asia/Shanghai"
# The terminal's config ids (kiosk.config.base.ID_PATTERN) and the longest names its header takes
# (kiosk.config.unit: UnitSettings, CounterSettings).
ID_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")
NAME_LIMITS = {"unit_name": 60, "unit_name_en": 80, "counter_name": 40, "counter_name_en": 40}
DISTRICT_LIMIT = 60


def check_timezone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadInput(f"unknown time zone {name!r} (use an IANA name like Asia/Shanghai)") from None


@dataclass(frozen=True)
class UnitSpec:
    """A unit as the office writes it: the district by name, the sector by code or name."""

    id: str
    name: str
    name_en: str | None
    district: str
    district_en: str | None
    sector: str
    timezone: str = DEFAULT_TIMEZONE
    opening_hours: str = ""
    address: str | None = None
    credit_code: str | None = None     # 统一社会信用代码 (centre/registry/codes.py); None: leave what is held
    region_code: str | None = None     # 行政区划 code, the same

    def problems(self) -> list[str]:
        """What is wrong with it (nothing: []); the opening hours in their one spelling are hours.normalise's."""
        found = [*id_problems("unit id", self.id), *name_problems({"unit_name": self.name,
                                                                  "unit_name_en": self.name_en})]
        if not self.district.strip():
            found.append("missing district")
        elif len(self.district) > DISTRICT_LIMIT:
            found.append(f"district {self.district!r} is longer than {DISTRICT_LIMIT} characters")
        if not self.sector.strip():
            found.append("missing sector")
        try:
            check_timezone(self.timezone)
        except BadInput as exc:
            found.append(exc.message)
        try:
            hours.parse(self.opening_hours)
        except hours.BadHours as exc:
            found.append(f"bad opening hours: {exc}")
        found.extend(problem for problem in (credit_code_problem(self.credit_code) if self.credit_code else None,
                                             region_code_problem(self.region_code) if self.region_code else None)
                     if problem)
        return found

    def stored(self) -> dict[str, str | None]:
        """The units row's own columns (district and sector are resolved by queries); a code not given is left
        out, so the one the registry holds stays (a sheet without the codes never wipes them)."""
        codes = {name: value for name, value in (("credit_code", self.credit_code), ("region_code", self.region_code))
                 if value is not None}
        return {"id": self.id, "name": self.name, "name_en": self.name_en, "timezone": self.timezone,
                "opening_hours": hours.normalise(self.opening_hours), "address": self.address, **codes}


@dataclass(frozen=True)
class CounterSpec:
    unit_id: str
    id: str
    name: str
    name_en: str | None

    def problems(self) -> list[str]:
        return [*id_problems("counter id", self.id), *name_problems({"counter_name": self.name,
                                                                     "counter_name_en": self.name_en})]

    def stored(self) -> dict[str, str | None]:
        return {field.name: getattr(self, field.name) for field in fields(self)}


def id_problems(what: str, value: str) -> list[str]:
    if not value.strip():
        return [f"missing {what}"]
    if not ID_PATTERN.match(value):
        return [f"{what} {value!r} must be 1–40 letters, digits, '_', '.' or '-' (as a terminal's config takes it)"]
    return []


def name_problems(names: dict[str, str | None]) -> list[str]:
    """A terminal refuses a config whose names it cannot show: refused here, before anything is stored."""
    found: list[str] = []
    for key, value in names.items():
        label = key.replace("_", " ")
        if value is None:
            continue
        if not value.strip():
            found.append(f"missing {label}" if not key.endswith("_en") else f"{label} must not be blank")
        elif len(value) > NAME_LIMITS[key]:
            found.append(f"{label} {value!r} is longer than the terminal shows ({NAME_LIMITS[key]} characters at most)")
    return found


def refuse(problems: list[str]) -> None:
    if problems:
        raise BadInput("; ".join(problems))
