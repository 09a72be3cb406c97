"""Cases open by themselves: for each bad review as it is ingested, and for each call-back request.

`open_for_ratings` runs inside the ingest's transaction (centre/ingest.py, after the rollups), so a batch,
its counts and its cases commit together and a batch sent again (a duplicate) opens nothing: only the
ratings this batch inserted are passed in. It costs nothing for a batch without a bad review (one pass over
the levels) and, with some, one query of time zones, one insert of the cases and one of their `opened`
events. A case's deadlines run from when the centre learns of the review, in the unit's working days.

`open_for_callbacks` runs inside the call-backs' transaction (centre/callbacks.py): a call-back request
joins its rating's case (a `joined` event, and the contact deadline starts) or opens one for a rating that
has none (a rating of level 3–5 whose citizen asked for a call all the same, or a bad review held from
before the loop existed). A complaint filed on the citizen pages does the same in
centre/public/complaintcases.py. One case per rating: `cases.rating_uuid` is unique.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, select, update

from centre.cases.model import CaseState, EventKind, OpenedCase, Origin
from centre.cases.settings import CaseSettings, current
from centre.cases.store import zones
from centre.cases.workdays import WorkingCalendar, load_calendar
from centre.db.engine import insert_rows
from centre.db.lookup import among
from centre.db.loop_tables import case_events, cases
from centre.db.tables import ratings, reasons
from contract import iso_utc

BAD_LEVELS = (1, 2)     # 不满意, 非常不满意


def open_for_ratings(conn: Connection, new_ratings: Sequence[Mapping[str, Any]], now: datetime, *,
                     new_reasons: Sequence[Mapping[str, Any]] = (),
                     settings: CaseSettings | None = None) -> list[OpenedCase]:
    """Open a case for each bad review among the ratings one batch has just inserted (rows as ingest built
    them: the sent fields and the centre's placement). `new_reasons`: the reasons the same batch inserted,
    which the cases name. Ratings recorded before their device was enrolled count in no score and open none."""
    bad = [row for row in new_ratings if row["level"] in BAD_LEVELS and not row.get("before_enrollment")]
    if not bad:
        return []
    settings = settings or current()
    codes = _codes(new_reasons, {row["uuid"]: row["delivered_by"] for row in bad})
    return _open(conn, bad, codes, Origin.BAD_REVIEW, now, settings, with_number=False)


def open_for_callbacks(conn: Connection, rating_uuids: Iterable[str], now: datetime, *,
                       settings: CaseSettings | None = None) -> list[OpenedCase]:
    """For ratings whose call-back requests were just stored: join each rating's case (its contact deadline
    starts now), or open one. Returns the cases opened and those joined (`joined_by` the call-back); a case
    that already had a number is left as it is."""
    settings = settings or current()
    uuids = sorted(set(rating_uuids))
    if not uuids:
        return []
    held = {row["rating_uuid"]: row for row in conn.execute(
        select(cases).where(cases.c.rating_uuid.in_(uuids))).mappings()}
    rows = [dict(row) for row in conn.execute(
        select(ratings.c.uuid, ratings.c.placed_unit_id, ratings.c.placed_counter_id, ratings.c.staff_id,
               ratings.c.level, ratings.c.counted_at, ratings.c.delivered_by)
        .where(ratings.c.uuid.in_(uuids))).mappings()]
    codes = held_codes(conn, [row["uuid"] for row in rows])
    calendar = load_calendar(conn)
    tz = zones(conn, [row["placed_unit_id"] for row in rows])
    joined = []
    for row in rows:
        case = held.get(row["uuid"])
        if case is not None and case["contact_due_at"] is None:   # a second number for a case is no news
            joined.append(_join(conn, case, codes, now, settings, calendar, tz[row["placed_unit_id"]]))
    fresh = [row for row in rows if row["uuid"] not in held]
    return joined + _open(conn, fresh, codes, Origin.CALLBACK, now, settings, with_number=True, calendar=calendar)


def _open(conn: Connection, rows: Sequence[Mapping[str, Any]], codes: Mapping[str, tuple[str, ...]],
          origin: Origin, now: datetime, settings: CaseSettings, *, with_number: bool,
          calendar: WorkingCalendar | None = None) -> list[OpenedCase]:
    if not rows:
        return []
    calendar = calendar or load_calendar(conn)
    tz = zones(conn, [row["placed_unit_id"] for row in rows])
    opened_at = iso_utc(now)
    # Every case of the batch opens at `now`: its deadlines depend on the unit's zone alone, counted once a zone.
    due: dict[str, tuple[str | None, str]] = {}
    for zone in set(tz.values()):
        contact = calendar.add_working_days(now, settings.contact_working_days, zone) if with_number else None
        due[zone] = (iso_utc(contact) if contact else None,
                     iso_utc(calendar.add_working_days(now, settings.rectify_working_days, zone)))
    values = []
    for row in rows:
        contact_due, rectify_due = due[tz[row["placed_unit_id"]]]
        values.append({
            "rating_uuid": row["uuid"], "unit_id": row["placed_unit_id"], "counter_id": row["placed_counter_id"],
            "staff_id": row["staff_id"], "level": row["level"], "opened_by": origin.value,
            "state": CaseState.NEW.value, "rated_at": row["counted_at"], "opened_at": opened_at,
            "contact_due_at": contact_due, "rectify_due_at": rectify_due})
    # Inserted in bulk (COPY on PostgreSQL) and their ids read back by rating: an INSERT … RETURNING of a
    # batch's forty cases was a statement so long that the driver parsed it anew each time, the dearest
    # statement of a batch's ingest.
    insert_rows(conn, cases, values)
    ids = {row.rating_uuid: row.id for row in among(conn, _CASE_IDS, cases.c.rating_uuid,
                                                     [row["rating_uuid"] for row in values])}
    insert_rows(conn, case_events, [
        {"case_id": ids[row["rating_uuid"]], "at": opened_at, "actor": None, "role": None,
         "kind": EventKind.OPENED.value,
         "detail": {"origin": origin.value, "level": row["level"], "reasons": list(codes.get(row["rating_uuid"], ()))}}
        for row in values])
    return [OpenedCase.of_row(ids[row["rating_uuid"]], row, codes.get(row["rating_uuid"], ())) for row in values]


_CASE_IDS = select(cases.c.id, cases.c.rating_uuid)


def _join(conn: Connection, case: Mapping[Any, Any], codes: Mapping[str, tuple[str, ...]], now: datetime,
          settings: CaseSettings, calendar: WorkingCalendar, zone: str) -> OpenedCase:
    """A call-back request joined the case, which had no number: the caller's contact deadline starts now."""
    due = iso_utc(calendar.add_working_days(now, settings.contact_working_days, zone))
    conn.execute(update(cases).where(and_(cases.c.id == case["id"], cases.c.contact_due_at.is_(None)))
                 .values(contact_due_at=due))
    conn.execute(case_events.insert().values(case_id=case["id"], at=iso_utc(now), actor=None, role=None,
                                             kind=EventKind.JOINED.value, detail={"origin": Origin.CALLBACK.value}))
    return OpenedCase.of_row(case["id"], {**case, "contact_due_at": due}, codes.get(case["rating_uuid"], ()),
                             joined_by=Origin.CALLBACK)


def _codes(new_reasons: Sequence[Mapping[str, Any]], delivered_by: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    """The batch's reason codes per bad rating (a reason counts from the device that delivered the rating)."""
    found: dict[str, list[str]] = {}
    for row in new_reasons:
        uuid = row["rating_uuid"]
        if delivered_by.get(uuid) == row["device_id"]:
            found.setdefault(uuid, []).append(row["code"])
    return {uuid: tuple(sorted(items)) for uuid, items in found.items()}


def held_codes(conn: Connection, uuids: list[str]) -> dict[str, tuple[str, ...]]:
    """The held ratings' reason codes, sorted (a reason counts from the device that delivered its rating)."""
    if not uuids:
        return {}
    found: dict[str, list[str]] = {}
    for uuid, code in conn.execute(
            select(reasons.c.rating_uuid, reasons.c.code)
            .join(ratings, and_(ratings.c.uuid == reasons.c.rating_uuid, ratings.c.delivered_by == reasons.c.device_id))
            .where(reasons.c.rating_uuid.in_(uuids)).order_by(reasons.c.code)):
        found.setdefault(uuid, []).append(code)
    return {uuid: tuple(items) for uuid, items in found.items()}
