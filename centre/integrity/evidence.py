"""A flag's evidence as the office reads it: the ratings and events it names, with their times in the unit's
zone, and nothing that identifies a citizen (no call-back number is joined; a case number shows only its
last characters, enough to see two ratings name the same case)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, select

from centre.db.loop_tables import rating_exclusions
from centre.db.tables import events, ratings, units
from centre.integrity.flags import Flag

CASE_SHOWN = 4                 # a case number's last characters shown
DETAIL_SHOWN = ("staff_id", "why", "level", "role", "action", "source", "channel")
DEFAULT_ZONE = "Asia/Shanghai"


@dataclass(frozen=True)
class RatingRow:
    uuid: str
    at: str                    # the counted time, in the unit's zone, to the second
    level: int
    mode: str
    counter_id: str
    staff_id: str | None
    device_id: str
    case_tail: str | None
    excluded: bool


@dataclass(frozen=True)
class EventRow:
    id: int
    at: str
    kind: str
    device_id: str
    detail: dict[str, Any]


@dataclass(frozen=True)
class Shown:
    zone: str
    ratings: list[RatingRow]
    events: list[EventRow]


def local(text: str, zone: ZoneInfo) -> str:
    return datetime.fromisoformat(text).astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")


def masked(case_no: str | None) -> str | None:
    if not case_no:
        return None
    return "…" + case_no[-CASE_SHOWN:] if len(case_no) > CASE_SHOWN else case_no


def shown(conn: Connection, flag: Flag) -> Shown:
    """The flag's evidence rows, oldest first."""
    name = conn.execute(select(units.c.timezone).where(units.c.id == flag.unit_id)).scalar() or DEFAULT_ZONE
    try:
        zone = ZoneInfo(name)
    except (ValueError, KeyError):
        zone = ZoneInfo(DEFAULT_ZONE)
    uuids = list(flag.evidence.rating_uuids)
    excluded = set(conn.execute(select(rating_exclusions.c.rating_uuid)
                                .where(rating_exclusions.c.rating_uuid.in_(uuids))).scalars()) if uuids else set()
    query = select(ratings.c.uuid, ratings.c.counted_at, ratings.c.level, ratings.c.mode, ratings.c.placed_counter_id,
                   ratings.c.staff_id, ratings.c.delivered_by, ratings.c.case_no).where(ratings.c.uuid.in_(uuids))
    rows = [RatingRow(row.uuid, local(row.counted_at, zone), row.level, row.mode, row.placed_counter_id, row.staff_id,
                      row.delivered_by, masked(row.case_no), row.uuid in excluded)
            for row in conn.execute(query)] if uuids else []
    ids = list(flag.evidence.event_ids)
    found = [EventRow(row.pk, local(row.counted_at, zone), row.kind, row.device_id,
                      {key: value for key, value in (row.detail or {}).items() if key in DETAIL_SHOWN})
             for row in conn.execute(select(events.c.pk, events.c.counted_at, events.c.kind, events.c.device_id,
                                            events.c.detail).where(events.c.pk.in_(ids)))] if ids else []
    return Shown(zone.key, sorted(rows, key=lambda row: row.at), sorted(found, key=lambda row: (row.at, row.id)))
