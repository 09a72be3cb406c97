"""Every console table as an xlsx file: the page's own URL with `?format=xlsx` gives its table, the same rows
in the same order, with the scope and the period in the file name. Each export is in the audit log; one
larger than ConsoleSettings.export_max_rows is refused with the reason (ask for a shorter period or a
narrower scope), before anything is written.

The cells are written by centre.api.downloads.xlsx_bytes, as the read API's downloads are: numbers as
numbers, every text as text (never a formula: a unit's name is someone else's text).
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import Response

from centre.api.downloads import XLSX_TYPE, xlsx_bytes
from centre.console import audit
from centre.console.roles import Viewer
from centre.console.web import engine_of, settings_of
from centre.errors import BadInput
from centre.indicators import Period

FORMAT_PARAM = "format"
XLSX = "xlsx"
UNSAFE = re.compile(r'[\\/:*?"<>|\s]+')     # what a file name on Windows or in a header may not hold


def wanted(request: Request) -> bool:
    """Whether this request asks for the page's table as xlsx (any other format is an error, not HTML)."""
    fmt = request.query_params.get(FORMAT_PARAM)
    if fmt not in (None, "", XLSX):
        raise BadInput(f"format: only {XLSX} is offered for a console table, got {fmt!r}")
    return fmt == XLSX


def period_text(period: Period) -> str:
    return period.start.isoformat() if period.start == period.end else f"{period.start}_{period.end}"


def file_name(*parts: str) -> str:
    """`rankings_城东区_2026-07-01_2026-09-30.xlsx`: the table, its scope and its period."""
    return "_".join(UNSAFE.sub("-", part).strip("-") for part in parts if part) + f".{XLSX}"


def xlsx(request: Request, viewer: Viewer, name: str, columns: Sequence[str], rows: Sequence[Sequence[Any]],
         sheet: str = "table") -> Response:
    """The table as an attachment named `name` (file_name's), audited as an export by the viewer."""
    limit = settings_of(request).export_max_rows
    if len(rows) > limit:
        raise BadInput(f"this table has {len(rows):,} rows, more than an export holds ({limit:,}): "
                       "choose a shorter period or a narrower scope")
    body = xlsx_bytes(sheet, list(columns), [list(row) for row in rows])
    with engine_of(request).begin() as conn:
        audit.record(conn, audit.Action.EXPORT, name, actor=viewer.name, role=viewer.role.value,
                     detail={"rows": len(rows), "path": request.url.path, "query": str(request.query_params)},
                     address=request.client.host if request.client else None)
    ascii_name = name.encode("ascii", "replace").decode().replace("?", "_")
    return Response(body, media_type=XLSX_TYPE, headers={
        "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"})
