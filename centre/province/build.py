"""One rating (or unrated request) → its record: the fields the mapping makes, then the state the rules give.

Pure: the rows come in already read (scan.py), with the unit's registry codes and zone (`Units`) and the
case's earlier records (cases.py); nothing here reads or writes the database.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, select

from centre.db.tables import devices, units
from centre.province.cases import CaseBook, case_key
from centre.province.mapping import Mapping, PerCase, WithoutCase
from centre.province.model import Record, RecordState, Source
from centre.province.rules import BAD_LEVELS, Facts, Problem, Rule, check_facts, check_record, first_per_rule
from centre.registry.model import DEFAULT_TIMEZONE, check_timezone


@dataclass(frozen=True)
class Unit:
    id: str
    zone: ZoneInfo
    credit_code: str | None
    region_code: str | None


class Units:
    """The registry's units and the devices' enrollment times, read once per call (a city has thousands)."""

    def __init__(self, conn: Connection) -> None:
        self._units = {row.id: Unit(row.id, check_timezone(row.timezone), row.credit_code, row.region_code)
                       for row in conn.execute(select(units.c.id, units.c.timezone, units.c.credit_code,
                                                      units.c.region_code))}
        self.enrolled = {row.id: datetime.fromisoformat(row.enrolled_at)
                         for row in conn.execute(select(devices.c.id, devices.c.enrolled_at))}

    def __getitem__(self, unit_id: str) -> Unit:
        # A unit the registry lacks (none should: placements name registered units) has no codes: refused.
        return self._units.get(unit_id) or Unit(unit_id, check_timezone(DEFAULT_TIMEZONE), None, None)


@dataclass(frozen=True)
class RatingRow:
    uuid: str
    device_id: str
    unit_id: str
    staff_id: str | None
    case_no: str | None
    item_code: str | None
    level: int
    channel: str
    mode: str
    counted_at: str


@dataclass(frozen=True)
class UnratedRow:
    device_id: str
    event_id: int
    unit_id: str
    staff_id: str | None
    case_no: str | None
    item_code: str | None
    counted_at: str


class Builder:
    def __init__(self, mapping: Mapping, units_: Units, now: datetime) -> None:
        self.mapping, self.units, self.now = mapping, units_, now

    def rating(self, row: RatingRow, reasons: list[str], excluded: bool, book: CaseBook) -> Record:
        unit, mapping = self.units[row.unit_id], self.mapping
        codes = list(dict.fromkeys(reasons)) if row.level in BAD_LEVELS else []   # only a bad review's are sent
        make = _Making(f"rating:{row.uuid}", Source.RATING, row.uuid, row.device_id, None, unit, row.case_no,
                       row.item_code, row.counted_at, row.staff_id)
        fields = self._fields(make, mapping.levels[row.level] if row.level in mapping.levels else str(row.level),
                              codes, mapping.channel_of(row.channel))
        if excluded:
            return make.record(RecordState.SKIPPED, fields, Problem(Rule.EXCLUDED, "excluded from the scores (an "
                               "upheld appeal or a confirmed integrity flag) before its record was made"))
        if not row.case_no and row.mode == "open" and mapping.without_case is WithoutCase.SKIP:
            return make.record(RecordState.SKIPPED, fields, Problem(Rule.OPEN_WITHOUT_CASE, "an open-mode rating "
                               "without a case number: the mapping reports ratings per case (without_case: skip)"))
        number = book.next_rating(case_key(unit.credit_code, unit.id, row.case_no)) if row.case_no else 1
        if number > 1 and mapping.per_case is PerCase.FIRST_ONLY:
            return make.record(RecordState.SKIPPED, fields, Problem(Rule.CASE_RATED_TWICE, f"case {row.case_no} "
                               f"has a rating reported already (this is its rating number {number}; one service, "
                               "one rating: per_case first_only)"))
        fields[mapping.fields.evaluation_number] = number
        facts = Facts(False, row.mode, row.case_no, tuple(codes), make.evaluated,
                      self.units.enrolled.get(row.device_id))
        return self._checked(make, fields, facts)

    def unrated(self, row: UnratedRow, book: CaseBook) -> Record:
        """An unrated request's record (the mapping reports them): the unrated code, never a level."""
        unit, code = self.units[row.unit_id], self.mapping.unrated.code
        make = _Making(f"unrated:{row.device_id}:{row.event_id}", Source.UNRATED, None, row.device_id, row.event_id,
                       unit, row.case_no, row.item_code, row.counted_at, row.staff_id)
        fields = self._fields(make, code or "", [], self.mapping.channel_code)
        key = case_key(unit.credit_code, unit.id, row.case_no) if row.case_no else None
        if key is not None and book.has_record(key):
            return make.record(RecordState.SKIPPED, fields, Problem(Rule.CASE_ALREADY_REPORTED, f"case "
                               f"{row.case_no} has a record already: it was rated (or left unrated) before"))
        if key is not None:
            book.add_unrated(key)
        facts = Facts(True, "solicited", row.case_no, (), make.evaluated, self.units.enrolled.get(row.device_id))
        return self._checked(make, fields, facts)

    def _checked(self, make: _Making, fields: dict[str, Any], facts: Facts) -> Record:
        problems = first_per_rule([*check_facts(facts, self.mapping),
                                   *check_record(fields, self.mapping, self.now, make.unit.zone,
                                                                make.evaluated)])
        if problems:
            return make.record(RecordState.INVALID, fields, *problems)
        return make.record(RecordState.PENDING, fields)

    def _fields(self, make: _Making, level_code: str, reasons: list[str], channel: str) -> dict[str, Any]:
        mapping, names = self.mapping, self.mapping.fields
        province = [mapping.reasons[code] for code in reasons if code in mapping.reasons]
        # An unknown reason code goes as the terminal sent it: the rules refuse the record, naming the code.
        codes = [mapping.reasons[code].code if code in mapping.reasons else code for code in reasons]
        values: dict[str, Any] = {
            names.record_id: make.record_id, names.case_no: make.case_no, names.item_code: make.item_code,
            names.channel: channel, names.level: level_code,
            names.reason_codes: mapping.reason_separator.join(codes) or None,
            names.reason_text: mapping.reason_text_separator.join(reason.text for reason in province) or None,
            names.evaluated_at: make.evaluated.astimezone(make.unit.zone).strftime(mapping.times.format),
            names.credit_code: make.unit.credit_code, names.region_code: make.unit.region_code,
            names.staff: make.staff_id}
        return {**mapping.constants, **{name: value for name, value in values.items() if value is not None}}


@dataclass(frozen=True)
class _Making:
    """What a record is made of before its fields and state are known."""

    record_id: str
    source: Source
    rating_uuid: str | None
    device_id: str
    event_id: int | None
    unit: Unit
    case_no: str | None
    item_code: str | None
    counted_at: str
    staff_id: str | None

    @property
    def evaluated(self) -> datetime:
        return datetime.fromisoformat(self.counted_at)

    def record(self, state: RecordState, fields: dict[str, Any], *problems: Problem) -> Record:
        return Record(record_id=self.record_id, source=self.source, rating_uuid=self.rating_uuid,
                      device_id=self.device_id, event_id=self.event_id, unit_id=self.unit.id, case_no=self.case_no,
                      item_code=self.item_code, evaluated_at=self.counted_at, state=state,
                      rule=problems[0].rule.value if problems else None,
                      problem="; ".join(problem.words for problem in problems) or None, fields=fields)
