"""The centre's Prometheus metrics, in one registry of their own, and their exposition at `/metrics`.

Counters and the histogram move where a batch is answered (`centre.api.operations`), from the `Ack` the
ingest returned: ingest itself knows nothing of them. The devices heard in the last hour are read from the
database at each scrape; the connection pool is followed through SQLAlchemy's pool events.

Several worker processes (`uvicorn --workers N`): prometheus_client's multiprocess mode, chosen by the
environment alone. With PROMETHEUS_MULTIPROC_DIR set (before the process starts: prometheus_client reads it
when imported) every process writes its values to files there and a scrape, whichever worker answers it,
sums them all; without it the values live in this process. The directory must exist and be emptied before
the server starts.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from datetime import timedelta
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import Engine, event, func, select
from sqlalchemy.pool import Pool

from centre.db.rows import utcnow
from centre.db.tables import devices
from contract import Ack, iso_utc

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
HEARD_WINDOW = timedelta(hours=1)
OUTCOMES = ("accepted", "refused", "error")   # answered with an Ack, refused with a 4xx, failed with a 5xx

# A rejected row's reason is free text (it names uuids and fields); as a label it is one of these codes, so the
# number of series stays bounded whatever devices send. The first match wins; anything new is "other".
REASON_CODES: tuple[tuple[str, str], ...] = (
    ("malformed:", "malformed"),
    ("conflict: the centre holds this uuid from another device", "foreign_copy"),
    ("conflict:", "conflict"),
    ("device_id names another enrolled device", "names_other_device"),
    ("device_id is not the signing device", "after_own_id"),
    ("was delivered by another device", "foreign_rating"),
)
OTHER_REASON = "other"

REGISTRY = CollectorRegistry()

RATINGS_INGESTED = Counter("evaluator_ratings_ingested", "Ratings stored as new (an Ack's accepted).",
                           registry=REGISTRY)
BATCHES = Counter("evaluator_batches", "Ingest requests by outcome: accepted (answered with an Ack), refused "
                  "(4xx: signature, nonce, envelope), error (5xx).", ["outcome"], registry=REGISTRY)
ROWS_REJECTED = Counter("evaluator_rows_rejected", "Rows of accepted batches the centre rejected, by kind "
                        "(rating, reason, event) and reason code.", ["kind", "reason"], registry=REGISTRY)
BATCH_SECONDS = Histogram("evaluator_batch_seconds", "Time to handle an ingest request, signature check to "
                          "committed Ack (or refusal).", registry=REGISTRY,
                          buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0))
POOL_CHECKED_OUT = Gauge("evaluator_db_pool_checked_out", "Database connections in use (summed over the "
                         "live worker processes).", registry=REGISTRY, multiprocess_mode="livesum")
POOL_SIZE = Gauge("evaluator_db_pool_size", "Connections the pool keeps open (summed over the live worker "
                  "processes; 0 for a pool without a fixed size).", registry=REGISTRY, multiprocess_mode="livesum")

# Admission control of the ingest (centre/api/admission.py): refused and dropped requests were never read, so
# they are not in evaluator_batches.
ADMISSION_REFUSED = Counter("evaluator_admission_refused", "Ingest requests answered 503 with Retry-After before "
                            "their body was read: the line was too long on arrival (full) or no place came in time "
                            "(timeout).", ["reason"], registry=REGISTRY)
ADMISSION_DROPPED = Counter("evaluator_admission_dropped", "Ingest requests whose client had gone when their turn "
                            "came: dropped unprocessed.", registry=REGISTRY)
ADMISSION_IN_FLIGHT = Gauge("evaluator_admission_in_flight", "Ingest requests holding a place (summed over the live "
                            "worker processes).", registry=REGISTRY, multiprocess_mode="livesum")
ADMISSION_WAITING = Gauge("evaluator_admission_waiting", "Ingest requests waiting in line for a place (summed over "
                          "the live worker processes).", registry=REGISTRY, multiprocess_mode="livesum")

# The alerts' outbox (centre/alerts/delivery.py), counted where the housekeeping delivers: in the process that
# runs `serve` (with --workers N, the parent, whose files join the workers' in the multiprocess folder).
ALERT_CHANNELS = ("email", "webhook")
ALERTS_DELIVERED = Counter("evaluator_alerts_delivered", "Alerts delivered, by channel (email, webhook) and kind "
                           "(bad_review, complaint, callback, digest).", ["channel", "kind"], registry=REGISTRY)
ALERTS_FAILED = Counter("evaluator_alerts_failed", "Alert delivery attempts that failed (each retry counts), by "
                        "channel.", ["channel"], registry=REGISTRY)
ALERTS_GAVE_UP = Counter("evaluator_alerts_gave_up", "Alerts given up after their last attempt failed, by channel.",
                         ["channel"], registry=REGISTRY)

for _outcome in OUTCOMES:     # every outcome shows from the first scrape, at 0, so rate() has a start
    BATCHES.labels(outcome=_outcome)
for _reason in ("full", "timeout"):
    ADMISSION_REFUSED.labels(reason=_reason)
for _channel in ALERT_CHANNELS:
    ALERTS_FAILED.labels(channel=_channel)
    ALERTS_GAVE_UP.labels(channel=_channel)


def reason_code(reason: str) -> str:
    for text, code in REASON_CODES:
        if text in reason:
            return code
    return OTHER_REASON


def row_kind(row_id: str) -> str:
    """Which kind of row a `Rejected.id` names: reasons and events are `reason:<id>`/`event:<id>`."""
    kind = row_id.partition(":")[0]
    return kind if kind in ("reason", "event") else "rating"


def record_batch(ack: Ack, seconds: float) -> None:
    BATCHES.labels(outcome="accepted").inc()
    BATCH_SECONDS.observe(seconds)
    if ack.accepted:
        RATINGS_INGESTED.inc(len(ack.accepted))
    for rejected in ack.rejected:
        ROWS_REJECTED.labels(kind=row_kind(rejected.id), reason=reason_code(rejected.reason)).inc()


def record_failure(outcome: str, seconds: float) -> None:
    BATCHES.labels(outcome=outcome).inc()
    BATCH_SECONDS.observe(seconds)


def record_alert(channel: str, kind: str, outcome: str) -> None:
    """One delivery attempt's outcome: delivered, failed (to be retried) or gave_up (its last attempt failed)."""
    if outcome == "delivered":
        ALERTS_DELIVERED.labels(channel=channel, kind=kind).inc()
        return
    ALERTS_FAILED.labels(channel=channel).inc()
    if outcome == "gave_up":
        ALERTS_GAVE_UP.labels(channel=channel).inc()


