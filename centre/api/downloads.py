"""Every read route's answer as a table to download: `?format=csv` or `?format=xlsx` (openpyxl), beside JSON.

A report becomes rows: one for a summary or an indicator set, one per device or unit for a list. A
column is a JSON key, a nested object's keys are dotted (`by_level.5`, `good_rate_interval.low`) and a
list stays one cell holding its JSON (`gaps`, `counters`), so the table says what the JSON says, key for
key. CSV is UTF-8 with a byte-order mark (what Excel needs to show Chinese), `true`/`false` and empty
for null as in JSON; a text cell that a spreadsheet would run as a formula (= + - @ first) is written
with a leading apostrophe there (OWASP's CSV injection advice), since a unit's name or a reason code is
someone else's text. xlsx keeps numbers as numbers and writes every text as text, never a formula.
"""
from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from enum import Enum
from typing import Annotated, Any

from fastapi import Query, Response
from pydantic import BaseModel

CSV_TYPE = "text/csv"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMULA_FIRST = ("=", "+", "-", "@", "\t", "\r")
XLSX_CELL_LIMIT = 32_767           # the most characters an Excel cell holds
SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


class Format(str, Enum):
    JSON = "json"
    CSV = "csv"
    XLSX = "xlsx"


FormatQuery = Annotated[Format, Query(alias="format", description="json (the default); csv or xlsx: the same "
                                                                   "answer as a table to download")]

# What the OpenAPI document says a read route's 200 may also be (FastAPI adds the JSON of its model).
RESPONSES: dict[int | str, dict[str, Any]] = {200: {"content": {
    CSV_TYPE: {"schema": {"type": "string"}},
    XLSX_TYPE: {"schema": {"type": "string", "format": "binary"}}}}}


def answer(result: BaseModel, fmt: Format, name: str, rows: Sequence[BaseModel]) -> Any:
    """`result` itself for JSON (the route's model), else `rows` as a CSV or xlsx attachment `name`.ext."""
    if fmt is Format.JSON:
        return result
    columns, cells = table([row.model_dump(mode="json", by_alias=True) for row in rows])
    filename = f"{SAFE_NAME.sub('_', name)}.{fmt.value}"
    body, media = ((csv_bytes(columns, cells), f"{CSV_TYPE}; charset=utf-8") if fmt is Format.CSV
                   else (xlsx_bytes(name[:31], columns, cells), XLSX_TYPE))
    return Response(body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def flat(record: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A JSON object as one row: nested objects' keys dotted, lists as their JSON text."""
    found: dict[str, Any] = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            found.update(flat(value, name + "."))
        elif isinstance(value, list | dict):
            found[name] = json.dumps(value, ensure_ascii=False)
        else:
            found[name] = value
    return found


def table(records: list[dict[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    """The columns (every key met, in the order first met) and a row of cells per record."""
    rows = [flat(record) for record in records]
    columns = list(dict.fromkeys(key for row in rows for key in row))
    return columns, [[row.get(column) for column in columns] for row in rows]


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.startswith(FORMULA_FIRST):
        return "'" + value
    return str(value)


def csv_bytes(columns: list[str], rows: list[list[Any]]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(columns)
    writer.writerows([_csv_cell(value) for value in row] for row in rows)
    return out.getvalue().encode("utf-8-sig")


def xlsx_bytes(title: str, columns: list[str], rows: list[list[Any]]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(SAFE_NAME.sub("_", title) or "report")

    def cell(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        text = ILLEGAL_CHARACTERS_RE.sub("", value)   # control characters an xlsx cannot hold
        written = WriteOnlyCell(sheet, value=text if len(text) <= XLSX_CELL_LIMIT
                                else text[:XLSX_CELL_LIMIT - 1] + "…")
        written.data_type = "s"            # text, even when it starts with "=": never a formula
        return written

    sheet.append(columns)
    for row in rows:
        sheet.append([cell(value) for value in row])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
