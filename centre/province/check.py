"""`evaluator centre province check`: the dry run (docs/province-report.md, Check).

Every rating (and unrated request, where the mapping reports them) counted on the city's days [since, until]
is made into its record as `make_records` would, checked by the rules, and counted: how many would be sent,
skipped (by rule) and refused (by rule, with a few examples each). Nothing is written. The days are calendar
days in one zone, the city's (`--zone`, default Asia/Shanghai: China keeps one civil time, and it is the
registry's default unit zone).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from centre.province.mapping import Mapping
from centre.province.model import Record, RecordState
from centre.province.preview import iter_preview

EXAMPLES = 3   # records shown per refusing rule


@dataclass
class RuleCount:
    count: int = 0
    examples: list[Record] = field(default_factory=list)


@dataclass
class CheckResult:
    mapping: Mapping
    since: date
    until: date
    zone: ZoneInfo
    records: int = 0
    send: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    refused: dict[str, RuleCount] = field(default_factory=dict)

    @property
    def refused_total(self) -> int:
        return sum(rule.count for rule in self.refused.values())

    def add(self, record: Record, examples: int) -> None:
        self.records += 1
        if record.state is RecordState.PENDING:
            self.send += 1
        elif record.state is RecordState.SKIPPED:
            self.skipped[record.rule or ""] += 1
        else:
            found = self.refused.setdefault(record.rule or "", RuleCount())
            found.count += 1
            if len(found.examples) < examples:
                found.examples.append(record)

    def as_json(self) -> dict[str, Any]:
        return {"mapping": {"name": self.mapping.name, "version": self.mapping.version},
                "since": self.since.isoformat(), "until": self.until.isoformat(), "zone": self.zone.key,
                "records": self.records, "send": self.send, "skipped": dict(sorted(self.skipped.items())),
                "refused": {rule: {"count": found.count, "examples": [_example(record) for record in found.examples]}
                            for rule, found in self._refused_by_count()}}

    def lines(self) -> list[str]:
        said = [f"province check: mapping {self.mapping.name} (version {self.mapping.version}); days "
                f"{self.since} … {self.until} ({self.zone.key}): {self.records} record(s)",
                f"  would be sent: {self.send}",
                f"  skipped:       {sum(self.skipped.values())}" + (
                    " (" + ", ".join(f"{rule} {n}" for rule, n in sorted(self.skipped.items())) + ")"
                    if self.skipped else ""),
                f"  refused:       {self.refused_total}"]
        for rule, found in self._refused_by_count():
            first = found.examples[0].problem if found.examples else None
            said.append(f"{rule}: {found.count} record(s)" + (f": {first}" if first else ""))
            said.extend(f"  {record.record_id}  unit {record.unit_id}  case {record.case_no or '-'}"
                        + (f": {record.problem}" if record.problem != first else "") for record in found.examples)
        return said

    def _refused_by_count(self) -> list[tuple[str, RuleCount]]:
        return sorted(self.refused.items(), key=lambda item: (-item[1].count, item[0]))


def _example(record: Record) -> dict[str, Any]:
    return {"record_id": record.record_id, "unit_id": record.unit_id, "case_no": record.case_no,
            "evaluated_at": record.evaluated_at, "problem": record.problem, "fields": record.fields}


def day_span(since: date, until: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """[the start of `since`, the start of the day after `until`) in `zone`, as aware times."""
    return (datetime.combine(since, time(), zone), datetime.combine(until + timedelta(days=1), time(), zone))


def run_check(engine: Engine, mapping: Mapping, since: date, until: date, zone: ZoneInfo, now: datetime,
              examples: int = EXAMPLES) -> CheckResult:
    start, end = day_span(since, until, zone)
    result = CheckResult(mapping, since, until, zone)
    with engine.connect() as conn:
        for record in iter_preview(conn, mapping, start, end, now):
            result.add(record, examples)
    return result