def watch_pool(engine: Engine) -> None:
    """Follow `engine`'s pool: its size now, and each connection taken out and given back."""
    pool: Pool = engine.pool
    size = getattr(pool, "size", None)
    POOL_SIZE.inc(size() if callable(size) else 0)

    @event.listens_for(pool, "checkout")
    def _out(*_args: Any) -> None:
        POOL_CHECKED_OUT.inc()

    @event.listens_for(pool, "checkin")
    def _in(*_args: Any) -> None:
        POOL_CHECKED_OUT.dec()


def multiprocess() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


class DevicesHeard(Collector):
    """Devices whose last heartbeat (`devices.last_seen`) is within the hour: read at each scrape, so every
    worker answers the same. A device sends one after every drain of its queue (every 60 s at least)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        since = iso_utc(utcnow() - HEARD_WINDOW)
        with self.engine.connect() as conn:
            heard = conn.execute(select(func.count()).select_from(devices)
                                 .where(devices.c.last_seen >= since, devices.c.revoked_at.is_(None))).scalar_one()
        yield GaugeMetricFamily("evaluator_devices_heard_last_hour",
                                "Enrolled devices, not revoked, that sent a heartbeat in the last hour.", value=heard)


class _Scrape(Collector):
    def __init__(self, sources: Iterable[Collector]) -> None:
        self.sources = tuple(sources)

    def collect(self) -> Iterator[Metric]:
        for source in self.sources:
            yield from source.collect()


def exposition(engine: Engine) -> tuple[bytes, str]:
    """The text a scrape gets and its content type: this process's metrics, or every worker's."""
    if multiprocess():
        workers = CollectorRegistry()
        MultiProcessCollector(workers)   # type: ignore[no-untyped-call]   # registers itself in `workers`
        base: Collector = workers
    else:
        base = REGISTRY
    return generate_latest(_Scrape((base, DevicesHeard(engine)))), CONTENT_TYPE_LATEST
