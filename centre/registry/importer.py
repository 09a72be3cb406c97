"""`evaluator centre unit import FILE`: all or nothing, and idempotent.

Every row is checked before anything is written; one bad row and nothing is, and every bad row is listed
with its line and why (unknown sector, bad time zone or hours, a bad credit or region code, a missing field,
a counter twice, a unit described two ways). Importing the same file again changes nothing; a changed name is
updated and said.
Nothing is deleted: a unit or counter missing from the file stays as it is, and so does a unit's credit or
region code where its cell is blank (or the column absent).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from centre.errors import BadInput
from centre.registry import codes, queries, sectors
from centre.registry.model import DEFAULT_TIMEZONE, CounterSpec, UnitSpec
from centre.registry.sheet import COLUMNS, Row, read


class ImportRefused(BadInput):
    """Bad rows: the message lists each with its line; nothing was written."""

    def __init__(self, path: Path, problems: list[str]):
        super().__init__(f"{path}: {len(problems)} problem(s), nothing imported:\n  " + "\n  ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Imported:
    units: int
    counters: int
    changes: list[str]


def import_file(engine: Engine, path: Path) -> Imported:
    rows = read(path)
    if not rows:
        raise BadInput(f"{path}: no rows below the headers")
    with engine.begin() as conn:
        spellings = sectors.resolver(conn)
        unit_specs, counter_specs, problems = specs(rows, spellings)
        if problems:
            raise ImportRefused(path, problems)
        changes = queries.save(conn, unit_specs, counter_specs)
    return Imported(len(unit_specs), len(counter_specs), changes)


def specs(rows: list[Row], spellings: dict[str, str]) -> tuple[list[UnitSpec], list[CounterSpec], list[str]]:
    """The units and counters of the rows, and every problem as "line N: why"."""
    units: dict[str, tuple[int, UnitSpec]] = {}
    counters: dict[tuple[str, str], tuple[int, CounterSpec]] = {}
    problems: list[str] = []
    for row in rows:
        unit, counter = _unit(row), _counter(row)
        found = [*_missing(row), *(problem for problem in (*unit.problems(), *counter.problems())
                                   if not problem.startswith("missing"))]
        if unit.sector and unit.sector.casefold() not in spellings:
            found.append(queries.unknown_sector(spellings, unit.sector))
        found.extend(_conflicts(row, unit, counter, units, counters))
        problems.extend(f"line {row.line}: {problem}" for problem in found)
        units.setdefault(unit.id, (row.line, unit))
        counters.setdefault((counter.unit_id, counter.id), (row.line, counter))
    return [spec for _, spec in units.values()], [spec for _, spec in counters.values()], problems


def _missing(row: Row) -> list[str]:
    return [f"missing {column.en.lower()} ({column.zh})" for column in COLUMNS
            if column.required and not row.values[column.key]]


def _unit(row: Row) -> UnitSpec:
    value = row.values
    return UnitSpec(id=value["unit_id"], name=value["unit_name"], name_en=value["unit_name_en"] or None,
                    district=value["district"], district_en=value["district_en"] or None, sector=value["sector"],
                    timezone=value["timezone"] or DEFAULT_TIMEZONE, opening_hours=value["opening_hours"],
                    address=value["address"] or None, credit_code=codes.normalised(value["credit_code"]),
                    region_code=codes.normalised(value["region_code"]))


def _counter(row: Row) -> CounterSpec:
    value = row.values
    return CounterSpec(unit_id=value["unit_id"], id=value["counter_id"], name=value["counter_name"],
                       name_en=value["counter_name_en"] or None)


def _conflicts(row: Row, unit: UnitSpec, counter: CounterSpec, units: dict[str, tuple[int, UnitSpec]],
               counters: dict[tuple[str, str], tuple[int, CounterSpec]]) -> list[str]:
    found: list[str] = []
    earlier = counters.get((counter.unit_id, counter.id))
    if earlier is not None and counter.id:
        found.append(f"duplicate counter {counter.unit_id}/{counter.id} (also on line {earlier[0]})")
    first = units.get(unit.id)
    if first is not None and unit.id and first[1] != unit:
        differ = [name for name in ("name", "name_en", "district", "district_en", "sector", "timezone",
                                    "opening_hours", "address", "credit_code", "region_code")
                  if getattr(first[1], name) != getattr(unit, name)]
        found.append(f"unit {unit.id} differs from line {first[0]} in {', '.join(differ)} "
                     "(each row of a unit repeats the same unit columns)")
    return found
