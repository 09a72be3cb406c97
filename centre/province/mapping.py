"""The mapping from a counted rating to the province's record, as configuration (docs/province-report.md, Mapping).

A province's platform names its fields and codes its own way; the centre keeps none of that in code. The
mapping says, for each thing a record holds, the province's field name; the code tables for the channel, the
levels and the bad-review reasons; what to do with an unrated request, a case's second rating and an
open-mode rating without a case number; the time format; the limits a field's value must meet; and how the
records travel (`upload`, owned by upload.py). mappings/default.yaml ships one, modelled on the fields in use;
a province edits a copy and names it in the city's configuration (or `--mapping FILE`).
"""
from __future__ import annotations

import re
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from centre.errors import BadInput
from centre.province.upload import UploadSpec

DEFAULT_MAPPING = Path(__file__).with_name("mappings") / "default.yaml"

_FROZEN = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)
FieldName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z_][A-Za-z0-9_.]*$")]
Code = Annotated[str, Field(min_length=1, max_length=32)]


class FieldKey(str, Enum):
    """What a record holds, in the centre's words; the mapping gives each its name at the province."""

    RECORD_ID = "record_id"
    CASE_NO = "case_no"
    ITEM_CODE = "item_code"
    CHANNEL = "channel"
    LEVEL = "level"
    REASON_CODES = "reason_codes"
    REASON_TEXT = "reason_text"
    EVALUATED_AT = "evaluated_at"
    EVALUATION_NUMBER = "evaluation_number"
    CREDIT_CODE = "credit_code"
    REGION_CODE = "region_code"
    STAFF = "staff"


class UnratedMode(str, Enum):
    OMIT = "omit"        # an unrated request makes no record at all
    REPORT = "report"    # it makes a record with `unrated.code` in the level field, never a level


class PerCase(str, Enum):
    FIRST_ONLY = "first_only"   # one service, one rating: a case's later ratings are skipped
    NUMBERED = "numbered"       # every rating is sent, numbered 1, 2, … within its case


class WithoutCase(str, Enum):
    SEND = "send"   # an open-mode rating without a case number is sent without one
    SKIP = "skip"   # it is not reported (skipped, rule "open_without_case")


class FieldNames(BaseModel):
    """The province's field name for each thing a record holds."""

    model_config = _FROZEN
    record_id: FieldName
    case_no: FieldName
    item_code: FieldName
    channel: FieldName
    level: FieldName
    reason_codes: FieldName
    reason_text: FieldName
    evaluated_at: FieldName
    evaluation_number: FieldName
    credit_code: FieldName
    region_code: FieldName
    staff: FieldName

    @model_validator(mode="after")
    def _distinct(self) -> FieldNames:
        names = list(self.model_dump().values())
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"each field needs its own name; used twice: {', '.join(twice)}")
        return self


class Reason(BaseModel):
    """A bad-review reason as the province codes and words it."""

    model_config = _FROZEN
    code: Code
    text: str = Field(min_length=1, max_length=200)


class Unrated(BaseModel):
    model_config = _FROZEN
    mode: UnratedMode = UnratedMode.OMIT
    code: Code | None = None
    """What the level field holds in an unrated request's record (mode report): a code no level uses."""

    @model_validator(mode="after")
    def _code_when_reported(self) -> Unrated:
        if self.mode is UnratedMode.REPORT and self.code is None:
            raise ValueError("mode report needs the code the province uses for an unrated request")
        return self


class Limit(BaseModel):
    """What a field's value must meet (checked before upload; rule "field_too_long" / "field_pattern")."""

    model_config = _FROZEN
    max_length: int | None = Field(None, ge=1)
    pattern: str | None = None
    required: bool = False
    """The record is refused when this field is empty (rule "field_missing")."""

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {exc}") from exc
        return value


