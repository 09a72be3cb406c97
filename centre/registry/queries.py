"""The registry's reads and writes: units and counters saved (what changed, in words), listed, looked up.

A change of a unit's or counter's name or zone reaches its devices: their rows (what the config route
sends) follow, so the terminals pick it up with their next config pull (the ETag changes with it).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, RowMapping, select, update

from centre import rollups
from centre.db.tables import counters, devices, districts, sectors, units
from centre.errors import BadInput, NotFound
from centre.registry import sectors as sector_list
from centre.registry.model import CounterSpec, UnitSpec

_TO_DEVICE = {"name": "unit_name", "name_en": "unit_name_en", "timezone": "unit_timezone"}
_COUNTER_TO_DEVICE = {"name": "counter_name", "name_en": "counter_name_en"}


@dataclass(frozen=True)
class Place:
    """A registered unit and one of its counters: what an enrollment code and a placement name."""

    unit: RowMapping
    counter: RowMapping


def unknown_sector(spellings: dict[str, str], given: str) -> str:
    return (f"unknown sector {given!r} (a code, Chinese or English name of `evaluator centre unit sectors`; "
            f"{len(set(spellings.values()))} known)")


def save(conn: Connection, unit_specs: list[UnitSpec], counter_specs: list[CounterSpec]) -> list[str]:
    """Insert or update these units and counters (none is ever deleted); what changed, one line each."""
    spellings = sector_list.resolver(conn)
    changes: list[str] = []
    moved_zone = False
    for spec in unit_specs:
        code = spellings.get(spec.sector.strip().casefold())
        if code is None:
            raise BadInput(f"unit {spec.id}: {unknown_sector(spellings, spec.sector)}")
        values = {**spec.stored(), "district_id": _district(conn, spec, changes), "sector_code": code}
        changes.extend(_upsert(conn, units, {"id": spec.id}, values, f"unit {spec.id}", _TO_DEVICE,
                               [devices.c.unit_id == spec.id]))
        moved_zone = moved_zone or any(line.startswith(f"updated unit {spec.id}:") and " timezone " in line
                                       for line in changes)
    for counter in counter_specs:
        changes.extend(_upsert(conn, counters, {"unit_id": counter.unit_id, "id": counter.id}, counter.stored(),
                               f"counter {counter.unit_id}/{counter.id}", _COUNTER_TO_DEVICE,
                               [devices.c.unit_id == counter.unit_id, devices.c.counter_id == counter.id]))
    if moved_zone:
        # The rollups count per unit-local day: another zone moves some ratings to another day. Recounted
        # here, in the registry's transaction, so no figure is ever read with the old days and the new zone.
        recounted = rollups.rebuild_in(conn)
        changes.append(f"recounted the rollups for the new time zone ({recounted.differed} count(s) changed)")
    return changes


def _district(conn: Connection, spec: UnitSpec, changes: list[str]) -> int:
    """The district's id by its name, made when new; an English name given is kept (and updated)."""
    row = conn.execute(select(districts).where(districts.c.name == spec.district.strip())).mappings().first()
    if row is None:
        changes.append(f"added district {spec.district.strip()}")
        made = conn.execute(districts.insert().values(name=spec.district.strip(), name_en=spec.district_en))
        return int(made.inserted_primary_key[0])  # type: ignore[index]
    if spec.district_en and spec.district_en != row["name_en"]:
        conn.execute(update(districts).where(districts.c.id == row["id"]).values(name_en=spec.district_en))
        changes.append(f"updated district {row['name']}: name_en {row['name_en']!r} → {spec.district_en!r}")
    return int(row["id"])


def _upsert(conn: Connection, table: Any, key: dict[str, str], values: dict[str, Any], label: str,
            to_device: dict[str, str], device_where: list[Any]) -> list[str]:
    row = conn.execute(select(table).where(*(table.c[k] == v for k, v in key.items()))).mappings().first()
    if row is None:
        conn.execute(table.insert().values(**values))
        return [f"added {label} ({values['name']})"]
    changed = {name: value for name, value in values.items() if row[name] != value}
    if not changed:
        return []
    conn.execute(update(table).where(*(table.c[k] == v for k, v in key.items())).values(**changed))
    followed = {to_device[name]: value for name, value in changed.items() if name in to_device}
    reached = 0
    if followed:
        reached = conn.execute(update(devices).where(*device_where, devices.c.revoked_at.is_(None))
                               .values(**followed)).rowcount
    said = ", ".join(f"{name} {row[name]!r} → {value!r}" for name, value in changed.items())
    return [f"updated {label}: {said}" + (f" (reaches {reached} device(s) at their next config pull)"
                                          if reached else "")]


def place(conn: Connection, unit_id: str, counter_id: str) -> Place:
    """The registered unit and counter; NotFound naming which one the registry lacks."""
    unit = conn.execute(select(units).where(units.c.id == unit_id)).mappings().first()
    if unit is None:
        raise NotFound(f"unknown unit {unit_id!r}: register it first (`evaluator centre unit add` or "
                       "`evaluator centre unit import`)")
    counter = conn.execute(select(counters).where(counters.c.unit_id == unit_id, counters.c.id == counter_id)
                           ).mappings().first()
    if counter is None:
        held = conn.execute(select(counters.c.id).where(counters.c.unit_id == unit_id).order_by(counters.c.id))
        listed = ", ".join(held.scalars()) or "none yet"
        raise NotFound(f"unknown counter {counter_id!r} of unit {unit_id!r} (its counters: {listed}): add it "
                       "with `evaluator centre counter add` or `evaluator centre unit import`")
    return Place(unit, counter)


def listing(conn: Connection, district: str | None = None, sector: str | None = None) -> list[dict[str, Any]]:
    """Units (with district, sector and counters), by id; `district` a name or id, `sector` any spelling."""
    query = (select(units, districts.c.name.label("district"), districts.c.name_en.label("district_en"),
                    sectors.c.name.label("sector"), sectors.c.name_en.label("sector_en"))
             .outerjoin(districts, districts.c.id == units.c.district_id)
             .outerjoin(sectors, sectors.c.code == units.c.sector_code).order_by(units.c.id))
    if district is not None:
        query = query.where((districts.c.name == district) | (districts.c.name_en == district)
                            | (districts.c.id == (int(district) if district.isdigit() else -1)))
    if sector is not None:
        spellings = sector_list.resolver(conn)
        query = query.where(units.c.sector_code == spellings.get(sector.strip().casefold(), sector))
    found = [dict(row) for row in conn.execute(query).mappings()]
    by_unit: dict[str, list[dict[str, Any]]] = {row["id"]: [] for row in found}
    for counter in conn.execute(select(counters).where(counters.c.unit_id.in_(list(by_unit)))
                                .order_by(counters.c.unit_id, counters.c.id)).mappings():
        by_unit[counter["unit_id"]].append({"id": counter["id"], "name": counter["name"],
                                            "name_en": counter["name_en"]})
    return [{**row, "counters": by_unit[row["id"]]} for row in found]
