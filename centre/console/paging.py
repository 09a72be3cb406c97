"""A long table's pages: which rows ?page= shows, and what the pager (templates/partials/pager.html) says. A
city's thousands of devices or units are listed a page at a time (the export holds them all)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from fastapi import Request

from centre.errors import BadInput

T = TypeVar("T")
PAGE_ROWS = 200


@dataclass(frozen=True)
class Paging:
    page: int          # from 1
    pages: int
    first: int         # the rows shown, from 1 (0: none)
    last: int
    total: int

    @property
    def start(self) -> int:
        """The index of the first row shown."""
        return max(self.first - 1, 0)


def paged(request: Request, items: Sequence[T], rows: int = PAGE_ROWS) -> tuple[Sequence[T], Paging]:
    """The page of `items` that ?page= names (the last one past the end: a list may have shrunk)."""
    paging = page_of(request, len(items), rows)
    return items[paging.start:paging.last], paging


def page_of(request: Request, total: int, rows: int = PAGE_ROWS) -> Paging:
    """Which of `total` rows ?page= shows, for a list the database pages itself (LIMIT rows OFFSET start)."""
    raw = request.query_params.get("page") or "1"
    if not raw.isdigit() or int(raw) < 1:
        raise BadInput(f"page: a page number from 1, got {raw!r}")
    pages = max(1, -(-total // rows))
    page = min(int(raw), pages)
    start = (page - 1) * rows
    shown = max(0, min(rows, total - start))
    return Paging(page, pages, start + 1 if shown else 0, start + shown, total)
