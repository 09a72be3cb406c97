"""The outbox's side of ingest: a bad-review case just opened becomes alert_deliveries rows, nothing more.

`cases_opened` runs inside ingest's transaction, right after the cases are opened (centre/ingest.py): a few
indexed reads (the units' names and zones, the counters' names, the duty addresses) and one multi-row insert.
It never sends, never waits on a mail server or a webhook: centre/housekeeping.py delivers, a second later at
most, and retries (centre/alerts/delivery.py). The rows commit with the ratings: an alert is queued exactly
when its case exists.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from centre import cityconfig
from centre.alerts.messages import CaseAlert, bad_review_email, bad_review_webhook
from centre.alerts.model import AlertKind, Channel
from centre.alerts.settings import AlertSettings
from centre.cases.model import OpenedCase, Origin
from centre.db.engine import insert_rows
from centre.db.loop_tables import alert_deliveries, unit_duty
from centre.db.tables import counters, units
from contract import iso_utc


def cases_opened(conn: Connection, opened: Sequence[OpenedCase], now: datetime,
                 settings: AlertSettings | None = None) -> None:
    """Queue the alerts of the bad-review cases just opened: an e-mail to each case's unit's duty address (if
    the unit has one, `evaluator centre duty set`) and a post to the webhook, for the channels configured.

    A call-back or complaint joining an open case alerts nobody again; `settings`: the installed city config's
    (centre/cityconfig.py) unless given."""
    if settings is None:
        settings = cityconfig.current().alerts
    fresh = [case for case in opened if case.origin is Origin.BAD_REVIEW and not case.joined]
    by_email = settings.smtp.enabled and settings.bad_review_email
    by_webhook = settings.webhook.enabled and settings.bad_review_webhook
    if not fresh or not (by_email or by_webhook):
        return
    unit_ids = sorted({case.unit_id for case in fresh})
    alerts = _alerts(conn, fresh, unit_ids, settings)
    duty = duty_addresses(conn, unit_ids) if by_email else {}
    created = iso_utc(now)
    rows: list[dict[str, Any]] = []
    for alert in alerts:
        if alert.unit_id in duty:
            rows.append(_row(Channel.EMAIL, duty[alert.unit_id], alert, bad_review_email(alert), created))
        if by_webhook and settings.webhook.url:
            rows.append(_row(Channel.WEBHOOK, settings.webhook.url, alert, bad_review_webhook(alert), created))
    insert_rows(conn, alert_deliveries, rows)


def _row(channel: Channel, target: str, alert: CaseAlert, payload: dict[str, Any], created: str) -> dict[str, Any]:
    return {"kind": AlertKind.BAD_REVIEW.value, "channel": channel.value, "target": target, "case_id": alert.case_id,
            "unit_id": alert.unit_id, "payload": payload, "created_at": created, "attempts": 0,
            "next_attempt_at": created, "delivered_at": None, "gave_up_at": None, "last_error": None}


def _alerts(conn: Connection, opened: Sequence[OpenedCase], unit_ids: list[str],
            settings: AlertSettings) -> list[CaseAlert]:
    """Each case with its unit's and counter's names and the unit's zone (the registry's, read once)."""
    named = {row.id: (row.name, row.timezone) for row in conn.execute(
        select(units.c.id, units.c.name, units.c.timezone).where(units.c.id.in_(unit_ids)))}
    counter_names = {(row.unit_id, row.id): row.name for row in conn.execute(
        select(counters.c.unit_id, counters.c.id, counters.c.name).where(counters.c.unit_id.in_(unit_ids)))}
    found = []
    for case in opened:
        unit_name, zone = named.get(case.unit_id, (case.unit_id, "Asia/Shanghai"))
        found.append(CaseAlert(
            case_id=case.case_id, unit_id=case.unit_id, unit_name=unit_name, counter_id=case.counter_id,
            counter_name=counter_names.get((case.unit_id, case.counter_id), case.counter_id), level=case.level,
            reasons=tuple(case.reasons), opened_at=case.opened_at, contact_due_at=case.contact_due_at,
            rectify_due_at=case.rectify_due_at, link=settings.case_link(case.case_id), timezone=zone))
    return found


def duty_addresses(conn: Connection, unit_ids: Iterable[str]) -> dict[str, str]:
    """unit id → its duty manager's e-mail address, for the units that have one."""
    wanted = list(unit_ids)
    if not wanted:
        return {}
    return {row.unit_id: row.email for row in conn.execute(
        select(unit_duty.c.unit_id, unit_duty.c.email).where(unit_duty.c.unit_id.in_(wanted)))}
