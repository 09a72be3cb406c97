"""One-time enrollment codes and the devices they create: config, heartbeat, revocation."""
from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, select, update

from centre.db.rows import now_text, nul_field, utcnow
from centre.db.tables import devices, enroll_codes
from centre.errors import BadInput, Gone, NotFound
from centre.registry import sectors
from centre.registry import staff as staff_roster
from centre.registry.model import DEFAULT_TIMEZONE as DEFAULT_TIMEZONE
from centre.registry.model import NAME_LIMITS as NAME_LIMITS
from centre.registry.model import check_timezone as check_timezone
from centre.registry.model import name_problems
from centre.registry.placements import open_placement
from centre.registry.queries import Place, place
from contract import DeviceConfig, EnrollRequest, EnrollResponse, canonical_json, iso_utc

# Typed by a technician from a sheet: no 0/O or 1/I to misread.
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 10


def create_code(engine: Engine, unit_id: str, counter_id: str, *, unit_name: str | None = None,
                counter_name: str | None = None, unit_name_en: str | None = None,
                counter_name_en: str | None = None, timezone_name: str | None = None,
                ttl: timedelta = timedelta(hours=24), now: datetime | None = None) -> str:
    """Store and return a fresh one-time code for a registered counter of a registered unit (else NotFound,
    naming which). Its terminal shows the registry's names; a name given here overrides the registry's for
    this code's device (until the registry's name changes). A zone given must be the unit's."""
    if not unit_id.strip() or not counter_id.strip():
        raise BadInput("unit and counter ids must not be empty")
    if ttl <= timedelta(0):
        raise BadInput("the code's lifetime must be positive")
    if timezone_name is not None:
        check_timezone(timezone_name)
    overrides = {"unit_name": unit_name, "counter_name": counter_name, "unit_name_en": unit_name_en,
                 "counter_name_en": counter_name_en}
    problems = name_problems(overrides)
    if problems:
        raise BadInput(problems[0])
    with engine.begin() as conn:
        sectors.ensure_shipped(conn)
        where = place(conn, unit_id, counter_id)
        if timezone_name is not None and timezone_name != where.unit["timezone"]:
            raise BadInput(f"unit {unit_id}'s time zone is {where.unit['timezone']} in the registry, not "
                           f"{timezone_name} (change it there: `evaluator centre unit import`)")
        return issue(conn, where, overrides, now or utcnow(), ttl).code


@dataclass(frozen=True)
class Issued:
    unit_id: str
    counter_id: str
    code: str
    expires_at: str


def issue(conn: Connection, where: Place, overrides: Mapping[str, str | None], created: datetime,
          ttl: timedelta) -> Issued:
    """Store a fresh code for a registered counter (`place`), its names checked (`name_problems`) by the caller."""
    registry = {"unit_name": where.unit["name"], "unit_name_en": where.unit["name_en"],
                "counter_name": where.counter["name"], "counter_name_en": where.counter["name_en"]}
    names = {key: overrides.get(key) or registry[key] for key in registry}
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    unit_id, counter_id, expires_at = where.unit["id"], where.counter["id"], iso_utc(created + ttl)
    conn.execute(enroll_codes.insert().values(
        code=code, unit_id=unit_id, unit_timezone=where.unit["timezone"], counter_id=counter_id, **names,
        created_at=iso_utc(created), expires_at=expires_at))
    return Issued(unit_id, counter_id, code, expires_at)


