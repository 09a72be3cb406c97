"""The outbox's side of the cases: a case just opened (or joined) becomes alert_deliveries rows, nothing more.

What the unit must hear of at once: a bad review (from a terminal, centre/ingest.py, or the web questionnaire,
centre/public/webratings.py), a complaint (centre/public/complaintcases.py: it opened the rating's case or
joined the open one) and a call-back request (centre/callbacks.py, or a web rating's number: it opened a case
or started an open case's contact deadline, which runs one working day).

`cases_opened` runs inside the transaction that opened the cases, right after: a few indexed reads (the units'
names and zones, the counters' names, the duty addresses) and one multi-row insert. It never sends, never
waits on a mail server or a webhook: centre/housekeeping.py delivers, a second later at most, and retries
(centre/alerts/delivery.py). The rows commit with the cases: an alert is queued exactly when its case exists.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from centre import cityconfig
from centre.alerts.messages import CaseAlert, case_email, case_webhook
from centre.alerts.model import AlertKind, Channel
from centre.alerts.settings import AlertSettings
from centre.cases.model import OpenedCase
from centre.db.engine import insert_rows
from centre.db.loop_tables import alert_deliveries, unit_duty
from centre.db.tables import counters, units
from contract import iso_utc

# The kinds a case's news alerts as (an AlertKind's value is the cases.model.Origin's it tells of).
CASE_KINDS = (AlertKind.BAD_REVIEW, AlertKind.COMPLAINT, AlertKind.CALLBACK)


def cases_opened(conn: Connection, opened: Sequence[OpenedCase], now: datetime,
                 settings: AlertSettings | None = None) -> None:
    """Queue the alerts of the cases just opened or joined (the case's news: a bad review, a complaint, a call-back
    request): an e-mail to each case's unit's duty address (if the unit has one, `evaluator centre duty set`) and
    a post to the webhook, for the channels and kinds configured. `settings`: the installed city config's
    (centre/cityconfig.py) unless given."""
    if settings is None:
        settings = cityconfig.current().alerts
    by_email = {kind for kind in CASE_KINDS if settings.sends(kind, Channel.EMAIL)}
    by_webhook = {kind for kind in CASE_KINDS if settings.sends(kind, Channel.WEBHOOK)}
    if not (by_email or by_webhook):
        return
    wanted = []
    for case in opened:
        kind = AlertKind(case.news.value)
        if kind in by_email or kind in by_webhook:
            wanted.append((case, kind))
    if not wanted:
        return
    unit_ids = sorted({case.unit_id for case, _kind in wanted})
    alerts = _alerts(conn, wanted, unit_ids, settings)
    duty = duty_addresses(conn, unit_ids) if by_email else {}
    created = iso_utc(now)
    rows: list[dict[str, Any]] = []
    for alert in alerts:
        if alert.unit_id in duty and alert.kind in by_email:
            rows.append(_row(Channel.EMAIL, duty[alert.unit_id], alert, case_email(alert), created))
        if settings.webhook.url and alert.kind in by_webhook:
            rows.append(_row(Channel.WEBHOOK, settings.webhook.url, alert, case_webhook(alert), created))
    insert_rows(conn, alert_deliveries, rows)


def _row(channel: Channel, target: str, alert: CaseAlert, payload: dict[str, Any], created: str) -> dict[str, Any]:
    return {"kind": alert.kind.value, "channel": channel.value, "target": target, "case_id": alert.case_id,
            "unit_id": alert.unit_id, "payload": payload, "created_at": created, "attempts": 0,
            "next_attempt_at": created, "delivered_at": None, "gave_up_at": None, "last_error": None}


def _alerts(conn: Connection, opened: Sequence[tuple[OpenedCase, AlertKind]], unit_ids: list[str],
            settings: AlertSettings) -> list[CaseAlert]:
    """Each case with its unit's and counter's names and the unit's zone (the registry's, read once)."""
    named = {row.id: (row.name, row.timezone) for row in conn.execute(
        select(units.c.id, units.c.name, units.c.timezone).where(units.c.id.in_(unit_ids)))}
    counter_names = {(row.unit_id, row.id): row.name for row in conn.execute(
        select(counters.c.unit_id, counters.c.id, counters.c.name).where(counters.c.unit_id.in_(unit_ids)))}
    found = []
    for case, kind in opened:
        unit_name, zone = named.get(case.unit_id, (case.unit_id, "Asia/Shanghai"))
        found.append(CaseAlert(
            kind=kind, joined=case.joined_by is not None, case_id=case.case_id, unit_id=case.unit_id,
            unit_name=unit_name, counter_id=case.counter_id,
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
