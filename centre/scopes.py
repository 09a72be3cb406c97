"""An API token's scope: the part of the registry it may read, and the units that part holds now.

A scope is the city, districts, sectors (city-wide), sectors within districts (a district's sector bureau,
区教育局), or a list of units. It is stored as a kind and ids (`api_tokens.scope_kind`, `scope_ids`):
district ids, sector codes, "district/sector" pairs, unit ids. A district or sector scope never stores
its units: which units it reaches is asked of the registry at each request, so a unit moved to another
district or sector (`unit import` with its new place) is read by its new place's tokens from then on and
no longer by its old place's. A unit carried over from before the registry, without a district or sector,
is reached only by city and unit scopes.

A read names what it wants (units, or districts and sectors; nothing: everything its token may read);
`within` checks that against the token's scope before anything is looked up, so a token learns nothing
of what lies outside its scope, not even whether it exists.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from typing import TypeVar

from sqlalchemy import Connection, select

from centre.db.rows import nul_field
from centre.db.tables import districts as district_table
from centre.db.tables import units as unit_table
from centre.errors import BadInput, Forbidden, NotFound
from centre.registry import sectors as sector_list

PAIR = "/"          # a stored district × sector pair, "3/education" (a sector code has no "/")
T = TypeVar("T")
K = TypeVar("K", int, str)   # a district's id, a sector's code


class ScopeKind(str, Enum):
    CITY = "city"                         # everything
    DISTRICT = "district"                 # the units of these districts
    SECTOR = "sector"                     # the units of these sectors, in every district
    DISTRICT_SECTOR = "district_sector"   # the units of these sectors within these districts
    UNIT = "unit"                         # these units


@dataclass(frozen=True)
class Scope:
    """Districts and sectors narrow each other (both given: those sectors within those districts); units
    stand alone. Nothing given: the city."""

    districts: tuple[int, ...] = ()
    sectors: tuple[str, ...] = ()
    units: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.units and (self.districts or self.sectors):
            raise ValueError("a scope names units, or districts and sectors, not both")

    @property
    def kind(self) -> ScopeKind:
        if self.units:
            return ScopeKind.UNIT
        if self.districts and self.sectors:
            return ScopeKind.DISTRICT_SECTOR
        if self.districts:
            return ScopeKind.DISTRICT
        return ScopeKind.SECTOR if self.sectors else ScopeKind.CITY

    def stored_ids(self) -> list[str]:
        """The ids `api_tokens.scope_ids` keeps for this scope's kind."""
        if self.kind is ScopeKind.DISTRICT_SECTOR:
            return [f"{district}{PAIR}{sector}" for district in self.districts for sector in self.sectors]
        return [str(district) for district in self.districts] or list(self.sectors) or list(self.units)

    @classmethod
    def stored(cls, kind: str, ids: Iterable[str]) -> Scope:
        ids = [str(item) for item in ids]
        found = ScopeKind(kind)
        if found is ScopeKind.DISTRICT_SECTOR:
            pairs = [item.split(PAIR, 1) for item in ids]
            return cls(districts=_unique(int(district) for district, _ in pairs),
                       sectors=_unique(sector for _, sector in pairs))
        if found is ScopeKind.DISTRICT:
            return cls(districts=_unique(int(item) for item in ids))
        if found is ScopeKind.SECTOR:
            return cls(sectors=_unique(ids))
        return cls(units=_unique(ids)) if found is ScopeKind.UNIT else CITY

    def reaches(self, unit_id: str, district_id: int | None, sector_code: str | None) -> bool:
        """Whether a unit standing in this district and sector is inside the scope."""
        if self.units:
            return unit_id in self.units
        return ((not self.districts or district_id in self.districts)
                and (not self.sectors or sector_code in self.sectors))


CITY = Scope()


def _unique(items: Iterable[T]) -> tuple[T, ...]:
    return tuple(dict.fromkeys(items))


# -- what a scope reaches now ---------------------------------------------------------


def unit_ids(conn: Connection, scope: Scope) -> tuple[str, ...] | None:
    """The units inside the scope now, by id (None: the city, every unit)."""
    if scope.kind is ScopeKind.CITY:
        return None
    if scope.units:
        return scope.units
    query = select(unit_table.c.id).order_by(unit_table.c.id)
    if scope.districts:
        query = query.where(unit_table.c.district_id.in_(scope.districts))
    if scope.sectors:
        query = query.where(unit_table.c.sector_code.in_(scope.sectors))
    return tuple(conn.execute(query).scalars())


def covers(conn: Connection, scope: Scope, unit_id: str) -> bool:
    """Whether the unit is inside the scope now; a unit the registry lacks is inside no district or sector."""
    if scope.kind is ScopeKind.CITY or scope.units:
        return scope.reaches(unit_id, None, None)
    if nul_field({"unit": unit_id}):    # no stored id holds one, and PostgreSQL refuses it even in a WHERE
        return False
    place = conn.execute(select(unit_table.c.district_id, unit_table.c.sector_code)
                         .where(unit_table.c.id == unit_id)).first()
    return place is not None and scope.reaches(unit_id, place.district_id, place.sector_code)


