"""A counted rating (or unrated request) → the province's record (docs/province-report.md, Fields): the public
face of making records.

- `Record`, `RecordState`, `Source`, `MadeCount` (model.py): what province_records holds;
- `make_records(engine, mapping, now, settled_before)` (making.py): every counted rating (and unrated request,
  where the mapping reports them) received before `settled_before` and without a record yet becomes one,
  pending, invalid (with the rule) or skipped (with the rule), idempotently;
- `preview(conn, mapping, since, until)` / `iter_preview` (preview.py): the same records for what was counted
  in [since, until), made afresh and written nowhere: the dry run of `province check`.

How one record is made is build.py's (the fields) and rules.py's (the checks); a case's numbering, cases.py's.
"""
from __future__ import annotations

from centre.province.making import make_records
from centre.province.model import MadeCount, Record, RecordState, Source
from centre.province.preview import iter_preview, preview

__all__ = ["MadeCount", "Record", "RecordState", "Source", "iter_preview", "make_records", "preview"]
