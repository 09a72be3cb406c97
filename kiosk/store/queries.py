"""The read queries behind the summaries, the staff scores screen and the technician's views.

They return raw counts and rows; kiosk.rating.scoring turns them into figures. Every range is
[start, end) on recorded_at, UTC ISO 8601 text of a fixed width, so comparing text compares times.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, RowMapping, func, select

from contract import iso_utc
from kiosk.store.database import Database
from kiosk.store.tables import EventKind, events, rating_reasons, ratings


@dataclass(frozen=True)
class DayCounts:
    """Raw counts for one time range, for `kiosk.rating.scoring` to turn into figures."""

    by_level: dict[int, int]
    reasons: dict[str, int]
    unrated: int
    suppressed: int


def event_dict(row: RowMapping) -> dict[str, Any]:
    """An events row as a dict, its detail decoded from the canonical JSON it is stored as."""
    return {**row, "detail": json.loads(row["detail"])}


def _rated_in(start: datetime, end: datetime) -> ColumnElement[bool]:
    return (ratings.c.recorded_at >= iso_utc(start)) & (ratings.c.recorded_at < iso_utc(end))


def _happened_in(start: datetime, end: datetime) -> ColumnElement[bool]:
    return (events.c.recorded_at >= iso_utc(start)) & (events.c.recorded_at < iso_utc(end))


class RatingQueries(Database):
    """The store's reads, mixed into RatingStore."""

    def count_ratings(self) -> int:
        with self.transaction(write=False) as conn:
            return conn.execute(select(func.count()).select_from(ratings)).scalar_one()

    def recent_ratings(self, limit: int = 10) -> list[dict[str, Any]]:
        with self.transaction(write=False) as conn:
            rows = conn.execute(select(ratings).order_by(ratings.c.seq.desc()).limit(limit))
            return [dict(row._mapping) for row in rows]

    def reasons_for(self, rating_uuid: str) -> list[str]:
        with self.transaction(write=False) as conn:
            rows = conn.execute(select(rating_reasons.c.code).where(rating_reasons.c.rating_uuid == rating_uuid)
                                .order_by(rating_reasons.c.id))
            return [row.code for row in rows]

    def events_of(self, kind: EventKind) -> list[dict[str, Any]]:
        with self.transaction(write=False) as conn:
            rows = conn.execute(select(events).where(events.c.kind == EventKind(kind).value).order_by(events.c.id))
            return [event_dict(row._mapping) for row in rows]

    def last_event(self, kind: EventKind) -> dict[str, Any] | None:
        latest = self.latest_events((kind,), 1)
        return latest[0] if latest else None

    def latest_events(self, kinds: tuple[EventKind, ...], limit: int) -> list[dict[str, Any]]:
        """The newest `limit` events of these kinds, newest first."""
        with self.transaction(write=False) as conn:
            rows = conn.execute(select(events).where(events.c.kind.in_([EventKind(k).value for k in kinds]))
                                .order_by(events.c.id.desc()).limit(limit))
            return [event_dict(row._mapping) for row in rows]

    def day_counts(self, start: datetime, end: datetime) -> DayCounts:
        """Counts for ratings and events recorded in [start, end)."""
        in_range = _rated_in(start, end)
        with self.transaction(write=False) as conn:
            by_level: dict[int, int] = dict(conn.execute(select(ratings.c.level, func.count())
                                                         .where(in_range).group_by(ratings.c.level)).all())
            reasons: dict[str, int] = dict(conn.execute(
                select(rating_reasons.c.code, func.count())
                .join(ratings, ratings.c.uuid == rating_reasons.c.rating_uuid)
                .where(in_range).group_by(rating_reasons.c.code)).all())
            kinds: dict[str, int] = dict(conn.execute(
                select(events.c.kind, func.count())
                .where(_happened_in(start, end)
                       & events.c.kind.in_([EventKind.UNRATED.value, EventKind.SUPPRESSED.value]))
                .group_by(events.c.kind)).all())
        return DayCounts(by_level=by_level, reasons=reasons,
                         unrated=kinds.get(EventKind.UNRATED.value, 0),
                         suppressed=kinds.get(EventKind.SUPPRESSED.value, 0))

    # -- the staff scores screen --

    def staff_level_counts(self, start: datetime, end: datetime) -> dict[tuple[str | None, int], int]:
        """Ratings per (staff_id, level) recorded in [start, end); staff_id None: nobody was signed in."""
        with self.transaction(write=False) as conn:
            rows = conn.execute(select(ratings.c.staff_id, ratings.c.level, func.count())
                                .where(_rated_in(start, end))
                                .group_by(ratings.c.staff_id, ratings.c.level)).all()
        return {(staff_id, level): count for staff_id, level, count in rows}

    def unrated_by_staff(self, start: datetime, end: datetime) -> dict[str | None, int]:
        """Unrated requests in [start, end) per the staff_id their event names (None: it named nobody)."""
        staff = func.json_extract(events.c.detail, "$.staff_id")
        with self.transaction(write=False) as conn:
            rows = conn.execute(select(staff, func.count())
                                .where((events.c.kind == EventKind.UNRATED.value) & _happened_in(start, end))
                                .group_by(staff)).all()
        return dict(rows)

    def level_counts_by_bucket(self, edges: list[datetime]) -> list[dict[int, int]]:
        """Ratings per level in each [edges[i], edges[i + 1]), in one statement over the whole range.

        Local days are not a fixed width of UTC text (DST), so the buckets are
        given as edges. A VALUES table of [lo, hi) bounds CROSS JOINed to
        ratings makes SQLite seek the recorded_at index once per bucket and
        count each row as a plain range count would. Measured on 2,000,000
        ratings, 30 days (33,000 rows): this 19 ms; one range scan bucketed
        with a CASE chain 36 ms (up to 30 text comparisons per row); one scan
        of (recorded_at, level) bucketed in Python 36 ms; the plain range
        count it cannot beat 14 ms. CROSS JOIN pins the bounds as the outer
        loop, whatever the planner guesses without statistics.
        """
        buckets: list[dict[int, int]] = [{} for _ in edges[1:]]
        if not buckets:
            return buckets
        values = ", ".join(f"({i}, :e{i}, :e{i + 1})" for i in range(len(buckets)))
        sql = (f"WITH bounds(i, lo, hi) AS (VALUES {values}) "
               "SELECT bounds.i, ratings.level, count(*) FROM bounds CROSS JOIN ratings "
               "ON ratings.recorded_at >= bounds.lo AND ratings.recorded_at < bounds.hi "
               "GROUP BY bounds.i, ratings.level")
        with self.transaction(write=False) as conn:
            rows = conn.exec_driver_sql(sql, {f"e{i}": iso_utc(edge) for i, edge in enumerate(edges)}).all()
        for index, level, count in rows:
            buckets[index][level] = count
        return buckets

    def ratings_with_reasons(self, start: datetime, end: datetime, levels: list[int],
                             limit: int) -> list[dict[str, Any]]:
        """The newest `limit` ratings at `levels` in [start, end), newest first, each with its reason codes."""
        with self.transaction(write=False) as conn:
            # ORDER BY recorded_at walks the time index backwards: no sort, and the LIMIT stops it early.
            rows = conn.execute(select(ratings.c.uuid, ratings.c.seq, ratings.c.recorded_at, ratings.c.level,
                                       ratings.c.staff_id)
                                .where(_rated_in(start, end) & ratings.c.level.in_(levels))
                                .order_by(ratings.c.recorded_at.desc()).limit(limit)).all()
            found: dict[str, dict[str, Any]] = {row.uuid: {**row._mapping, "reasons": []} for row in rows}
            if found:
                reasons = conn.execute(select(rating_reasons.c.rating_uuid, rating_reasons.c.code)
                                       .where(rating_reasons.c.rating_uuid.in_(list(found)))
                                       .order_by(rating_reasons.c.id)).all()
                for rating_uuid, code in reasons:
                    found[rating_uuid]["reasons"].append(code)
        return list(found.values())
