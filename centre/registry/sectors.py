"""The sector list: configuration, not code. The policy's 21 ship in sectors.yaml; an office adds its own
(`evaluator centre unit sectors --add FILE.yaml`, the same shape). Both end up in the `sectors` table, where
the shipped ones are put at first use (any registry command, enrollment), never overwriting the office's."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Connection, select, update

from centre.db.tables import sectors
from centre.errors import BadInput
from centre.registry.model import id_problems

SHIPPED = Path(__file__).with_name("sectors.yaml")


@dataclass(frozen=True)
class Sector:
    code: str
    name: str
    name_en: str | None

    def as_json(self) -> dict[str, Any]:
        return {"code": self.code, "name": self.name, "name_en": self.name_en}


def read_file(path: Path) -> list[Sector]:
    """A YAML list of {code, name, name_en}; raises BadInput naming the file and the entry."""
    try:
        entries = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise BadInput(f"{path}: cannot read: {exc}") from None
    if not isinstance(entries, list):
        raise BadInput(f"{path}: must be a list of {{code, name, name_en}}")
    found: list[Sector] = []
    for index, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"].strip():
            raise BadInput(f"{path}: entry {index}: needs a code and a name")
        code, english = str(entry.get("code", "")), entry.get("name_en")
        problems = id_problems("sector code", code)
        if problems:
            raise BadInput(f"{path}: entry {index}: {problems[0]}")
        found.append(Sector(code, entry["name"].strip(), str(english).strip() if english else None))
    return found


def ensure_shipped(conn: Connection) -> None:
    """Put the shipped sectors the table lacks (a first use, or a release that ships more)."""
    held = set(conn.execute(select(sectors.c.code)).scalars())
    missing = [sector.as_json() for sector in read_file(SHIPPED) if sector.code not in held]
    if missing:
        conn.execute(sectors.insert(), missing)


def merge(conn: Connection, given: list[Sector]) -> list[str]:
    """Add or rename the office's sectors; what changed, one line each (nothing: [])."""
    ensure_shipped(conn)
    held = {sector.code: sector for sector in all_sectors(conn)}
    changes: list[str] = []
    for sector in given:
        before = held.get(sector.code)
        if before is None:
            conn.execute(sectors.insert().values(**sector.as_json()))
            changes.append(f"added sector {sector.code} ({sector.name})")
        elif before != sector:
            conn.execute(update(sectors).where(sectors.c.code == sector.code)
                         .values(name=sector.name, name_en=sector.name_en))
            changes.append(f"renamed sector {sector.code}: {before.name} / {before.name_en} → "
                           f"{sector.name} / {sector.name_en}")
        held[sector.code] = sector
    return changes


def all_sectors(conn: Connection) -> list[Sector]:
    return [Sector(row.code, row.name, row.name_en)
            for row in conn.execute(select(sectors).order_by(sectors.c.code))]


def resolver(conn: Connection) -> dict[str, str]:
    """Every spelling an office may write for a sector (code, name, English name; case-folded) → its code."""
    ensure_shipped(conn)
    spellings: dict[str, str] = {}
    for sector in all_sectors(conn):
        for text in (sector.name_en, sector.name, sector.code):
            if text:
                spellings[text.strip().casefold()] = sector.code
    return spellings
