"""`evaluator centre enroll-code --file COUNTERS.csv`: a code for every counter of a sheet, at once.

Issued one by one, a code costs about half a second of a process start; here the whole sheet takes one
process and one transaction. All or nothing: every row is checked first (a unit or counter the registry
lacks, a bad id or name override, the same counter twice) and one bad row issues no code, every bad row named
with its line. The codes come out as CSV (unit, counter, code, expires_at) for the technician to print.

The sheet is a CSV (UTF-8, with or without Excel's BOM) or an xlsx (its first sheet), read by the registry's
sheet reader: columns unit and counter, optionally unit_name, unit_name_en, counter_name, counter_name_en
(each overrides the registry's name for that code's terminal, as the single form's options do). The
registry's own headers are understood too (单位编号 / Unit ID, 窗口编号 / Counter ID, …), so the sheet of
`evaluator centre unit import` serves as it is; other columns are ignored.
"""
from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TextIO

from sqlalchemy import Connection, Engine, RowMapping, select

from centre.db.engine import open_engine
from centre.db.rows import nul_field, utcnow
from centre.db.tables import counters, units
from centre.enroll import Issued, issue
from centre.errors import BadInput
from centre.registry import sectors, sheet
from centre.registry.model import NAME_LIMITS, id_problems, name_problems
from centre.registry.queries import Place

OUTPUT_COLUMNS = ("unit", "counter", "code", "expires_at")


def _spellings() -> dict[str, str]:
    """Header spelling (case-folded) → column: the short names, and the registry sheet's for the same columns."""
    found = {"unit": "unit", "counter": "counter"}
    for column in sheet.COLUMNS:
        key = {"unit_id": "unit", "counter_id": "counter"}.get(column.key, column.key)
        if key in ("unit", "counter", *NAME_LIMITS):
            found.update({spelling.casefold(): key for spelling in (column.key, column.zh, column.en, column.header)})
    return found


_SPELLINGS = _spellings()
_SINGLE_FORM = ("unit", "counter", "unit_name", "unit_name_en", "counter_name", "counter_name_en", "timezone")


@dataclass(frozen=True)
class Wanted:
    """A row of the sheet: the counter a code is wanted for, and the names it overrides (None: the registry's)."""

    line: int
    unit_id: str
    counter_id: str
    names: dict[str, str | None]


class BatchRefused(BadInput):
    """Bad rows: the message lists each with its line; no code was issued."""

    def __init__(self, path: Path, problems: list[str]):
        unknown = any("unknown" in problem for problem in problems)
        super().__init__(f"{path}: {len(problems)} problem(s), no code issued:\n  " + "\n  ".join(problems)
                         + ("\nregister units and counters first: `evaluator centre unit import` or `counter add`"
                            if unknown else ""))
        self.problems = problems


def add_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument("--file", type=Path, metavar="COUNTERS.csv|.xlsx",
                         help="instead of --unit/--counter: a code for every row, columns unit, counter (and "
                              "unit_name, unit_name_en, counter_name, counter_name_en to override a name); all or "
                              "nothing; printed as CSV: unit, counter, code, expires_at")
    command.add_argument("--out", type=Path, metavar="CODES.csv", help="with --file: write the codes there, not to "
                                                                       "the standard output")


def single_form(args: argparse.Namespace) -> bool:
    """True for `--unit U --counter C` alone (one code, printed); anything else is this module's to run or refuse."""
    return args.file is None and args.out is None and args.unit is not None and args.counter is not None


def run(args: argparse.Namespace) -> int:
    """The --file form; also refuses a form half given (--unit without --counter, --file beside --unit)."""
    _check_form(args)
    engine = open_engine(args.db, create=False)
    ttl = timedelta(hours=args.ttl_hours)
    if args.out is None:
        issued = issue_file(engine, args.file, ttl)
        write_codes(sys.stdout, issued)
    else:
        issued = _issue_into(engine, args.file, ttl, args.out)
    print(f"{len(issued)} code(s) issued, valid until {issued[0].expires_at}"
          + (f", written to {args.out}" if args.out is not None else ""), file=sys.stderr)
    return 0


def _check_form(args: argparse.Namespace) -> None:
    if args.file is None:
        if args.out is not None:
            raise BadInput("--out goes with --file (a single code is printed)")
        raise BadInput("give --unit and --counter (one code), or --file COUNTERS.csv (a code for every row)")
    given = [f"--{name.replace('_', '-')}" for name in _SINGLE_FORM if getattr(args, name) is not None]
    if given:
        raise BadInput(f"--file and {', '.join(given)}: give one or the other (the file's columns name the units, "
                       "counters and any name overrides)")


