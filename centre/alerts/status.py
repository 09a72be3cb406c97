"""What the console shows of the outbox: each delivery's state, and the targets that fail.

For the console's page of deliveries (written apart, centre/console/pages): `deliveries` lists rows by state,
channel, kind, unit and time, a page at a time, newest first; `delivery_problems` sums up, per target, what
is retrying and what was given up since a moment, with the last error. A webhook's URL is shown without its
query string (where messaging robots keep their key); no row holds a phone number to begin with.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, func, select

from centre.alerts.delivery import shown_target
from centre.alerts.model import AlertKind, Channel, DeliveryState
from centre.db.loop_tables import alert_deliveries
from contract import iso_utc

T = alert_deliveries
MAX_PAGE_SIZE = 200
MAX_PROBLEM_ROWS = 10_000   # the failed rows read for a summary; more than that is a sign in itself


def state_condition(state: DeliveryState) -> ColumnElement[bool]:
    if state is DeliveryState.DELIVERED:
        return T.c.delivered_at.is_not(None)
    if state is DeliveryState.GAVE_UP:
        return T.c.gave_up_at.is_not(None)
    undone = and_(T.c.delivered_at.is_(None), T.c.gave_up_at.is_(None))
    return and_(undone, T.c.attempts > 0) if state is DeliveryState.RETRYING else and_(undone, T.c.attempts == 0)


def state_of(row: Any) -> DeliveryState:
    if row.delivered_at is not None:
        return DeliveryState.DELIVERED
    if row.gave_up_at is not None:
        return DeliveryState.GAVE_UP
    return DeliveryState.RETRYING if row.attempts else DeliveryState.PENDING


@dataclass(frozen=True)
class Delivery:
    """One outbox row as the console shows it."""

    id: int
    kind: AlertKind
    channel: Channel
    target: str                  # as shown: a webhook URL without its query
    case_id: int | None
    unit_id: str | None
    subject: str | None          # an e-mail's subject; None for a webhook post
    created_at: str
    attempts: int
    next_attempt_at: str | None
    delivered_at: str | None
    gave_up_at: str | None
    last_error: str | None
    state: DeliveryState


@dataclass(frozen=True)
class DeliveryFilters:
    state: DeliveryState | None = None
    channel: Channel | None = None
    kind: AlertKind | None = None
    unit_ids: Sequence[str] | None = None   # a unit's or a district's scope; None: the whole city
    since: datetime | None = None            # created at or after


@dataclass(frozen=True)
class DeliveryPage:
    rows: list[Delivery]
    total: int
    page: int        # 1-based
    size: int


def _where(filters: DeliveryFilters) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    if filters.state is not None:
        found.append(state_condition(filters.state))
    if filters.channel is not None:
        found.append(T.c.channel == filters.channel.value)
    if filters.kind is not None:
        found.append(T.c.kind == filters.kind.value)
    if filters.unit_ids is not None:
        found.append(T.c.unit_id.in_(list(filters.unit_ids)))
    if filters.since is not None:
        found.append(T.c.created_at >= iso_utc(filters.since))
    return found


def deliveries(conn: Connection, filters: DeliveryFilters = DeliveryFilters(), page: int = 1,
               size: int = 50) -> DeliveryPage:
    """The rows that match, newest first, page `page` of `size` rows."""
    page, size = max(1, page), min(max(1, size), MAX_PAGE_SIZE)
    where = _where(filters)
    total = conn.execute(select(func.count()).select_from(T).where(*where)).scalar_one()
    rows = conn.execute(select(T).where(*where).order_by(T.c.id.desc()).limit(size).offset((page - 1) * size))
    return DeliveryPage([_delivery(row) for row in rows], total, page, size)


def _delivery(row: Any) -> Delivery:
    payload = row.payload or {}
    return Delivery(
        id=row.id, kind=AlertKind(row.kind), channel=Channel(row.channel),
        target=shown_target(row.channel, row.target), case_id=row.case_id, unit_id=row.unit_id,
        subject=payload.get("subject") if row.channel == Channel.EMAIL.value else None,
        created_at=row.created_at, attempts=row.attempts, next_attempt_at=row.next_attempt_at,
        delivered_at=row.delivered_at, gave_up_at=row.gave_up_at, last_error=row.last_error, state=state_of(row))


@dataclass(frozen=True)
class TargetProblem:
    """A target with deliveries failing: how many still retrying, how many given up, and the latest error."""

    channel: Channel
    target: str
    retrying: int
    gave_up: int
    last_error: str | None
    last_failed_row: int      # the id of the latest failed row (a link into `deliveries`)
    next_attempt_at: str | None


def delivery_problems(conn: Connection, since: datetime,
                      unit_ids: Sequence[str] | None = None) -> list[TargetProblem]:
    """Per target, the rows created since `since` that failed at least once and are not delivered; the worst
    (the most given up, then the most retrying) first."""
    failing = and_(T.c.attempts > 0, T.c.delivered_at.is_(None), T.c.created_at >= iso_utc(since))
    query = (select(T.c.id, T.c.channel, T.c.target, T.c.gave_up_at, T.c.next_attempt_at, T.c.last_error)
             .where(failing).order_by(T.c.id).limit(MAX_PROBLEM_ROWS))
    if unit_ids is not None:
        query = query.where(T.c.unit_id.in_(list(unit_ids)))
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for row in conn.execute(query):
        group = groups.setdefault((row.channel, row.target), {"retrying": 0, "gave_up": 0, "next": None})
        group["gave_up" if row.gave_up_at else "retrying"] += 1
        group.update(error=row.last_error, last=row.id)
        if row.next_attempt_at and (group["next"] is None or row.next_attempt_at < group["next"]):
            group["next"] = row.next_attempt_at
    found = [TargetProblem(Channel(channel), shown_target(channel, target), group["retrying"], group["gave_up"],
                           group["error"], group["last"], group["next"])
             for (channel, target), group in groups.items()]
    return sorted(found, key=lambda item: (-item.gave_up, -item.retrying, item.channel.value, item.target))
