"""The receiver's checks of one record, by the mapping, as the province's platform would make them.

It reads the record as it travelled (the province's field names and codes), not the centre's rows: a mistake
in the centre's mapping code shows here as a refusal. Each check has a name (the refusal's message starts with
it) so the tests and the console can tell the reasons apart:

- missing_field: the record id, the channel, the level, the time, or a field the mapping's limits require
- unknown_channel / unknown_level / unknown_reason: a code the mapping does not know
- no_reason: a bad review (level 1 or 2) without a reason code
- bad_time: a time not in the mapping's format
- field_too_long / field_pattern: a value beyond the mapping's limits
- case_rated: a second record for a case (per_case first_only) or a case's evaluation number again (numbered)

The per-case check needs what is already held; the store answers it (store.py).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from centre.province.mapping import FieldKey, Mapping, UnratedMode

BAD_LEVELS = (1, 2)   # 非常不满意, 不满意: a bad review, which must carry a reason


@dataclass(frozen=True)
class Checked:
    """A record's id and case as the store needs them, or why it is refused."""

    record_id: str
    case_no: str | None
    case_key: str | None    # the case as the province knows it: the department's credit code and the case number
    number: int | None      # its evaluation number within the case, if it carries one
    problem: str | None     # "<check>: <words>", None when the record passes


def _text(record: dict[str, Any], name: str) -> str:
    value = record.get(name)
    return "" if value is None else str(value).strip()


def _reason_codes(value: Any, separator: str) -> list[str]:
    if isinstance(value, list):
        return [str(code).strip() for code in value if str(code).strip()]
    if value is None:
        return []
    return [code.strip() for code in str(value).split(separator) if code.strip()]


def _number(value: Any) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None


def check_record(mapping: Mapping, record: dict[str, Any]) -> Checked:
    """Check one record on its own (everything but the per-case rule, which the store applies)."""
    names = mapping.fields
    record_id = _text(record, names.record_id)
    case_no = _text(record, names.case_no) or None
    case_key = f"{_text(record, names.credit_code)}/{case_no}" if case_no else None
    number = _number(record.get(names.evaluation_number)) if record.get(names.evaluation_number) else None
    problem = _problem(mapping, record) if record_id else f"missing_field: {names.record_id}"
    return Checked(record_id, case_no, case_key, number, problem)


def _problem(mapping: Mapping, record: dict[str, Any]) -> str | None:
    names = mapping.fields
    for key in (FieldKey.CHANNEL, FieldKey.LEVEL, FieldKey.EVALUATED_AT):
        if not _text(record, getattr(names, key.value)):
            return f"missing_field: {getattr(names, key.value)}"
    for key, limit in mapping.limits.items():
        name = getattr(names, key.value)
        value = _text(record, name)
        if limit.required and not value:
            return f"missing_field: {name}"
        if value and limit.max_length is not None and len(value) > limit.max_length:
            return f"field_too_long: {name} has {len(value)} characters, at most {limit.max_length}"
        if value and limit.pattern is not None and not re.fullmatch(limit.pattern, value):
            return f"field_pattern: {name} {value!r} does not match {limit.pattern}"
    return _codes_problem(mapping, record) or _time_problem(mapping, record)


def _codes_problem(mapping: Mapping, record: dict[str, Any]) -> str | None:
    names = mapping.fields
    channel = _text(record, names.channel)
    if channel not in (mapping.known_channels or (mapping.channel_code,)):
        return f"unknown_channel: {names.channel} {channel!r}"
    level_code = _text(record, names.level)
    level = mapping.level_of(level_code)
    unrated = mapping.unrated.mode is UnratedMode.REPORT and level_code == mapping.unrated.code
    if level is None and not unrated:
        return f"unknown_level: {names.level} {level_code!r}"
    codes = _reason_codes(record.get(names.reason_codes), mapping.reason_separator)
    known = {reason.code for reason in mapping.reasons.values()}
    unknown = [code for code in codes if code not in known]
    if unknown:
        return f"unknown_reason: {names.reason_codes} {', '.join(unknown)}"
    if level in BAD_LEVELS and not codes:
        return f"no_reason: a bad review (level {level}) without {names.reason_codes}"
    return None


def _time_problem(mapping: Mapping, record: dict[str, Any]) -> str | None:
    name = mapping.fields.evaluated_at
    value = _text(record, name)
    try:
        datetime.strptime(value, mapping.times.format)
    except ValueError:
        return f"bad_time: {name} {value!r} is not in the format {mapping.times.format}"
    return None