def require(conn: Connection, scope: Scope, unit_id: str) -> None:
    """403 when the unit is outside the scope, the same answer whether or not the unit exists."""
    if not covers(conn, scope, unit_id):
        raise Forbidden(f"this API token may read {describe(conn, scope)}, not unit {unit_id!r}")


def describe(conn: Connection, scope: Scope) -> str:
    """The scope in words, by the registry's names: "district: 东城区 · sector: education (教育)"."""
    if scope.kind is ScopeKind.CITY:
        return "city"
    if scope.units:
        return "unit: " + ", ".join(scope.units)
    parts = []
    if scope.districts:
        names = dict(conn.execute(select(district_table.c.id, district_table.c.name)
                                  .where(district_table.c.id.in_(scope.districts))).all())
        parts.append("district: " + ", ".join(names.get(district, str(district)) for district in scope.districts))
    if scope.sectors:
        names = {sector.code: sector.name for sector in sector_list.all_sectors(conn)}
        parts.append("sector: " + ", ".join(f"{code} ({names[code]})" if code in names else code
                                            for code in scope.sectors))
    return " · ".join(parts)


# -- what an office or a read names ---------------------------------------------------


def resolve(conn: Connection, districts: list[str], sectors: list[str], units: list[str]) -> Scope:
    """The scope `token add` names (districts by name or id, sectors by code or name, units by id), or
    BadInput naming every one the registry lacks. Nothing named: the city."""
    if units and (districts or sectors):
        raise BadInput("give --unit alone, or --district and/or --sector (a district's sectors): the units of "
                       "a unit scope are named, those of a district or sector are the registry's")
    sector_list.ensure_shipped(conn)
    found_districts = _look_up(districts, _district_spellings(conn))
    found_sectors = _look_up(sectors, _sector_spellings(conn))
    known_units = set(conn.execute(select(unit_table.c.id).where(
        unit_table.c.id.in_([unit for unit in units if not nul_field({"unit": unit})]))).scalars()) if units else set()
    unknown = ([f"district {name!r}" for name, found in zip(districts, found_districts, strict=True) if found is None]
               + [f"sector {name!r}" for name, found in zip(sectors, found_sectors, strict=True) if found is None]
               + [f"unit {unit!r}" for unit in units if unit not in known_units])
    if unknown:
        raise BadInput(f"unknown {', '.join(unknown)}: not in the registry (`evaluator centre unit list` shows "
                       "its districts and units, `evaluator centre unit sectors` its sectors)")
    return Scope(districts=_unique(d for d in found_districts if d is not None),
                 sectors=_unique(s for s in found_sectors if s is not None), units=_unique(units))


def within(conn: Connection, scope: Scope, units: list[str], districts: list[str], sectors: list[str]) -> Scope:
    """What a read names, inside the token's scope: each unit must be inside it, and where the scope names
    districts (sectors) each district (sector) named must be one of them; otherwise a 403, the same for a
    name that exists and one that does not. Then an unknown district or sector is a 404. Districts and
    sectors named narrow the token's own; nothing named is the token's whole scope."""
    if units and (districts or sectors):
        raise BadInput("name units, or districts and/or sectors, not both")
    for unit in units:
        require(conn, scope, unit)
    if units:
        return Scope(units=_unique(units))
    if not (districts or sectors):
        return scope
    if scope.units:
        named = f"district {districts[0]!r}" if districts else f"sector {sectors[0]!r}"
        raise Forbidden(f"this API token may read {describe(conn, scope)}, not {named}: name its units")
    chosen_districts = _named(conn, scope, "district", districts, _district_spellings(conn), scope.districts)
    chosen_sectors = _named(conn, scope, "sector", sectors, _sector_spellings(conn), scope.sectors)
    return Scope(districts=chosen_districts or scope.districts, sectors=chosen_sectors or scope.sectors)


def _named(conn: Connection, scope: Scope, what: str, given: list[str], spellings: dict[str, K],
           allowed: tuple[K, ...]) -> tuple[K, ...]:
    chosen = []
    for name, found in zip(given, _look_up(given, spellings), strict=True):
        if allowed and found not in allowed:
            raise Forbidden(f"this API token may read {describe(conn, scope)}, not {what} {name!r}")
        if found is None:
            raise NotFound(f"unknown {what} {name!r}")
        chosen.append(found)
    return _unique(chosen)


def _look_up(given: list[str], spellings: dict[str, K]) -> list[K | None]:
    return [spellings.get(name.strip().casefold()) for name in given]


def _district_spellings(conn: Connection) -> dict[str, int]:
    """A district by its name, its English name (any case) or its id."""
    spellings: dict[str, int] = {}
    rows = conn.execute(select(district_table.c.id, district_table.c.name, district_table.c.name_en)).all()
    for row in rows:
        for text in (row.name_en, row.name):
            if text:
                spellings[text.strip().casefold()] = row.id
    spellings.update({str(row.id): row.id for row in rows})
    return spellings


def _sector_spellings(conn: Connection) -> dict[str, str]:
    """A sector by its code, its name or its English name (any case); read only, unlike sectors.resolver,
    which first puts the shipped sectors in (a read route writes nothing)."""
    return {text.strip().casefold(): sector.code for sector in sector_list.all_sectors(conn)
            for text in (sector.name_en, sector.name, sector.code) if text}
