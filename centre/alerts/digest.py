"""The daily digest: once a day, at the configured local time, the cases near or past their deadlines.

Who gets what (centre/alerts/settings.py DigestSettings), by e-mail when SMTP is on:
- each unit with a duty address (`evaluator centre duty set`) its own cases, on the days it has any;
- each district's addresses (district_emails, by the district's name) the cases of the district's units, and
  the city office's addresses (city_emails) every unit's: every day, an empty digest saying so (the office
  then knows the digest works and that nothing is late).
And the webhook (digest.webhook, with a webhook URL): every unit's, every day, as JSON with a short text the
city's messaging robot shows in its group, where the bad reviews' alerts go too.

A case is in it for a deadline still open: the contact (回访) while the citizen has not been reached, the
rectification (整改) while the unit works on it. Past due (the deadline, 24:00 local, has gone by) it is
overdue; due within `near_working_days` working days of the unit's calendar (centre/cases/workdays.py) it is
near.

Once per recipient and local day, whatever restarts: before queuing, the day's digest rows are read back, and a
recipient that already has one (same address, same scope) gets none again. On PostgreSQL the check and the
insert hold a transaction-scoped advisory lock, so two processes cannot both pass the check.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, and_, or_, select, text

from centre.alerts.messages import DigestLine, digest_email, digest_webhook
from centre.alerts.model import AlertKind, Channel
from centre.alerts.queue import duty_addresses
from centre.alerts.settings import AlertSettings
from centre.cases.model import OPEN_STATES, WORKING_STATES, CaseState
from centre.cases.workdays import load_calendar
from centre.db.engine import insert_rows
from centre.db.loop_tables import alert_deliveries, cases
from centre.db.tables import counters, districts, units
from contract import iso_utc

log = logging.getLogger("centre.alerts")

ADVISORY_LOCK = 0x6576616C_64696773 & 0x7FFFFFFFFFFFFFFF   # "evaldigs": the digest's, on PostgreSQL
MAX_LINES = 300   # a digest lists at most this many cases (the most urgent first) and counts the rest
_RECTIFYING = sorted(state.value for state in WORKING_STATES | {CaseState.NEW})
_OPEN = sorted(state.value for state in OPEN_STATES)


def digest_day(now: datetime, settings: AlertSettings) -> date | None:
    """The local day whose digest is due at `now`: today once at_local has passed, else None."""
    local = now.astimezone(ZoneInfo(settings.digest.timezone))
    return local.date() if local.time() >= settings.digest.at_local else None


def queue_digests(engine: Engine, now: datetime, settings: AlertSettings) -> int:
    """Queue the day's digests not queued yet (none before at_local); how many rows were queued."""
    digest = settings.digest
    day = digest_day(now, settings)
    if day is None or not (digest.enabled and (settings.smtp.enabled or _webhook_url(settings))):
        return 0
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK})
        sent = _already(conn, day, digest.timezone)
        lines = due_lines(conn, now, settings)
        rows = [row for row in _digests(conn, lines, day, settings, now) if (row["target"], _scope(row)) not in sent]
        insert_rows(conn, alert_deliveries, rows)
    return len(rows)


def _webhook_url(settings: AlertSettings) -> str | None:
    """Where the city's digest is posted: the webhook's URL, unless digest.webhook is off."""
    return settings.webhook.url if settings.digest.webhook else None


def _scope(row: dict[str, Any]) -> str:
    return str(row["payload"].get("scope", ""))


def _already(conn: Connection, day: date, zone_name: str) -> set[tuple[str, str]]:
    """(address, scope) of the digests queued on local `day`."""
    zone = ZoneInfo(zone_name)
    start = datetime.combine(day, time(0), zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), zone).astimezone(UTC)
    table = alert_deliveries
    found = conn.execute(select(table.c.target, table.c.payload).where(
        table.c.kind == AlertKind.DIGEST.value, table.c.created_at >= iso_utc(start),
        table.c.created_at < iso_utc(end)))
    return {(row.target, str((row.payload or {}).get("scope", ""))) for row in found}


