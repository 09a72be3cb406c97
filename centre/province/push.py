"""The push worker: new records made, the due ones uploaded in signed batches, each record's answer kept.

A cycle (`cycle`) first makes the records of the ratings settled by now (records.make_records), then, batch by
batch, claims the due pending records (next_attempt_at null or past), uploads them and stores what came back:

- Claiming leases the records: next_attempt_at moves past the request's longest possible wait and attempts
  goes up, in one short transaction (PostgreSQL: SELECT … FOR UPDATE SKIP LOCKED, so two pushers never take
  one record; SQLite: BEGIN IMMEDIATE, its single writer's lock). No transaction stays open while the province
  answers. A pusher that dies mid-request leaves its records due again when the lease ends.
- An answered record ends: accepted (the province holds it: never sent again) or refused (its reason kept,
  never sent again). A record answered "retry" stays pending with a backoff.
- A request that fails (no connection, a timeout, a 4xx/5xx, an answer that cannot be read) leaves its records
  pending, due after a backoff: a random wait up to base × 2^(attempts-1), at most the cap ("full jitter", so
  many centres behind one outage do not come back at once). The cycle then stops: a province that is down
  costs one timeout a cycle, not one per batch.
- A record that has failed `max_attempts` times stays pending but is no longer claimed: it waits for the
  operator (`province push --retry-held`), and the console lists it. Nothing is ever dropped.

A lost answer (the province stored the batch but the answer never came) is a failed request: the same record
ids go again, and the province answers a record id it holds as accepted (UploadSpec.duplicate_code), so each
record is held there exactly once (docs/province-report.md, "Upload").

Each request is a row of province_pushes, answered or failed, with its counts and error.
"""
from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

import requests
from sqlalchemy import Engine, and_, or_, select, update

from centre.db.province_tables import province_pushes, province_records
from centre.db.rows import utcnow
from centre.province import records as made
from centre.province.mapping import Mapping
from centre.province.records import RecordState
from centre.province.settings import ProvinceSettings
from centre.province.signing import Signer, sign_request
from centre.province.upload import MalformedAnswer, Result, ResultKind, read_answer, request_body
from contract import iso_utc

log = logging.getLogger("centre.province")

LEASE_MARGIN_S = 60.0   # beyond the request's own timeouts: a claimed record is nobody else's for this long
ERROR_CHARS = 500       # a failure's words kept on its push row


class PushOutcome(StrEnum):
    """province_pushes.outcome."""

    ANSWERED = "answered"
    FAILED = "failed"


@dataclass(frozen=True)
class PushJob:
    """What a pusher works with: the settings, the mapping, the signing key, the HTTP session."""

    settings: ProvinceSettings
    mapping: Mapping
    signer: Signer
    session: requests.Session = field(default_factory=requests.Session)
    retry_held: bool = False   # also claim records that reached max_attempts (the operator said so)
    clock: Callable[[], datetime] = utcnow


@dataclass
class Summary:
    """What one or more cycles did, in records (failed: records of failed requests)."""

    made: int = 0
    sent: int = 0
    accepted: int = 0
    refused: int = 0
    retry: int = 0
    failed: int = 0
    requests: int = 0
    failed_requests: int = 0

    def add(self, other: Summary) -> None:
        for name in vars(self):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def words(self) -> str:
        return (f"{self.made} made, {self.sent} sent in {self.requests} request(s): {self.accepted} accepted, "
                f"{self.refused} refused, {self.retry} to retry, {self.failed} failed "
                f"({self.failed_requests} failed request(s))")


@dataclass(frozen=True)
class Claimed:
    record_id: str
    attempts: int          # including this one
    fields: dict[str, Any]


@dataclass(frozen=True)
class Sent:
    """How one request went: its answer's results, or why it failed."""

    http_status: int | None
    results: dict[str, Result] | None
    error: str | None
    duration_ms: int


def backoff_s(settings: ProvinceSettings, attempts: int, rand: Callable[[], float] = random.random) -> float:
    """The wait after the `attempts`-th failed upload of a record: full jitter below the capped doubling."""
    ceiling = min(settings.backoff_cap_s, settings.backoff_base_s * 2.0 ** min(attempts - 1, 60))
    return ceiling * rand()


def lease_s(settings: ProvinceSettings) -> float:
    return settings.connect_timeout_s + settings.read_timeout_s + LEASE_MARGIN_S


def _due(now: datetime, settings: ProvinceSettings, retry_held: bool) -> Any:
    table = province_records.c
    due = and_(table.state == RecordState.PENDING.value,
               or_(table.next_attempt_at.is_(None), table.next_attempt_at <= iso_utc(now)))
    return due if retry_held else and_(due, table.attempts < settings.max_attempts)


def claim(engine: Engine, job: PushJob, now: datetime, limit: int) -> list[Claimed]:
    """Up to `limit` due pending records, oldest first, leased to this pusher (attempts counted)."""
    table = province_records
    query = (select(table.c.record_id, table.c.attempts, table.c.fields)
             .where(_due(now, job.settings, job.retry_held))
             .order_by(table.c.evaluated_at, table.c.record_id).limit(limit))
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")   # the write lock before reading: one claimer at a time
        elif conn.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = conn.execute(query).all()
        if rows:
            conn.execute(update(table).where(table.c.record_id.in_([row.record_id for row in rows]))
                         .values(attempts=table.c.attempts + 1, last_attempt_at=iso_utc(now),
                                 next_attempt_at=iso_utc(now + timedelta(seconds=lease_s(job.settings)))))
        conn.commit()
    return [Claimed(row.record_id, row.attempts + 1, row.fields) for row in rows]