class Times(BaseModel):
    """How times are written, and which are plausible."""

    model_config = _FROZEN
    format: str = "%Y-%m-%d %H:%M:%S"
    """strftime format; the time is the unit's local wall-clock time (its registry timezone)."""
    future_tolerance_s: float = Field(600.0, ge=0)
    """How far past the centre's clock a rating's time may lie (rule "implausible_time")."""
    floor: datetime = datetime(2019, 1, 1)
    """No rating before this is plausible (the national 好差评 system began in 2019); a naive time is UTC."""


class Mapping(BaseModel):
    """One province's record: loaded by `load_mapping`; frozen."""

    model_config = _FROZEN
    name: str = Field(min_length=1, max_length=100)
    version: str = Field(min_length=1, max_length=32)
    description: str = ""
    fields: FieldNames
    constants: dict[FieldName, str] = Field(default_factory=dict)
    """Fields every record carries with a fixed value (e.g. the data source's code)."""
    channel_code: Code
    """The 评价渠道 code of a hall terminal (政务大厅平板电脑 / 其他终端): never the PC channel."""
    channels: dict[str, Code] = Field(default_factory=dict)
    """By the rating's own channel (touch, panel, keyboard), a code other than `channel_code` (both hall terminals:
    the key panel is 政务大厅其他终端 where the touchscreen is 政务大厅平板电脑)."""
    known_channels: tuple[Code, ...] = ()
    """The province's channel codes; `channel_code` and `channels` must be among them when given."""
    levels: dict[int, Code]
    """Level 1 (非常不满意) … 5 (非常满意) → the province's code for it; every level must be present."""
    reasons: dict[str, Reason]
    """Our bad-review reason code (the terminal's) → the province's code and text."""
    reason_separator: str = ","
    reason_text_separator: str = "；"
    unrated: Unrated = Unrated()
    per_case: PerCase = PerCase.FIRST_ONLY
    without_case: WithoutCase = WithoutCase.SKIP
    times: Times = Times()
    limits: dict[FieldKey, Limit] = Field(default_factory=dict)
    upload: UploadSpec = UploadSpec()

    @property
    def time_format(self) -> str:
        return self.times.format

    @field_validator("levels")
    @classmethod
    def _five_levels(cls, value: dict[int, str]) -> dict[int, str]:
        if sorted(value) != [1, 2, 3, 4, 5]:
            raise ValueError(f"needs exactly the levels 1–5, got {sorted(value)}")
        if len(set(value.values())) != 5:
            raise ValueError("two levels share a code")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Mapping:
        unknown = sorted({self.channel_code, *self.channels.values()} - set(self.known_channels))
        if self.known_channels and unknown:
            raise ValueError(f"channel code(s) {', '.join(unknown)} not among known_channels")
        if self.unrated.code is not None and self.unrated.code in self.levels.values():
            raise ValueError(f"unrated.code {self.unrated.code!r} is a level's code: an unrated request "
                             "must never read as a rating")
        clash = set(self.constants) & set(self.fields.model_dump().values())
        if clash:
            raise ValueError(f"constants reuse record field names: {', '.join(sorted(clash))}")
        return self

    def channel_of(self, channel: str) -> str:
        """The province's 评价渠道 code of a rating made through our `channel`."""
        return self.channels.get(channel, self.channel_code)

    def level_of(self, code: str) -> int | None:
        """The level a province level code stands for (None: not a level's code)."""
        return next((level for level, c in self.levels.items() if c == code), None)


def load_mapping(path: Path | None = None) -> Mapping:
    """The mapping in `path` (None: the shipped default); a bad file is a BadInput naming it and the field."""
    source = path or DEFAULT_MAPPING
    try:
        raw = yaml.safe_load(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BadInput(f"{source}: cannot read the mapping ({exc.strerror or exc})") from exc
    except yaml.YAMLError as exc:
        raise BadInput(f"{source}: not valid YAML ({exc})") from exc
    if not isinstance(raw, dict):
        raise BadInput(f"{source}: a mapping file is a YAML mapping of its sections")
    try:
        return Mapping.model_validate(raw)
    except ValidationError as exc:
        raise BadInput(f"{source}: {_describe(exc)}") from exc


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "(top)"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)
