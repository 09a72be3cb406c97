"""The Rankings page's figures: units, districts or sectors over a period, ranked by the lower bound of their
satisfaction's Wilson 95 % interval (docs/indicators.md), those with too few ratings listed after and never
ranked, and each row's movement since the previous period of the same kind.

The lower bound, not the rate, decides the order: a unit with 20 ratings and 95 % does not outrank one with
2,000 and 92 %, whose rate is known. The minimum number of ratings is set per round (a year, the policy's
cycle) and scaled to the period's length, so a month asks a twelfth of it; an office may name its own.

The counts come from one GROUP BY over the rollups (`_counts`); districts and sectors are summed from their
units as the registry places them now, as a district's token reads (centre/scopes.py).
"""
from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from enum import Enum
from typing import Any

from sqlalchemy import Connection, select

from centre import rollup_reads
from centre.db.tables import districts, sectors, units
from centre.errors import BadInput
from centre.indicators import Period, PeriodKind, period_of, wilson

TARGET = 0.80
NO_GROUP = ""                      # the key of the units without a district (sector), or not registered


class RankBy(str, Enum):
    UNIT = "unit"
    DISTRICT = "district"
    SECTOR = "sector"


def rank_by(raw: str | None) -> RankBy:
    try:
        return RankBy(raw or RankBy.UNIT.value)
    except ValueError:
        raise BadInput(f"by must be one of {', '.join(b.value for b in RankBy)}, got {raw!r}") from None


class Movement(str, Enum):
    """A row's rank against the previous period's."""

    UP = "up"
    DOWN = "down"
    SAME = "same"
    NEW = "new"               # ranked now, not then (too few ratings, or none)
    UNRANKED = "unranked"     # too few ratings now: no rank to compare


@dataclass(frozen=True)
class Place:
    """A unit's names and where the registry places it now."""

    name: str
    name_en: str | None
    district_id: str            # NO_GROUP: none
    sector_code: str


@dataclass(frozen=True)
class Row:
    """One unit, district or sector in a ranking."""

    key: str                    # the unit's id, the district's id, the sector's code (NO_GROUP: unassigned)
    name: str
    name_en: str | None
    district: tuple[str, str | None] | None     # a unit's district's names (None: none)
    sector: tuple[str, str | None] | None
    units: int                  # the units a district or sector holds (a unit: 1)
    rated: int
    good: int
    too_few: bool
    outside: bool = False       # the units placed in no district (sector): listed, never ranked among them
    rank: int | None = None     # 1 the best; equal lower bounds share one; None: too few
    previous_rank: int | None = None
    previous_rate: float | None = None

    @property
    def rate(self) -> float | None:
        return self.good / self.rated if self.rated else None

    @property
    def interval(self) -> tuple[float, float] | None:
        return wilson(self.good, self.rated)

    @property
    def low(self) -> float | None:
        found = self.interval
        return None if found is None else found[0]

    @property
    def high(self) -> float | None:
        found = self.interval
        return None if found is None else found[1]

    @property
    def below(self) -> bool:
        """Under the 80 % line (a unit with too few ratings too: its rate is shown, its rank is not)."""
        rate = self.rate
        return rate is not None and rate < TARGET

    @property
    def movement(self) -> Movement:
        if self.rank is None:
            return Movement.UNRANKED
        if self.previous_rank is None:
            return Movement.NEW
        if self.previous_rank == self.rank:
            return Movement.SAME
        return Movement.UP if self.previous_rank > self.rank else Movement.DOWN

    @property
    def steps(self) -> int:
        """Places gained (lost) since the previous period."""
        return 0 if self.rank is None or self.previous_rank is None else abs(self.previous_rank - self.rank)

    @property
    def rate_change(self) -> float | None:
        rate = self.rate
        return None if rate is None or self.previous_rate is None else rate - self.previous_rate

    def label(self, lang: str) -> str:
        return (self.name_en or self.name) if lang == "en" else self.name


@dataclass(frozen=True)
class Ranking:
    by: RankBy
    period: Period
    previous: Period
    min_ratings: int            # this period's
    previous_min: int
    rows: list[Row]             # the ranked by rank (then key), then the too-few by key

    @property
    def ranked(self) -> list[Row]:
        return [row for row in self.rows if row.rank is not None]

    @property
    def too_few(self) -> list[Row]:
        return [row for row in self.rows if row.rank is None]


def period_days(period: Period) -> int:
    return (period.end - period.start).days + 1