def send(job: PushJob, batch: list[Claimed], now: datetime) -> Sent:
    """Upload one batch, signed; never raises for what the network or the province does."""
    spec, settings = job.mapping.upload, job.settings
    url = settings.endpoint_url
    if url is None:
        raise ValueError("no endpoint_url")   # ProvinceSettings refuses enabled without one; a caller's fault
    body = request_body(spec, str(uuid.uuid4()), [record.fields for record in batch])
    headers = {"Content-Type": "application/json; charset=utf-8",
               **sign_request(spec, job.signer, settings.key_id, urlsplit(url).path or "/", body, now)}
    started = time.monotonic()

    def took() -> int:
        return round((time.monotonic() - started) * 1000)

    try:
        answer = job.session.post(url, data=body, headers=headers,
                                  timeout=(settings.connect_timeout_s, settings.read_timeout_s))
    except requests.Timeout as exc:
        return Sent(None, None, f"no answer within the timeout ({type(exc).__name__})", took())
    except requests.RequestException as exc:
        return Sent(None, None, f"{type(exc).__name__}: {exc}"[:ERROR_CHARS], took())
    if answer.status_code != 200:
        return Sent(answer.status_code, None, f"HTTP {answer.status_code}: {answer.text[:300]}", took())
    try:
        return Sent(200, read_answer(spec, answer.content), None, took())
    except MalformedAnswer as exc:
        return Sent(200, None, f"malformed answer: {exc}"[:ERROR_CHARS], took())


def _keep_answer(engine: Engine, job: PushJob, batch: list[Claimed], sent: Sent, now: datetime) -> Summary:
    """Store each record's answer (or its backoff) and the push row, in one transaction."""
    table = province_records
    done = Summary(sent=len(batch), requests=1)
    results = sent.results or {}
    with engine.begin() as conn:
        for record in batch:
            result = results.get(record.record_id)
            pending = and_(table.c.record_id == record.record_id, table.c.state == RecordState.PENDING.value)
            if result is None or result.kind is ResultKind.RETRY:
                wait = timedelta(seconds=backoff_s(job.settings, record.attempts))
                values: dict[str, Any] = {"next_attempt_at": iso_utc(now + wait)}
                if result is not None:
                    values.update(answer_code=result.code, answer_text=result.message, answer=result.raw)
                    done.retry += 1
                else:
                    done.failed += 1
                conn.execute(update(table).where(pending).values(**values))
                continue
            state = RecordState.ACCEPTED if result.kind is ResultKind.ACCEPTED else RecordState.REFUSED
            conn.execute(update(table).where(pending).values(
                state=state.value, next_attempt_at=None, answered_at=iso_utc(now), answer_code=result.code,
                answer_text=result.message, answer=result.raw))
            if state is RecordState.ACCEPTED:
                done.accepted += 1
            else:
                done.refused += 1
        failed = sent.results is None
        done.failed_requests = int(failed)
        conn.execute(province_pushes.insert().values(
            started_at=iso_utc(now), records=len(batch), http_status=sent.http_status,
            outcome=(PushOutcome.FAILED if failed else PushOutcome.ANSWERED).value, accepted=done.accepted,
            refused=done.refused, error=sent.error, duration_ms=sent.duration_ms))
    return done


def push_batch(engine: Engine, job: PushJob) -> Summary | None:
    """Claim, send and keep one batch; None when nothing was due."""
    now = job.clock()
    batch = claim(engine, job, now, job.settings.batch_size)
    if not batch:
        return None
    sent = send(job, batch, now)
    done = _keep_answer(engine, job, batch, sent, job.clock())
    if sent.results is None:
        log.warning("province: %d record(s) not delivered: %s", len(batch), sent.error)
        held = sum(1 for record in batch if record.attempts >= job.settings.max_attempts)
        if held:
            log.warning("province: %d record(s) failed %d uploads: they wait for the operator (`province push "
                        "--retry-held`)", held, job.settings.max_attempts)
    else:
        log.info("province: %d record(s) sent: %d accepted, %d refused, %d to retry, %d unanswered",
                 len(batch), done.accepted, done.refused, done.retry, done.failed)
    return done


def make_new(engine: Engine, job: PushJob) -> int:
    """Records for the ratings settled by now (received `settle_s` ago: their reasons are in)."""
    now = job.clock()
    count = made.make_records(engine, job.mapping, now, settled_before=now - timedelta(seconds=job.settings.settle_s))
    if count.total:
        log.info("province: %d new record(s): %d pending, %d invalid, %d skipped", count.total, count.pending,
                 count.invalid, count.skipped)
    return count.total


def cycle(engine: Engine, job: PushJob, stop: threading.Event | None = None) -> Summary:
    """Make the new records, then send batches until nothing is due, a request fails, or `stop` is set."""
    summary = Summary(made=make_new(engine, job))
    while stop is None or not stop.is_set():
        done = push_batch(engine, job)
        if done is None:
            break
        summary.add(done)
        if done.failed_requests:
            break
    return summary


def run(engine: Engine, job: PushJob, stop: threading.Event) -> Summary:
    """Cycles until `stop` is set (checked between batches), idle_s apart."""
    total = Summary()
    while not stop.is_set():
        total.add(cycle(engine, job, stop))
        stop.wait(job.settings.idle_s)
    return total
