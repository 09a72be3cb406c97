"""The office's spreadsheet of units, one row per counter: CSV (UTF-8, with or without Excel's BOM) or xlsx.

The first row holds the headers, in Chinese, English or both as the template writes them ("区县 / District");
the columns may come in any order, optional ones may be left out. Rows are returned with their line number.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from centre.errors import BadInput


@dataclass(frozen=True)
class Column:
    key: str
    zh: str
    en: str
    required: bool
    example: str

    @property
    def header(self) -> str:
        return f"{self.zh} / {self.en}"


COLUMNS = (
    Column("district", "区县", "District", True, "东城区"),
    Column("district_en", "区县英文名", "District (English)", False, "Dongcheng District"),
    Column("sector", "行业", "Sector", True, "人力资源和社会保障"),
    Column("unit_id", "单位编号", "Unit ID", True, "dc-hrss"),
    Column("unit_name", "单位名称", "Unit name", True, "东城区人社服务中心"),
    Column("unit_name_en", "单位英文名", "Unit name (English)", False, "Dongcheng HR & Social Security Centre"),
    Column("timezone", "时区", "Time zone", False, "Asia/Shanghai"),
    Column("opening_hours", "办公时间", "Opening hours", False, "mon-fri 09:00-12:00 13:30-17:30; sat 09:00-12:00"),
    Column("address", "地址", "Address", False, "东城区建国路1号"),
    Column("credit_code", "统一社会信用代码", "Credit code", False, "11110101MB01203456"),
    Column("region_code", "行政区划代码", "Region code", False, "110101"),
    Column("counter_id", "窗口编号", "Counter ID", True, "c-01"),
    Column("counter_name", "窗口名称", "Counter name", True, "1号窗口"),
    Column("counter_name_en", "窗口英文名", "Counter name (English)", False, "Counter 1"),
)
_BY_SPELLING = {spelling.casefold(): column.key for column in COLUMNS
                for spelling in (column.zh, column.en, column.key, column.header)}


@dataclass(frozen=True)
class Row:
    line: int
    values: dict[str, str]     # every column's key; "" where the cell is empty or the column absent


def read(path: Path) -> list[Row]:
    """The file's rows (blank ones skipped); BadInput for a file that is not a readable sheet of units."""
    if path.suffix.lower() not in (".csv", ".xlsx"):
        raise BadInput(f"{path}: give a .csv or .xlsx file (the template: `evaluator centre unit template`)")
    table = read_cells(path)
    if not table:
        raise BadInput(f"{path}: empty: the first row must hold the headers")
    keys = _header(path, table[0][1])
    rows = []
    for line, cells in table[1:]:
        values = {column.key: "" for column in COLUMNS}
        for key, cell in zip(keys, cells, strict=False):
            if key is not None:
                values[key] = cell
        if any(values.values()):
            rows.append(Row(line, values))
    return rows


def read_cells(path: Path) -> list[tuple[int, list[str]]]:
    """Every row of a CSV or an xlsx's first sheet as text cells, with its line number: for any sheet the
    office fills (the units', `enroll-code --file`'s counters)."""
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise BadInput(f"{path}: give a .csv or .xlsx file")
    if not path.is_file():
        raise BadInput(f"{path}: file not found")
    return _xlsx_cells(path) if suffix == ".xlsx" else _csv_cells(path)


def _header(path: Path, cells: list[str]) -> list[str | None]:
    keys: list[str | None] = []
    for cell in cells:
        spelling = " ".join(cell.split()).casefold()
        keys.append(_BY_SPELLING.get(spelling) or next((_BY_SPELLING[part.strip()] for part in spelling.split("/")
                                                         if part.strip() in _BY_SPELLING), None))
    missing = [column.header for column in COLUMNS if column.required and column.key not in keys]
    if missing:
        raise BadInput(f"{path}: line 1: missing column(s) {', '.join(missing)} (the headers of "
                       "`evaluator centre unit template`)")
    return keys


def _text(value: Any) -> str:
    """A cell as text: Excel turns an id like 301 into a number, which is taken back as "301"."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return " ".join(str(value).split())


def _csv_cells(path: Path) -> list[tuple[int, list[str]]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise BadInput(f"{path}: not UTF-8 text: save it as \"CSV UTF-8\" or as an .xlsx workbook") from None
    except OSError as exc:
        raise BadInput(f"{path}: cannot read: {exc.strerror or exc}") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        return [(reader.line_num, [_text(cell) for cell in cells]) for cells in reader]
    except csv.Error as exc:
        raise BadInput(f"{path}: line {reader.line_num}: {exc}") from None


def _xlsx_cells(path: Path) -> list[tuple[int, list[str]]]:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, OSError, KeyError, ValueError) as exc:
        raise BadInput(f"{path}: not an xlsx workbook: {exc}") from None
    try:
        sheet = workbook.worksheets[0]
        return [(line, [_text(cell) for cell in cells])
                for line, cells in enumerate(sheet.iter_rows(values_only=True), start=1)]
    finally:
        workbook.close()


def write_template(path: Path) -> None:
    """The headers (Chinese / English) and one example row, as .xlsx or .csv (UTF-8 with a BOM, for Excel)."""
    headers, example = [c.header for c in COLUMNS], [c.example for c in COLUMNS]
    if path.suffix.lower() == ".csv":
        with path.open("w", encoding="utf-8-sig", newline="") as out:
            csv.writer(out).writerows([headers, example])
        return
    if path.suffix.lower() != ".xlsx":
        raise BadInput(f"{path}: the template is written as .xlsx or .csv")
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "units"
    sheet.append(headers)
    sheet.append(example)
    for index, column in enumerate(COLUMNS):
        sheet.column_dimensions[chr(ord("A") + index)].width = max(14, len(column.example) + 4)
    workbook.save(path)