def due_lines(conn: Connection, now: datetime, settings: AlertSettings) -> dict[str, list[DigestLine]]:
    """unit id → its open deadlines near or past at `now`, the most urgent first."""
    calendar = load_calendar(conn)
    zones = [row[0] for row in conn.execute(select(units.c.timezone).distinct())]
    horizons = {zone: calendar.add_working_days(now, settings.digest.near_working_days, zone) for zone in zones}
    if not horizons:
        return {}
    latest = iso_utc(max(horizons.values()))
    contact_open = and_(cases.c.contact_due_at.is_not(None), cases.c.contacted_at.is_(None),
                        cases.c.contact_due_at <= latest)
    rectify_open = and_(cases.c.state.in_(_RECTIFYING), cases.c.rectify_due_at <= latest)
    query = (select(cases.c.id, cases.c.unit_id, cases.c.level, cases.c.state, cases.c.contact_due_at,
                    cases.c.contacted_at, cases.c.rectify_due_at, units.c.name.label("unit_name"),
                    units.c.timezone, counters.c.name.label("counter_name"), cases.c.counter_id)
             .join(units, units.c.id == cases.c.unit_id)
             .outerjoin(counters, and_(counters.c.unit_id == cases.c.unit_id, counters.c.id == cases.c.counter_id))
             .where(cases.c.state.in_(_OPEN), or_(contact_open, rectify_open)))
    found: dict[str, list[DigestLine]] = defaultdict(list)
    for row in conn.execute(query):
        for deadline, due_text, still_open in (
                ("contact", row.contact_due_at, row.contact_due_at is not None and row.contacted_at is None),
                ("rectify", row.rectify_due_at, row.state in _RECTIFYING)):
            due_at = datetime.fromisoformat(due_text) if due_text else None
            if not still_open or due_at is None or due_at > horizons[row.timezone]:
                continue
            found[row.unit_id].append(DigestLine(
                case_id=row.id, unit_name=row.unit_name, counter_name=row.counter_name or row.counter_id,
                level=row.level, deadline=deadline, due_at=due_at, overdue=due_at <= now,
                link=settings.case_link(row.id), timezone=row.timezone))
    for unit_lines in found.values():
        unit_lines.sort(key=lambda line: (line.due_at, line.case_id))
    return dict(found)


def _digests(conn: Connection, lines: dict[str, list[DigestLine]], day: date, settings: AlertSettings,
             now: datetime) -> list[dict[str, Any]]:
    """The rows of every digest due on `day`: the units', the districts' and the city's e-mails, the city's post."""
    created = iso_utc(now)
    every = sorted((line for unit_lines in lines.values() for line in unit_lines),
                   key=lambda line: (line.due_at, line.case_id))
    rows = _emails(conn, lines, every, day, settings, created) if settings.smtp.enabled else []
    url = _webhook_url(settings)
    if url:
        rows.append(_webhook_row(url, digest_webhook(day.isoformat(), every, MAX_LINES), created))
    return rows


def _emails(conn: Connection, lines: dict[str, list[DigestLine]], every: list[DigestLine], day: date,
            settings: AlertSettings, created: str) -> list[dict[str, Any]]:
    """The e-mails of the day: the units', the districts', the city's."""
    digest = settings.digest
    rows: list[dict[str, Any]] = []
    if digest.to_units:
        for unit_id, address in duty_addresses(conn, lines).items():
            name = lines[unit_id][0].unit_name
            rows.append(_row(address, f"unit:{unit_id}", unit_id, lines[unit_id], name, name, day, created))
    if digest.district_emails:
        members = _district_units(conn, list(digest.district_emails))
        for name in sorted(set(digest.district_emails) - set(members)):
            # Its digest would say "nothing late" every day: a misspelt name must not pass for good news.
            log.warning("digest: district %r of alerts.digest.district_emails has no unit in the registry", name)
        for name, addresses in digest.district_emails.items():
            held = sorted((line for unit_id in members.get(name, ()) for line in lines.get(unit_id, ())),
                          key=lambda line: (line.due_at, line.case_id))
            rows += [_row(address, f"district:{name}", None, held, name, f"District {name}", day, created)
                     for address in addresses]
    rows += [_row(address, "city", None, every, "全市", "City", day, created) for address in digest.city_emails]
    return rows


def _district_units(conn: Connection, names: Sequence[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = defaultdict(list)
    for row in conn.execute(select(districts.c.name, units.c.id).join(units, units.c.district_id == districts.c.id)
                            .where(districts.c.name.in_(names))):
        found[row.name].append(row.id)
    return found


def _webhook_row(url: str, payload: dict[str, Any], created: str) -> dict[str, Any]:
    return {"kind": AlertKind.DIGEST.value, "channel": Channel.WEBHOOK.value, "target": url, "case_id": None,
            "unit_id": None, "payload": {**payload, "scope": "city"}, "created_at": created, "attempts": 0,
            "next_attempt_at": created, "delivered_at": None, "gave_up_at": None, "last_error": None}


def _row(address: str, scope: str, unit_id: str | None, lines: Sequence[DigestLine], title_zh: str,
         title_en: str, day: date, created: str) -> dict[str, Any]:
    payload: dict[str, Any] = {**digest_email(title_zh, title_en, day.isoformat(), lines, MAX_LINES),
                               "scope": scope, "day": day.isoformat(), "cases": len(lines)}
    return {"kind": AlertKind.DIGEST.value, "channel": Channel.EMAIL.value, "target": address, "case_id": None,
            "unit_id": unit_id, "payload": payload, "created_at": created, "attempts": 0,
            "next_attempt_at": created, "delivered_at": None, "gave_up_at": None, "last_error": None}