def scaled_min(per_round: int, period: Period) -> int:
    """The round's (a year's) minimum, in proportion to the period's days, rounded up, at least one."""
    year_days = 366 if calendar.isleap(period.start.year) else 365
    return max(1, -(-per_round * period_days(period) // year_days))


def previous_period(period: Period) -> Period:
    """The period of the same kind before: the day, week, month, quarter or year before; for a custom range,
    the range of the same length that ends the day before it starts."""
    before = period.start - timedelta(days=1)
    if period.kind is PeriodKind.CUSTOM:
        return Period(PeriodKind.CUSTOM, period.start - timedelta(days=period_days(period)), before)
    return period_of(period.kind, before)


def _counts(conn: Connection, period: Period, unit_ids: tuple[str, ...] | None) -> dict[str, tuple[int, int]]:
    """unit id → (rated, good) over the period's local days (None: every unit that has ratings): one sum of
    the coarse rollups (whole months from rollup_months, the edge days from rollup_days)."""
    found = rollup_reads.rated_good(conn, period.start, period.end, rollup_reads.By.UNIT, unit_ids=unit_ids)
    return {str(unit): counts for unit, counts in found.items()}


def _places(conn: Connection) -> dict[str, Place]:
    return {row.id: Place(row.name, row.name_en, "" if row.district_id is None else str(row.district_id),
                          row.sector_code or NO_GROUP)
            for row in conn.execute(select(units.c.id, units.c.name, units.c.name_en, units.c.district_id,
                                           units.c.sector_code))}


def place_name(conn: Connection, by: RankBy, key: str) -> tuple[str, str | None] | None:
    """A unit's or a district's names (a viewer's reach, in a page's title), None for one the registry lacks."""
    if by is RankBy.UNIT:
        found = conn.execute(select(units.c.name, units.c.name_en).where(units.c.id == key)).first()
    elif key.isdigit():
        found = conn.execute(select(districts.c.name, districts.c.name_en).where(districts.c.id == int(key))).first()
    else:
        found = conn.execute(select(sectors.c.name, sectors.c.name_en).where(sectors.c.code == key)).first()
    return None if found is None else (found[0], found[1])


def _group_names(conn: Connection) -> dict[RankBy, dict[str, tuple[str, str | None]]]:
    return {RankBy.DISTRICT: {str(row.id): (row.name, row.name_en)
                              for row in conn.execute(select(districts.c.id, districts.c.name, districts.c.name_en))},
            RankBy.SECTOR: {row.code: (row.name, row.name_en)
                            for row in conn.execute(select(sectors.c.code, sectors.c.name, sectors.c.name_en))}}


def _rows(by: RankBy, counts: dict[str, tuple[int, int]], listed: Iterable[str], places: dict[str, Place],
          names: dict[RankBy, dict[str, tuple[str, str | None]]], min_ratings: int,
          unassigned: tuple[str, str | None]) -> dict[str, Row]:
    """Unranked rows: one per unit listed, or one per district (sector) summing its listed units (each Row made
    once: a city's thousand units, two periods, at each request)."""
    found: dict[str, Row] = {}
    groups: dict[str, list[Any]] = {}       # key → [names, units, rated, good]
    for unit in listed:
        rated, good = counts.get(unit, (0, 0))
        place = places.get(unit, Place(unit, None, NO_GROUP, NO_GROUP))
        district = names[RankBy.DISTRICT].get(place.district_id)
        sector = names[RankBy.SECTOR].get(place.sector_code)
        if by is RankBy.UNIT:
            found[unit] = Row(unit, place.name, place.name_en, district, sector, 1, rated, good,
                              rated < min_ratings)
            continue
        key = place.district_id if by is RankBy.DISTRICT else place.sector_code
        held = groups.setdefault(key, [(district if by is RankBy.DISTRICT else sector) or (key, None), 0, 0, 0])
        held[1:] = held[1] + 1, held[2] + rated, held[3] + good
    for key, (named, units_in, rated, good) in groups.items():
        name, name_en = named if key else unassigned
        found[key] = Row(key, name, name_en, None, None, units_in, rated, good, rated < min_ratings, outside=not key)
    return found


def _ranks(rows: dict[str, Row]) -> dict[str, int]:
    """Rank by the lower bound, highest first; equal bounds share a rank (1, 2, 2, 4)."""
    lows: dict[str, float] = {}
    for key, row in rows.items():
        low = row.low
        if not (row.too_few or row.outside) and low is not None:
            lows[key] = low
    order = sorted(lows, key=lambda key: (-lows[key], key))
    ranks: dict[str, int] = {}
    for position, key in enumerate(order, start=1):
        tied = position > 1 and lows[order[position - 2]] == lows[key]
        ranks[key] = ranks[order[position - 2]] if tied else position
    return ranks


def _ranked(row: Row, rank: int | None, previous_rank: int | None, previous_rate: float | None) -> Row:
    """dataclasses.replace, at a tenth of its cost (every row of a city's ranking, at each request)."""
    return Row(row.key, row.name, row.name_en, row.district, row.sector, row.units, row.rated, row.good,
               row.too_few, row.outside, rank, previous_rank, previous_rate)


def rank(conn: Connection, by: RankBy, period: Period, unit_ids: tuple[str, ...] | None, per_round: int,
         chosen_min: int | None = None, unassigned: tuple[str, str | None] = ("未归属", "Unassigned")) -> Ranking:
    """The ranking of the units (None: every registered unit and any other with ratings), or of the districts
    or sectors they are in, over `period`, with each row's rank and rate in the previous period.

    `per_round` is the round's minimum, scaled to each period; `chosen_min` replaces it for both."""
    previous = previous_period(period)
    mins = (chosen_min, chosen_min) if chosen_min is not None else \
        (scaled_min(per_round, period), scaled_min(per_round, previous))
    now, then = _counts(conn, period, unit_ids), _counts(conn, previous, unit_ids)
    places, names = _places(conn), _group_names(conn)
    listed = list(dict.fromkeys(unit_ids)) if unit_ids is not None else sorted(places.keys() | now.keys())
    current = _rows(by, now, listed, places, names, mins[0], unassigned)
    earlier = _rows(by, then, listed, places, names, mins[1], unassigned)
    ranks, earlier_ranks = _ranks(current), _ranks(earlier)
    order = sorted(ranks, key=lambda key: (ranks[key], key)) + sorted(
        (key for key in current if key not in ranks), key=lambda key: (current[key].outside, key))
    rows = [_ranked(current[key], ranks.get(key), earlier_ranks.get(key),
                    earlier[key].rate if key in earlier else None) for key in order]
    return Ranking(by, period, previous, mins[0], mins[1], rows)