def issue_file(engine: Engine, path: Path, ttl: timedelta, *, deliver: Callable[[list[Issued]], None] | None = None,
               now: datetime | None = None) -> list[Issued]:
    """A code for every row of the sheet, in one transaction, or BatchRefused listing every bad row.
    `deliver` runs before the commit: a failure there (an --out file that cannot be written) issues none."""
    if ttl <= timedelta(0):
        raise BadInput("the code's lifetime must be positive")
    wanted = read_counters(path)
    created = now or utcnow()
    with engine.begin() as conn:
        sectors.ensure_shipped(conn)
        places, problems = _places(conn, wanted)
        if problems:
            raise BatchRefused(path, problems)
        issued = [issue(conn, where, row.names, created, ttl) for row, where in zip(wanted, places, strict=True)]
        if deliver is not None:
            deliver(issued)
    return issued


def read_counters(path: Path) -> list[Wanted]:
    """The sheet's rows (blank ones skipped); BadInput for a file without the unit and counter columns."""
    table = sheet.read_cells(path)
    if not table:
        raise BadInput(f"{path}: empty: the first row must hold the headers (unit, counter)")
    keys = _header(path, table[0][1])
    wanted = []
    for line, cells in table[1:]:
        values = {key: cell for key, cell in zip(keys, cells, strict=False) if key is not None}
        if any(values.values()):
            wanted.append(Wanted(line, values.get("unit", ""), values.get("counter", ""),
                                 {key: values.get(key) or None for key in NAME_LIMITS}))
    if not wanted:
        raise BadInput(f"{path}: no rows below the headers")
    return wanted


def _header(path: Path, cells: list[str]) -> list[str | None]:
    keys: list[str | None] = []
    for cell in cells:
        spelling = " ".join(cell.split()).casefold()
        keys.append(_SPELLINGS.get(spelling) or next((_SPELLINGS[part.strip()] for part in spelling.split("/")
                                                      if part.strip() in _SPELLINGS), None))
    missing = [key for key in ("unit", "counter") if key not in keys]
    if missing:
        raise BadInput(f"{path}: line 1: missing column(s) {', '.join(missing)} (the headers: unit, counter, and "
                       "optionally unit_name, unit_name_en, counter_name, counter_name_en)")
    return keys


def _places(conn: Connection, wanted: list[Wanted]) -> tuple[list[Place], list[str]]:
    """The registered unit and counter of every row, and every problem as "line N: why"."""
    unit_ids = sorted({row.unit_id for row in wanted if not id_problems("unit id", row.unit_id)})
    held_units = {row["id"]: row for row in conn.execute(select(units).where(units.c.id.in_(unit_ids))).mappings()}
    held_counters = {(row["unit_id"], row["id"]): row for row in conn.execute(
        select(counters).where(counters.c.unit_id.in_(unit_ids))).mappings()}
    places: list[Place] = []
    problems: list[str] = []
    first: dict[tuple[str, str], int] = {}
    for row in wanted:
        found = _problems(row, held_units, held_counters, first)
        problems.extend(f"line {row.line}: {problem}" for problem in found)
        if not found:
            places.append(Place(held_units[row.unit_id], held_counters[(row.unit_id, row.counter_id)]))
    return places, problems


def _problems(row: Wanted, held_units: dict[str, RowMapping], held_counters: dict[tuple[str, str], RowMapping],
              first: dict[tuple[str, str], int]) -> list[str]:
    found = [*id_problems("unit id", row.unit_id), *id_problems("counter id", row.counter_id),
             *name_problems(row.names)]
    unstorable = nul_field(row.names)
    if unstorable:
        found.append(f"{unstorable.replace('_', ' ')}: contains a NUL character")
    if found:
        return found
    key = (row.unit_id, row.counter_id)
    if row.unit_id not in held_units:
        found.append(f"unknown unit {row.unit_id!r}")
    elif key not in held_counters:
        listed = ", ".join(sorted(counter for unit, counter in held_counters if unit == row.unit_id)) or "none yet"
        found.append(f"unknown counter {row.counter_id!r} of unit {row.unit_id!r} (its counters: {listed})")
    if key in first:
        found.append(f"counter {row.unit_id}/{row.counter_id} again (also on line {first[key]}): one code per counter")
    first.setdefault(key, row.line)
    return found


def _issue_into(engine: Engine, path: Path, ttl: timedelta, out: Path) -> list[Issued]:
    """Written beside `out` before the commit and renamed after it: a file that cannot be written issues no code,
    and `out` never holds codes the database does not."""
    part = out.with_name(out.name + ".part")
    try:
        issued = issue_file(engine, path, ttl, deliver=lambda codes: _write(part, out, codes))
        part.replace(out)
    finally:
        part.unlink(missing_ok=True)
    return issued


def _write(part: Path, out: Path, issued: list[Issued]) -> None:
    try:
        with part.open("w", encoding="utf-8", newline="") as stream:
            write_codes(stream, issued)
    except OSError as exc:
        raise BadInput(f"{out}: cannot write: {exc.strerror or exc}; no code issued") from None


def write_codes(out: TextIO, issued: list[Issued]) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(OUTPUT_COLUMNS)
    writer.writerows((item.unit_id, item.counter_id, item.code, item.expires_at) for item in issued)