def enroll(engine: Engine, request: EnrollRequest, now_at: datetime | None = None) -> EnrollResponse:
    """Consume the code and create the device; the UPDATE ... WHERE used_at IS NULL makes it once-only.
    `now_at`: the demo city's simulated now (its devices enrolled before the days they record)."""
    unstorable = nul_field(request.model_dump())
    if unstorable:
        raise BadInput(f"{unstorable}: contains a NUL character")
    now = iso_utc(now_at) if now_at is not None else now_text()
    device_id = "dev-" + secrets.token_hex(5)
    secret = secrets.token_urlsafe(32)
    with engine.begin() as conn:
        row = conn.execute(select(enroll_codes).where(enroll_codes.c.code == request.code)).mappings().first()
        if row is None:
            raise NotFound("unknown enrollment code")
        if row["used_at"] is not None:
            raise Gone("enrollment code already used")
        if row["expires_at"] <= now:
            raise Gone("enrollment code expired")
        claimed = conn.execute(update(enroll_codes)
                               .where(enroll_codes.c.code == request.code, enroll_codes.c.used_at.is_(None))
                               .values(used_at=now, device_id=device_id))
        if claimed.rowcount != 1:   # another request won the race
            raise Gone("enrollment code already used")
        conn.execute(devices.insert().values(
            id=device_id, secret=secret, unit_id=row["unit_id"], unit_name=row["unit_name"],
            unit_timezone=row["unit_timezone"], counter_id=row["counter_id"], counter_name=row["counter_name"],
            # staff: kept empty; the unit's roster is the staff table now (centre/registry/staff.py)
            unit_name_en=row["unit_name_en"], counter_name_en=row["counter_name_en"], staff=[],
            app_version=request.app_version, enrolled_at=now))
        open_placement(conn, device_id, row["unit_id"], row["counter_id"], now)
        device = conn.execute(select(devices).where(devices.c.id == device_id)).mappings().one()
        config = device_config(conn, device)
    return EnrollResponse(device_id=device_id, secret=secret, config=config)


def pulled_config(engine: Engine, device: Any) -> DeviceConfig:
    """What the config route sends the device now."""
    with engine.connect() as conn:
        return device_config(conn, device)


def device_config(conn: Connection, device: Any) -> DeviceConfig:
    """Where the device stands (its row) and its unit's current roster (the `staff` table, centre/registry/staff.py:
    one roster per unit, whichever counter). `name_en` only when the centre has one: a terminal then shows
    `name` in both languages."""
    unit = {"id": device["unit_id"], "name": device["unit_name"], "timezone": device["unit_timezone"]}
    counter = {"id": device["counter_id"], "name": device["counter_name"]}
    for part, english in ((unit, device.get("unit_name_en")), (counter, device.get("counter_name_en"))):
        if english:
            part["name_en"] = english
    return DeviceConfig(unit=unit, counter=counter, staff=staff_roster.roster(conn, device["unit_id"]))


def config_etag(config: DeviceConfig) -> str:
    """A strong ETag: the hash of the canonical config, so any change shows."""
    return '"' + hashlib.sha256(canonical_json(config.model_dump(mode="json"))).hexdigest() + '"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    candidates = {part.strip().removeprefix("W/") for part in if_none_match.split(",")}
    return "*" in candidates or etag in candidates


def revoke(engine: Engine, device_id: str) -> bool:
    """Refuse every later request of the device; False when it was revoked already."""
    with engine.begin() as conn:
        row = conn.execute(select(devices.c.revoked_at).where(devices.c.id == device_id)).first()
        if row is None:
            raise NotFound(f"unknown device {device_id!r}")
        if row.revoked_at is not None:
            return False
        conn.execute(update(devices).where(devices.c.id == device_id).values(revoked_at=now_text()))
    return True


def record_heartbeat(engine: Engine, device_id: str, heartbeat: dict[str, Any], seen: str | None = None) -> None:
    """Keep the latest heartbeat only: integrity reads its last_seq and verify_ok. `seen`: when it was received
    (the demo city's simulated now; else now)."""
    with engine.begin() as conn:
        store_heartbeat(conn, device_id, heartbeat, seen)


def store_heartbeat(conn: Connection, device_id: str, heartbeat: dict[str, Any], seen: str | None = None) -> None:
    """`record_heartbeat` in the caller's transaction (the heartbeat route's, which records the nonce with it)."""
    conn.execute(update(devices).where(devices.c.id == device_id)
                 .values(last_heartbeat=heartbeat, last_seen=seen or now_text()))
