"""The titles of the model-unit round (示范点称号): awarded at each round's confirmation, kept per year, and
withdrawn beside the award (never deleted) when the holder falls short the next year. Both are published. The
awarding and withdrawing are centre/modelround.py's; this module reads the record.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from centre.db.tables import model_titles, units


@dataclass(frozen=True)
class Title:
    year: int
    unit_id: str
    name: str | None
    name_en: str | None
    awarded_by: str
    awarded_at: str
    withdrawn_in: int | None
    withdrawn_by: str | None
    withdrawn_at: str | None
    withdrawal_reason: str | None

    @classmethod
    def of(cls, row: Any) -> Title:
        return cls(row.year, row.unit_id, row.name, row.name_en, row.awarded_by, row.awarded_at, row.withdrawn_in,
                   row.withdrawn_by, row.withdrawn_at, row.withdrawal_reason)


def _titles_query() -> Any:
    return (select(model_titles, units.c.name, units.c.name_en)
            .select_from(model_titles.outerjoin(units, units.c.id == model_titles.c.unit_id)))


def titles_of(conn: Connection, year: int) -> dict[str, Title]:
    return {row.unit_id: Title.of(row) for row in conn.execute(_titles_query().where(model_titles.c.year == year))}


def titles_by_year(conn: Connection, up_to: int) -> list[tuple[int, list[Title]]]:
    """The titles awarded in each round up to `up_to`, newest round first, withdrawn ones still listed."""
    found: dict[int, list[Title]] = {}
    for row in conn.execute(_titles_query().where(model_titles.c.year <= up_to)
                            .order_by(model_titles.c.year.desc(), model_titles.c.unit_id)):
        found.setdefault(row.year, []).append(Title.of(row))
    return list(found.items())


def withdrawn(conn: Connection, up_to: int) -> list[Title]:
    """The titles withdrawn in the rounds up to `up_to`, newest first: published as the awards are."""
    return [Title.of(row) for row in conn.execute(
        _titles_query().where(model_titles.c.withdrawn_in.is_not(None), model_titles.c.withdrawn_in <= up_to)
        .order_by(model_titles.c.withdrawn_in.desc(), model_titles.c.withdrawn_at.desc()))]
