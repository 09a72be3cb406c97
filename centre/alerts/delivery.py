"""Delivering the outbox: the rows due, sent one by one, each outcome recorded on its row.

A pass (`deliver_due`) claims the due rows of one channel (next_attempt_at ≤ now): on PostgreSQL with
SELECT … FOR UPDATE SKIP LOCKED, so two processes never claim one row; on SQLite one process serves anyway.
Claiming moves next_attempt_at a lease ahead and commits, so no transaction stays open while a mail server
or a webhook answers (or does not); a process that dies mid-pass leaves its rows due again when the lease
ends (an alert may then arrive twice, never not at all: its Message-ID / X-Evaluator-Delivery tell).

Each row is sent and recorded on its own: delivered_at, or attempts + 1, last_error (words, no secret) and
next_attempt_at after an exponential backoff with jitter, or gave_up_at once max_attempts are spent. When the
server itself fails (no connection, TLS, login, a 5xx: `SendFailed.whole_target`), the pass's other rows for
that server fail alike without being tried, so a dead mail server costs one timeout a pass, not one a row.
The housekeeping runs a pass per channel on its own thread: a dead mail server never holds the webhook.
"""
from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select, update

from centre.alerts import email, webhook
from centre.alerts.errors import SendFailed
from centre.alerts.model import Channel
from centre.alerts.settings import AlertSettings, RetrySettings
from centre.db.loop_tables import alert_deliveries
from contract import iso_utc

log = logging.getLogger("centre.alerts")

LEASE = timedelta(minutes=5)   # a claimed row is another process's again after this, if never recorded
PASS_ROWS = 50                 # rows claimed by one pass; the next pass, a second later, takes the rest


@dataclass(frozen=True)
class Due:
    id: int
    kind: str
    channel: Channel
    target: str
    payload: dict[str, Any]
    attempts: int


@dataclass(frozen=True)
class PassOutcome:
    delivered: int = 0
    failed: int = 0
    gave_up: int = 0

    def __add__(self, other: PassOutcome) -> PassOutcome:
        return PassOutcome(self.delivered + other.delivered, self.failed + other.failed,
                           self.gave_up + other.gave_up)


def enabled_channels(settings: AlertSettings) -> tuple[Channel, ...]:
    return tuple(channel for channel, on in ((Channel.EMAIL, settings.smtp.enabled),
                                             (Channel.WEBHOOK, settings.webhook.enabled)) if on)


def deliver_due(engine: Engine, now: datetime, settings: AlertSettings,
                channels: Iterable[Channel] | None = None) -> PassOutcome:
    """Send what is due at `now` on `channels` (those configured unless given); what happened, in counts."""
    outcome = PassOutcome()
    for channel in enabled_channels(settings) if channels is None else channels:
        outcome += _deliver(engine, claim(engine, channel, now), now, settings)
    return outcome


def claim(engine: Engine, channel: Channel, now: datetime, limit: int = PASS_ROWS) -> list[Due]:
    """The rows of `channel` due at `now`, oldest first, leased to this pass."""
    table = alert_deliveries
    query = (select(table.c.id, table.c.kind, table.c.target, table.c.payload, table.c.attempts)
             .where(table.c.next_attempt_at <= iso_utc(now), table.c.channel == channel.value)
             .order_by(table.c.next_attempt_at, table.c.id).limit(limit))
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = conn.execute(query).all()
        if rows:
            conn.execute(update(table).where(table.c.id.in_([row.id for row in rows]))
                         .values(next_attempt_at=iso_utc(now + LEASE)))
    return [Due(row.id, row.kind, channel, row.target, row.payload, row.attempts) for row in rows]


def _deliver(engine: Engine, rows: list[Due], now: datetime, settings: AlertSettings) -> PassOutcome:
    outcome = PassOutcome()
    down: dict[str, SendFailed] = {}   # server key → how it failed in this pass
    for row in rows:
        key = _server(row)
        failure = down.get(key)
        if failure is None:
            failure = _attempt(row, now, settings)
            if failure is not None and failure.whole_target:
                down[key] = failure
        if failure is None:
            _delivered(engine, row, now)
            outcome += PassOutcome(delivered=1)
        else:
            gave_up = _failed(engine, row, now, settings.retry, failure.message)
            outcome += PassOutcome(failed=1, gave_up=int(gave_up))
    return outcome


def _server(row: Due) -> str:
    """Rows that go through one server: every e-mail (one SMTP server), each webhook URL."""
    return row.channel.value if row.channel is Channel.EMAIL else f"{row.channel.value} {row.target}"


def _attempt(row: Due, now: datetime, settings: AlertSettings) -> SendFailed | None:
    """Send one row: None once it is delivered, else why not. Never raises: one row never stops the rest."""
    try:
        if row.channel is Channel.EMAIL:
            email.send(settings.smtp, row.target, row.payload["subject"], row.payload["text"], row.id)
        else:
            webhook.post(settings.webhook, row.target, row.payload, now, row.id)
    except SendFailed as exc:
        return exc
    except Exception as exc:   # a fault of ours (a bad payload): recorded on the row, logged with its trace
        log.exception("alert %s (%s): could not be sent", row.id, row.channel.value)
        return SendFailed(f"{type(exc).__name__}: {exc}", whole_target=False)
    return None


def _delivered(engine: Engine, row: Due, now: datetime) -> None:
    with engine.begin() as conn:
        conn.execute(update(alert_deliveries).where(alert_deliveries.c.id == row.id).values(
            attempts=row.attempts + 1, delivered_at=iso_utc(now), next_attempt_at=None, last_error=None))
    _count(row, "delivered")


def _failed(engine: Engine, row: Due, now: datetime, retry: RetrySettings, error: str) -> bool:
    """Record a failed attempt; True when it was the last one allowed."""
    attempts = row.attempts + 1
    last = attempts >= retry.max_attempts
    values: dict[str, Any] = {"attempts": attempts, "last_error": error}
    if last:
        values.update(next_attempt_at=None, gave_up_at=iso_utc(now))
    else:
        values["next_attempt_at"] = iso_utc(now + timedelta(seconds=backoff_s(retry, attempts)))
    with engine.begin() as conn:
        conn.execute(update(alert_deliveries).where(alert_deliveries.c.id == row.id).values(**values))
    _count(row, "gave_up" if last else "failed")
    if last:
        log.warning("alert %s (%s to %s) gave up after %d attempts: %s", row.id, row.channel.value,
                    shown_target(row.channel, row.target), attempts, error)
    return last


def backoff_s(retry: RetrySettings, attempts: int, rand: Callable[[], float] = random.random) -> float:
    """The wait after the `attempts`-th failure: first_backoff_s, doubling, at most max_backoff_s, ± jitter."""
    base = min(retry.max_backoff_s, retry.first_backoff_s * 2.0 ** min(attempts - 1, 60))
    return base * (1 + retry.jitter_fraction * (2 * rand() - 1))


def shown_target(channel: Channel | str, target: str) -> str:
    """A target as logs and the console show it: a webhook URL without its query (a robot's key)."""
    return webhook.shown(target) if Channel(channel) is Channel.WEBHOOK else target


def _count(row: Due, outcome: str) -> None:
    # Imported here, not at the top: prometheus_client settles its multiprocess mode when first imported, and
    # `serve --workers N` starts the housekeeping only once the metrics' folder is set (centre/serving.py).
    from centre.observability import metrics

    metrics.record_alert(row.channel.value, row.kind, outcome)
