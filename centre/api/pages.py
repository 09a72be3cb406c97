"""Pages of the read routes' lists: `?limit=N&offset=M` over a list in a stable order (by id).

A JSON answer holds at most DEFAULT_LIMIT items unless told (MAX_LIMIT at most) and says where the next
page starts (`next_offset`, null on the last). A download (CSV, xlsx) is the whole list unless `limit` is
given: a table is read whole, and the same `limit` and `offset` give the same rows in every format.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel, ConfigDict

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
T = TypeVar("T")


class Paging(BaseModel):
    """Where a page stands in its whole list."""

    model_config = ConfigDict(extra="forbid")

    total: int                   # items in the whole list
    offset: int                  # the first item of this page, counted from 0
    limit: int | None            # the most items a page holds; null: the whole list
    next_offset: int | None      # where the next page starts; null: this page is the last


@dataclass(frozen=True)
class PageQuery:
    limit: int | None
    offset: int

    def cut(self, items: Sequence[T], whole: bool) -> tuple[list[T], Paging]:
        """This page of `items` and where it stands; `whole`: no limit given means every item (a download)."""
        limit = self.limit if self.limit is not None or whole else DEFAULT_LIMIT
        end = len(items) if limit is None else min(len(items), self.offset + limit)
        page = list(items[self.offset:end])
        return page, Paging(total=len(items), offset=self.offset, limit=limit,
                            next_offset=end if end < len(items) else None)


def page_query(limit: Annotated[int | None, Query(ge=1, le=MAX_LIMIT, description=(
                   f"items per page (default {DEFAULT_LIMIT}; a CSV or xlsx download: all)"))] = None,
               offset: Annotated[int, Query(ge=0, le=2**31, description="the first item, from 0")] = 0) -> PageQuery:
    return PageQuery(limit, offset)


Page = Annotated[PageQuery, Depends(page_query)]
