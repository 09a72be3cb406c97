"""What an operator asks of a running centre: `/healthz` (the database answers?) and `/metrics`
(Prometheus), and the metrics and log line of each ingest request (`watched_batch`)."""
from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from fastapi import FastAPI, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from centre.db.rows import now_text
from centre.errors import CentreError
from centre.observability import metrics
from contract import Ack

HEALTH_TIMEOUT_S = 3.0   # well under a load balancer's usual 5–10 s probe timeout
MAX_REASON = 200

log = logging.getLogger("centre.ingest")


class Health(BaseModel):
    status: str      # "ok" or "unavailable"
    database: str    # "ok", or why the database did not answer
    server_time: str | None = None


def install(app: FastAPI, engine: Engine, *, with_metrics: bool = True) -> None:
    """Add `/healthz` and, unless turned off (`serve --no-metrics`), `/metrics` with its pool gauges."""
    @app.get("/healthz", response_model=Health, responses={503: {"model": Health}})
    async def healthz() -> JSONResponse:
        problem = await database_problem(engine)
        if problem:
            return JSONResponse(Health(status="unavailable", database=problem).model_dump(exclude_none=True),
                                status_code=503)
        return JSONResponse(Health(status="ok", database="ok", server_time=now_text()).model_dump())

    if not with_metrics:
        return
    metrics.watch_pool(engine)

    @app.get("/metrics", include_in_schema=False)
    def scrape() -> Response:
        body, content_type = metrics.exposition(engine)
        return Response(body, media_type=content_type)


def _select_one(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1")).scalar_one()


async def database_problem(engine: Engine, timeout: float = HEALTH_TIMEOUT_S) -> str | None:
    """None when `SELECT 1` answers within `timeout` seconds, else why not (one line, no password)."""
    try:
        await asyncio.wait_for(run_in_threadpool(_select_one, engine), timeout)
    except TimeoutError:
        # The worker thread may still wait (on a connection, a lock): it ends on its own, the answer does not wait.
        return f"no answer within {timeout:g} s"
    except SQLAlchemyError as exc:
        cause = getattr(exc, "orig", None) or exc
        first = (str(cause).strip().splitlines() or [""])[0]
        return f"{type(cause).__name__}: {first}"[:MAX_REASON]
    return None


@dataclass
class BatchWatch:
    device_id: str | None     # the header's claim until the signature is checked
    ack: Ack | None = None

    def answered(self, ack: Ack) -> Ack:
        self.ack = ack
        return ack


@contextmanager
def watched_batch(claimed_device: str | None) -> Iterator[BatchWatch]:
    """Time an ingest request; count and log its Ack or its refusal (the exception goes on unchanged)."""
    watch = BatchWatch(claimed_device)
    start = time.monotonic()
    try:
        yield watch
    except Exception as exc:
        _failed(watch, exc, time.monotonic() - start)
        raise
    seconds = time.monotonic() - start
    if watch.ack is not None:
        metrics.record_batch(watch.ack, seconds)
        _log_ack(watch.device_id, watch.ack, seconds)


def _failed(watch: BatchWatch, exc: Exception, seconds: float) -> None:
    if isinstance(exc, CentreError):
        status, detail = exc.status, exc.message
    elif isinstance(exc, StarletteHTTPException):
        status, detail = exc.status_code, str(exc.detail)
    else:
        status, detail = 500, type(exc).__name__
    outcome = "refused" if status < 500 else "error"
    metrics.record_failure(outcome, seconds)
    log.log(logging.WARNING if outcome == "refused" else logging.ERROR,
            "ingest from %s %s (%d): %s", watch.device_id, outcome, status, detail,
            extra={"device_id": watch.device_id, "outcome": outcome, "status": status, "detail": detail,
                   "latency_ms": round(seconds * 1000, 1)})


def _log_ack(device_id: str | None, ack: Ack, seconds: float) -> None:
    kinds = Counter(metrics.row_kind(row.id) for row in ack.rejected)
    reasons = Counter(metrics.reason_code(row.reason) for row in ack.rejected)
    ratings = len(ack.accepted) + len(ack.duplicate) + kinds["rating"]
    latency_ms = round(seconds * 1000, 1)
    log.info("ingest from %s: %d rating(s), %d accepted, %d duplicate, %d row(s) rejected in %.1f ms",
             device_id, ratings, len(ack.accepted), len(ack.duplicate), len(ack.rejected), latency_ms,
             extra={"device_id": device_id, "outcome": "accepted", "ratings": ratings,
                    "accepted": len(ack.accepted), "duplicate": len(ack.duplicate),
                    "rejected": len(ack.rejected), "rejected_reasons": dict(reasons),
                    "reasons": len(ack.reasons) + kinds["reason"], "events": len(ack.events) + kinds["event"],
                    "latency_ms": latency_ms})
