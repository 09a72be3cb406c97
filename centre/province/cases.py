"""One service, one rating: the records a case already has, so its next rating gets its number (评价次数).

A case is (the unit's credit code, the case number): the province knows a department by its credit code, and
a counter PC numbers cases per department; a unit without a credit code stands for itself (its id). A book
is filled from province_records for the cases it is asked about (`seed`), then counts the records made
beside it; records that were skipped do not count (they were never reported). An unrated request's record
counts as a record of its case but not as one of its ratings: a rating after it is still the case's first.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from sqlalchemy import Connection, select

from centre.db.lookup import among
from centre.db.province_tables import province_records
from centre.db.tables import units

CaseKey = tuple[str, str]   # (credit code, or "unit:<id>" for a unit without one; case number)

_HELD = (select(province_records.c.record_id, province_records.c.source, province_records.c.unit_id,
                province_records.c.case_no, province_records.c.evaluated_at, units.c.credit_code)
         .outerjoin(units, units.c.id == province_records.c.unit_id)
         .where(province_records.c.state != "skipped"))


def case_key(credit_code: str | None, unit_id: str, case_no: str) -> CaseKey:
    return (credit_code or f"unit:{unit_id}", case_no)


class CaseBook:
    def __init__(self, conn: Connection, *, outside: tuple[str, str] | None = None,
                 ignore: frozenset[str] = frozenset()) -> None:
        """`outside`: only records evaluated outside this [start, end) count from the table (a dry run over
        that span makes its own records afresh, as if none had been made); `ignore`: these records do not count
        (they are being made again)."""
        self._conn, self._outside, self._ignore = conn, outside, ignore
        self._ratings: Counter[CaseKey] = Counter()
        self._any: set[CaseKey] = set()
        self._seeded: set[str] = set()

    def seed(self, case_nos: Iterable[str]) -> None:
        """Read the records held for these case numbers (those not read before)."""
        wanted = sorted(set(case_nos) - self._seeded)
        if not wanted:
            return
        self._seeded.update(wanted)
        for row in among(self._conn, _HELD, province_records.c.case_no, wanted):
            if row.record_id in self._ignore or (self._outside is not None
                                                 and self._outside[0] <= row.evaluated_at < self._outside[1]):
                continue
            key = case_key(row.credit_code, row.unit_id, row.case_no)
            self._any.add(key)
            if row.source == "rating":
                self._ratings[key] += 1

    def next_rating(self, key: CaseKey) -> int:
        """The number of the case's rating being made now (1 for its first), counted from then on."""
        self._seed_one(key)
        self._ratings[key] += 1
        self._any.add(key)
        return self._ratings[key]

    def has_record(self, key: CaseKey) -> bool:
        self._seed_one(key)
        return key in self._any

    def add_unrated(self, key: CaseKey) -> None:
        self._any.add(key)

    def _seed_one(self, key: CaseKey) -> None:
        if key[1] not in self._seeded:
            self.seed([key[1]])
