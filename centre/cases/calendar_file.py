"""The office's calendar file: its corrections to the working-day calendar, a CSV (UTF-8) or xlsx sheet.

The first row names the columns: day (日期), working (上班), note (备注); in any order. A row per day:
day as YYYY-MM-DD; working as 1/0, 是/否, yes/no, true/false (1: a working day, such as a 调休 make-up
Saturday; 0: a day off, such as a public holiday); note, up to 100 characters (e.g. 国庆节, 国庆节调休).
Every row is checked before anything is stored, and every bad one is named by line and field.
"""
from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TypeVar

from centre.db.rows import nul_field
from centre.errors import BadInput
from centre.registry.sheet import read_cells

T = TypeVar("T")

NOTE_LIMIT = 100   # calendar_days.note
WORKING = {"1", "是", "yes", "y", "true", "上班", "工作日"}
OFF = {"0", "否", "no", "n", "false", "休", "休息", "放假"}
HEADERS = {"day": ("day", "日期", "date"), "working": ("working", "上班", "是否上班", "工作日"),
           "note": ("note", "备注", "说明")}
# The statutory holidays fixed by date (全国年节及纪念日放假办法), true of every year; the lunar ones, the
# bridging days and the 调休 Saturdays come from the State Council's notice of the year.
TEMPLATE_DAYS = (("01-01", "元旦"), ("05-01", "劳动节"), ("10-01", "国庆节"), ("10-02", "国庆节"),
                 ("10-03", "国庆节"))


@dataclass(frozen=True)
class DayRow:
    day: date
    working: bool
    note: str
    line: int


class CalendarRefused(BadInput):
    """Bad rows: the message names each by line and field; nothing was imported."""

    def __init__(self, path: Path, problems: list[str]):
        super().__init__(f"{path}: {len(problems)} problem(s), nothing imported:\n  " + "\n  ".join(problems))
        self.problems = problems


def read(path: Path) -> list[DayRow]:
    """The file's days, in its order; CalendarRefused naming every bad row (and a day given twice)."""
    cells = [(line, row) for line, row in read_cells(path) if any(row)]
    if not cells:
        raise BadInput(f"{path}: empty: the first row must name the columns day, working, note "
                       "(`evaluator centre calendar template FILE`)")
    columns = _columns(path, cells[0][1])
    days: list[DayRow] = []
    problems: list[str] = []
    first: dict[date, int] = {}
    for line, row in cells[1:]:
        try:
            found = _row(line, {key: row[index] if index < len(row) else "" for key, index in columns.items()})
        except BadInput as exc:
            problems.append(f"line {line}: {exc.message}")
            continue
        if found.day in first:
            problems.append(f"line {line}: field 'day': {found.day} again (also line {first[found.day]})")
        first.setdefault(found.day, line)
        days.append(found)
    if problems:
        raise CalendarRefused(path, problems)
    if not days:
        raise BadInput(f"{path}: no days below the header row: nothing imported")
    return days


def _columns(path: Path, header: list[str]) -> dict[str, int]:
    spelled = [cell.strip().casefold() for cell in header]
    columns: dict[str, int] = {}
    for key, spellings in HEADERS.items():
        index = next((at for at, cell in enumerate(spelled) if cell in spellings), None)
        if index is not None:
            columns[key] = index
    missing = [key for key in ("day", "working") if key not in columns]
    if missing:
        raise BadInput(f"{path}: line 1: missing column(s) {', '.join(missing)} (the header row must name "
                       "day, working, note: `evaluator centre calendar template FILE`)")
    return columns


def _row(line: int, fields: dict[str, str]) -> DayRow:
    """The row's day, or BadInput naming every bad field of it."""
    bad = nul_field(fields)
    if bad:
        raise BadInput(f"field {bad!r}: holds a NUL character")
    problems: list[str] = []
    day = _checked(problems, _day, fields["day"])
    working = _checked(problems, _working, fields["working"])
    note = _checked(problems, _note, fields.get("note", ""))
    if problems or day is None or working is None or note is None:
        raise BadInput("; ".join(problems))
    return DayRow(day, working, note, line)


def _checked(problems: list[str], parse: Callable[[str], T], text: str) -> T | None:
    try:
        return parse(text)
    except BadInput as exc:
        problems.append(exc.message)
        return None


def _day(text: str) -> date:
    # An xlsx date cell comes as "2027-01-01 00:00:00": its date is the day.
    given = text[:10] if len(text) == 19 and text.endswith(" 00:00:00") else text
    try:
        return date.fromisoformat(given) if len(given) == 10 else date.fromisoformat("not a date")
    except ValueError:
        raise BadInput(f"field 'day': {text!r} is not a date YYYY-MM-DD") from None


def _working(text: str) -> bool:
    value = text.strip().casefold()
    if value in WORKING:
        return True
    if value in OFF:
        return False
    raise BadInput(f"field 'working': {text!r} is neither 1/是/yes (a working day) nor 0/否/no (a day off)")


def _note(text: str) -> str:
    if len(text) > NOTE_LIMIT:
        raise BadInput(f"field 'note': {len(text)} characters, at most {NOTE_LIMIT}")
    return text


def write_template(path: Path, year: int) -> None:
    """The header row and `year`'s fixed-date holidays, as CSV (UTF-8 with a BOM, for Excel) or xlsx."""
    rows = [list(HEADERS), *[[f"{year:04d}-{day}", "0", note] for day, note in TEMPLATE_DAYS]]
    if path.suffix.lower() == ".csv":
        with path.open("w", encoding="utf-8-sig", newline="") as out:
            csv.writer(out).writerows(rows)
        return
    if path.suffix.lower() != ".xlsx":
        raise BadInput(f"{path}: the template is written as .csv or .xlsx")
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "calendar"
    for row in rows:
        sheet.append(row)
    workbook.save(path)
