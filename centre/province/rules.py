"""The checks a record passes before it leaves (docs/province-report.md, Rules): each a named rule with words
that say what is wrong. A record that fails one is `invalid`: kept, shown, never sent.

Two kinds of check:
- `check_record(fields, mapping, now)`: on the record as the province receives it (its field names and codes),
  so the reference receiver runs the same checks on what arrives;
- `check_facts(facts, mapping)`: on what only the centre knows (the rating's mode, its reasons as the
  terminal coded them, the device's enrollment).

The rules that skip a record rather than refuse it (`SKIP_RULES`) are decided while the record is made
(records.py); they are named here so that every rule has one list.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from centre.province.mapping import FieldKey, Limit, Mapping
from centre.registry.codes import credit_code_problem, region_code_problem

# China keeps one civil time: a receiver that gets a unit's local time without its zone reads it here.
CHINA = ZoneInfo("Asia/Shanghai")
BAD_LEVELS = (1, 2)
LEVEL_WORDS = {1: "非常不满意", 2: "不满意", 3: "基本满意", 4: "满意", 5: "非常满意"}


class Rule(str, Enum):
    # -- invalid: refused by the centre, never sent ------------------------------------------------------
    BAD_REVIEW_WITHOUT_REASON = "bad_review_without_reason"
    SOLICITED_WITHOUT_CASE = "solicited_without_case"
    UNKNOWN_LEVEL = "unknown_level"
    UNKNOWN_REASON_CODE = "unknown_reason_code"
    UNKNOWN_CHANNEL = "unknown_channel"
    IMPLAUSIBLE_TIME = "implausible_time"
    UNIT_WITHOUT_CREDIT_CODE = "unit_without_credit_code"
    UNIT_WITHOUT_REGION_CODE = "unit_without_region_code"
    BAD_CREDIT_CODE = "bad_credit_code"
    BAD_REGION_CODE = "bad_region_code"
    FIELD_MISSING = "field_missing"
    FIELD_TOO_LONG = "field_too_long"
    FIELD_PATTERN = "field_pattern"
    # -- skipped: the mapping says not to report it ------------------------------------------------------
    EXCLUDED = "excluded"                            # excluded from the scores before its record was made
    CASE_RATED_TWICE = "case_rated_twice"            # per_case first_only: the case's rating is reported already
    OPEN_WITHOUT_CASE = "open_without_case"          # without_case skip: an open-mode rating has no case number
    CASE_ALREADY_REPORTED = "case_already_reported"  # an unrated request of a case that has a record


SKIP_RULES = frozenset({Rule.EXCLUDED, Rule.CASE_RATED_TWICE, Rule.OPEN_WITHOUT_CASE, Rule.CASE_ALREADY_REPORTED})


@dataclass(frozen=True)
class Problem:
    rule: Rule
    words: str


@dataclass(frozen=True)
class Facts:
    """What the centre knows of a record beyond its fields."""

    unrated: bool
    mode: str | None                 # the rating's mode (open, solicited); "solicited" for an unrated request
    case_no: str | None
    reasons: tuple[str, ...]         # the terminal's reason codes
    evaluated: datetime              # aware UTC
    enrolled: datetime | None        # the device's enrollment (None: unknown)


def check_facts(facts: Facts, mapping: Mapping, tolerance: timedelta | None = None) -> list[Problem]:
    tolerance = tolerance if tolerance is not None else timedelta(seconds=mapping.times.future_tolerance_s)
    found: list[Problem] = []
    if facts.mode == "solicited" and not facts.case_no:
        what = "an unrated request" if facts.unrated else "a solicited rating"
        found.append(Problem(Rule.SOLICITED_WITHOUT_CASE, f"{what} without a case number (办件编号): the counter "
                             "asked for it without one (the staff's key, or a C frame without a case)"))
    unmapped = [code for code in facts.reasons if code not in mapping.reasons]
    if unmapped:
        found.append(Problem(Rule.UNKNOWN_REASON_CODE, f"reason code(s) {', '.join(unmapped)} have no province "
                             f"code in mapping {mapping.name!r} (its `reasons`)"))
    if facts.enrolled is not None and facts.evaluated < facts.enrolled - tolerance:
        found.append(Problem(Rule.IMPLAUSIBLE_TIME, f"rated at {facts.evaluated:%Y-%m-%d %H:%M:%S} UTC, before its "
                             f"device was enrolled ({facts.enrolled:%Y-%m-%d %H:%M:%S} UTC)"))
    return found


def check_record(fields: dict[str, Any], mapping: Mapping, now: datetime, zone: ZoneInfo = CHINA,
                 evaluated: datetime | None = None) -> list[Problem]:
    """Every problem of a record as the province receives it; `zone` reads its local time (the unit's), unless
    the time it was written from is given (`evaluated`, aware: the centre knows it)."""
    found = [*_level_and_reasons(fields, mapping), *_channel(fields, mapping),
             *_time(fields, mapping, now, zone, evaluated), *_unit_codes(fields, mapping), *_limits(fields, mapping)]
    return found


def first_per_rule(problems: list[Problem]) -> list[Problem]:
    """One problem per rule, in order: a record's words name each thing wrong once."""
    seen: set[Rule] = set()
    kept = []
    for problem in problems:
        if problem.rule not in seen:
            seen.add(problem.rule)
            kept.append(problem)
    return kept


def _level_and_reasons(fields: dict[str, Any], mapping: Mapping) -> list[Problem]:
    names, found = mapping.fields, []
    code = fields.get(names.level)
    level = mapping.level_of(str(code)) if code is not None else None
    unrated = code is not None and code == mapping.unrated.code
    if level is None and not unrated:
        found.append(Problem(Rule.UNKNOWN_LEVEL, f"{names.level} {code!r} is none of the levels' codes "
                             f"({', '.join(mapping.levels.values())})"))
    reasons = str(fields.get(names.reason_codes) or "")
    given = [part for part in reasons.split(mapping.reason_separator) if part] if reasons else []
    if level in BAD_LEVELS and not given:
        found.append(Problem(Rule.BAD_REVIEW_WITHOUT_REASON, f"a bad review (level {level}, {LEVEL_WORDS[level]}) "
                             "carries no reason: the citizen chose none, or its reasons have not reached the "
                             "centre; the province refuses it, and no reason may be made up for the citizen"))
    known = {reason.code for reason in mapping.reasons.values()}
    unknown = [part for part in given if part not in known]
    if unknown:
        found.append(Problem(Rule.UNKNOWN_REASON_CODE, f"{names.reason_codes} holds {', '.join(unknown)}: not "
                             "among the province's reason codes"))
    return found


def _channel(fields: dict[str, Any], mapping: Mapping) -> list[Problem]:
    name = mapping.fields.channel
    code = fields.get(name)
    known = mapping.known_channels or (mapping.channel_code, *mapping.channels.values())
    if code not in known:
        return [Problem(Rule.UNKNOWN_CHANNEL, f"{name} {code!r} is not a channel code ({', '.join(known)})")]
    return []


def _time(fields: dict[str, Any], mapping: Mapping, now: datetime, zone: ZoneInfo,
          evaluated: datetime | None) -> list[Problem]:
    name, text = mapping.fields.evaluated_at, fields.get(mapping.fields.evaluated_at)
    if text is None:
        return []   # a missing time is the limits' field_missing
    try:
        at = evaluated or datetime.strptime(str(text), mapping.times.format).replace(tzinfo=zone)
    except ValueError:
        return [Problem(Rule.IMPLAUSIBLE_TIME, f"{name} {text!r} is not a time in {mapping.times.format!r}")]
    floor = mapping.times.floor if mapping.times.floor.tzinfo else mapping.times.floor.replace(tzinfo=UTC)
    if at > now + timedelta(seconds=mapping.times.future_tolerance_s):
        return [Problem(Rule.IMPLAUSIBLE_TIME, f"{name} {text} is in the future (the clock reads "
                        f"{now.astimezone(zone):%Y-%m-%d %H:%M:%S})")]
    if at < floor:
        return [Problem(Rule.IMPLAUSIBLE_TIME, f"{name} {text} is before {floor:%Y-%m-%d}, the earliest "
                        "plausible time (the mapping's times.floor)")]
    return []


def _unit_codes(fields: dict[str, Any], mapping: Mapping) -> list[Problem]:
    names, found = mapping.fields, []
    credit, region = fields.get(names.credit_code), fields.get(names.region_code)
    if not credit:
        found.append(Problem(Rule.UNIT_WITHOUT_CREDIT_CODE, "the unit has no credit code (统一社会信用代码) in the "
                             "registry: give it one (`evaluator centre unit import`, column 统一社会信用代码)"))
    elif problem := _credit_problem(str(credit)):
        found.append(Problem(Rule.BAD_CREDIT_CODE, problem))
    if not region:
        found.append(Problem(Rule.UNIT_WITHOUT_REGION_CODE, "the unit has no region code (行政区划代码) in the "
                             "registry: give it one (`evaluator centre unit import`, column 行政区划代码)"))
    elif problem := _region_problem(str(region)):
        found.append(Problem(Rule.BAD_REGION_CODE, problem))
    return found


# A unit's codes repeat in every record of the unit: each is checked once.
_credit_problem = lru_cache(maxsize=4096)(credit_code_problem)
_region_problem = lru_cache(maxsize=4096)(region_code_problem)


def _limits(fields: dict[str, Any], mapping: Mapping) -> list[Problem]:
    found = []
    for name, limit, pattern in _limits_of(mapping):
        value = fields.get(name)
        if value is None or value == "":
            if limit.required:
                found.append(Problem(Rule.FIELD_MISSING, f"{name} is required and empty"))
            continue
        text = str(value)
        if limit.max_length is not None and len(text) > limit.max_length:
            found.append(Problem(Rule.FIELD_TOO_LONG, f"{name} {text!r} is {len(text)} characters, longer than "
                                 f"{limit.max_length}"))
        if pattern is not None and not pattern.fullmatch(text):
            found.append(Problem(Rule.FIELD_PATTERN, f"{name} {text!r} does not match {limit.pattern}"))
    return found


_LIMITS: dict[int, tuple[Mapping, list[tuple[str, Limit, re.Pattern[str] | None]]]] = {}


def _limits_of(mapping: Mapping) -> list[tuple[str, Limit, re.Pattern[str] | None]]:
    """Each limit with its field's name and its pattern compiled, once per mapping (by identity: it is frozen)."""
    found = _LIMITS.get(id(mapping))
    if found is None or found[0] is not mapping:
        found = _LIMITS[id(mapping)] = (mapping, [
            (getattr(mapping.fields, FieldKey(key).value), limit,
             re.compile(limit.pattern) if limit.pattern is not None else None)
            for key, limit in mapping.limits.items()])
    return found[1]
