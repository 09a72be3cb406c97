"""Local calendar days as the UTC windows every count on the terminal is cut by (a day may be 23 or 25
hours long)."""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) of a local calendar day, in UTC (a day may be 23 or 25 hours long)."""
    start = datetime.combine(day, time(0), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def today(zone: ZoneInfo, now: datetime | None = None) -> date:
    return (now or datetime.now(UTC)).astimezone(zone).date()


def day_edges(first_day: date, days: int, zone: ZoneInfo) -> list[datetime]:
    """The `days + 1` UTC instants that start each local day from first_day (the last ends the range)."""
    return [day_bounds(first_day + timedelta(days=i), zone)[0] for i in range(days + 1)] if days > 0 else []
