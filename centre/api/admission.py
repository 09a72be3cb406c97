"""Admission control of the ingest route: how many batches one worker process works on at once, how long a batch
may wait for its turn, and a 503 with `Retry-After` for the others, decided before a byte of the body is read.

Where requests queued without it (measured on 2 cores against a local PostgreSQL, `bench/centre_load.py` for the
city's figures): uvicorn accepts every connection at once, the async dependency reads every body, and the sync
handler then waits for one of anyio's 40 threads (and, behind them, the pool's 15 connections). A worker's
throughput is flat from 2 batches in flight to 64 (75–85 batches of 50 ratings a second, 22–25 of 500); only the
latency grows (p50 13 ms alone, 170 ms at 16, 710 ms at 64). So 3,000 batches at once waited in the thread pool's
queue past the terminals' 30 s read timeout, were processed for nobody and came again (the retry storm), and
/healthz waited in the same queue.

With it the queue is here, in front of everything, and short:
- at most `max_inflight` batches per worker go on (body, signature, inflation, store): 4 by default, twice
  what kept a worker busy in the measurement, so a worker whose database is further away still overlaps its
  round trips;
- a batch that finds every place taken waits in line for at most `max_wait_s` (1 s, a thirtieth of the
  terminal's read timeout), and one whose expected wait (the line ahead ÷ the measured rate) is already longer
  is refused on arrival;
- a refusal is a 503 whose `Retry-After` books the batch's return on a calendar: one slot of 1/rate seconds
  after the returns already booked, so the refused come back no faster than this worker serves them, rounded
  to whole seconds at random (up with the probability of the fraction: spread, and right on average);
- a batch whose client went away while it waited is dropped when its turn comes, unprocessed.
The rate is places ÷ the time a batch holds one (a moving average quick to believe faster batches and slow to
believe slower ones), and before the first batch an optimistic 200 batches/s: returns booked too early cost a
second refusal (cheap: the body is never read), returns booked too late an idle centre.

Only the ingest is admitted. Health, metrics, enrollment, heartbeats, config pulls, call-backs and the reads
are small, and a terminal sends its config pull and heartbeat only after a drain got through; with batches
holding at most `max_inflight` of the 40 threads and of the 15 connections, they always find both.
"""
from __future__ import annotations

import argparse
import asyncio
import enum
import logging
import math
import random
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio
from starlette.responses import JSONResponse

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

DEFAULT_MAX_INFLIGHT = 4        # batches per worker process
MAX_INFLIGHT = 12               # the pool's 15 connections less three for the routes that are not admitted
DEFAULT_MAX_WAIT_S = 1.0        # seconds
MAX_WAIT_S = 10.0               # a third of the terminal's 30 s read timeout: an admitted batch is answered in time
PRIOR_RATE = 200.0              # batches per second per worker before any was measured (optimistic, see above)
# The moving average of the time a place is held believes a faster batch quickly and a slower one slowly: in a
# burst's first seconds the event loop, flooded with connections, makes every batch slow; believing that (as
# measured: 10 batches/s where the worker then served 22) booked the returns too far apart and left the centre
# idle for seconds (bench/centre_load.py, burst). A centre truly slower is mostly learnt within a hundred batches.
HOLD_FASTER = 0.3
HOLD_SLOWER = 0.02
MIN_RETRY_AFTER_S = 1           # Retry-After is whole seconds
MAX_RETRY_AFTER_S = 3600
LOG_EVERY_S = 10.0
ADMITTED = frozenset({("POST", "/v1/ingest")})
ENV_MAX_INFLIGHT = "EVALUATOR_CENTRE_MAX_INFLIGHT_BATCHES"
ENV_MAX_WAIT = "EVALUATOR_CENTRE_MAX_BATCH_WAIT_S"            # seconds

# The 503 as /openapi.json describes it for the admitted route.
BUSY_RESPONSE: dict[int | str, dict[str, Any]] = {503: {
    "description": "Busy: refused before the body was read; send the same batch again after Retry-After",
    "headers": {"Retry-After": {"description": "seconds", "schema": {"type": "integer", "minimum": 1}}},
    "content": {"application/json": {"schema": {"type": "object", "required": ["detail"],
                                                "properties": {"detail": {"type": "string"}}}}}}}

log = logging.getLogger("centre.admission")


@dataclass(frozen=True)
class AdmissionLimits:
    """`evaluator centre serve --max-inflight-batches N --max-batch-wait-s S`."""

    max_inflight: int = DEFAULT_MAX_INFLIGHT   # batches worked on at once per worker process; 0: no admission control
    max_wait_s: float = DEFAULT_MAX_WAIT_S     # seconds a batch may wait for a place before its 503

    def to_env(self) -> dict[str, str]:
        return {ENV_MAX_INFLIGHT: str(self.max_inflight), ENV_MAX_WAIT: repr(self.max_wait_s)}

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> AdmissionLimits:
        return cls(int(env.get(ENV_MAX_INFLIGHT, DEFAULT_MAX_INFLIGHT)),
                   float(env.get(ENV_MAX_WAIT, DEFAULT_MAX_WAIT_S)))


DEFAULT_ADMISSION = AdmissionLimits()


def add_options(serve: argparse.ArgumentParser) -> None:
    """`serve`'s two options (kept here, beside what they set)."""
    serve.add_argument("--max-inflight-batches", type=_inflight, default=DEFAULT_MAX_INFLIGHT, metavar="N",
                       help="ingest requests each worker process works on at once; others wait in line or get 503 "
                            f"with Retry-After (default: %(default)s; 0–{MAX_INFLIGHT}, 0: no limit)")
    serve.add_argument("--max-batch-wait-s", type=_wait, default=DEFAULT_MAX_WAIT_S, metavar="SECONDS",
                       help="how long an ingest request may wait in line before its 503, its body unread "
                            f"(default: %(default)s s; at most {MAX_WAIT_S:g})")


def limits_from(args: argparse.Namespace) -> AdmissionLimits:
    return AdmissionLimits(args.max_inflight_batches, args.max_batch_wait_s)


def _inflight(text: str) -> int:
    if not (text.isdigit() and int(text) <= MAX_INFLIGHT):
        raise argparse.ArgumentTypeError(f"must be a whole number 0–{MAX_INFLIGHT}, got {text!r}")
    return int(text)


def _wait(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not 0 < seconds <= MAX_WAIT_S:
        raise argparse.ArgumentTypeError(f"must be a number of seconds in (0, {MAX_WAIT_S:g}], got {text!r}")
    return seconds


class Turn(enum.Enum):
    AT_ONCE = "at_once"     # a place was free
    WAITED = "waited"       # a place came within max_wait_s
    FULL = "full"           # refused on arrival: the expected wait was longer than max_wait_s
    TIMEOUT = "timeout"     # refused: no place came within max_wait_s


REFUSED = (Turn.FULL, Turn.TIMEOUT)


class Gate:
    """One worker process's places, its line (first come, first served) and its calendar of returns. Used on the
    event loop only, so plain counters need no lock."""

    def __init__(self, limits: AdmissionLimits, rng: random.Random | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self.rng = rng or random.Random()
        self.clock = clock
        self.inflight = 0
        self.waiting: deque[asyncio.Future[None]] = deque()
        self.hold_s = limits.max_inflight / PRIOR_RATE    # the moving average of a place's holding time
        self.booked_until = 0.0                          # clock time of the last return booked

    @property
    def rate(self) -> float:
        """Batches a second this process finishes while every place is taken."""
        return self.limits.max_inflight / self.hold_s

    async def enter(self) -> Turn:
        if self.inflight < self.limits.max_inflight and not self.waiting:
            self.inflight += 1
            return Turn.AT_ONCE
        if (len(self.waiting) + 1) / self.rate > self.limits.max_wait_s:
            return Turn.FULL
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiting.append(turn)
        try:
            async with asyncio.timeout(self.limits.max_wait_s):
                await turn
        except TimeoutError:
            # A place handed over just as the time ran out is taken, not lost.
            return Turn.WAITED if _handed(turn) else Turn.TIMEOUT
        except asyncio.CancelledError:      # the server is stopping: a place handed over passes on
            if _handed(turn):
                self._pass_on()
            raise
        finally:
            if turn in self.waiting:
                self.waiting.remove(turn)
        return Turn.WAITED

    def leave(self, held_s: float | None) -> None:
        """A batch is done with its place (`held_s`: how long it held it; None: it did no work)."""
        if held_s is not None:
            self.hold_s += (HOLD_FASTER if held_s < self.hold_s else HOLD_SLOWER) * (held_s - self.hold_s)
        self._pass_on()

    def _pass_on(self) -> None:
        while self.waiting:
            turn = self.waiting.popleft()
            if not turn.done():
                turn.set_result(None)   # the place goes straight to the next in line: as many in flight
                return
        self.inflight -= 1

    def retry_after_s(self) -> int:
        """Book a refused batch's return and say in how many seconds: one slot of 1/rate after the last return
        booked (and not within the first second, which Retry-After cannot say), so returns come no faster than
        this process serves them. The line now waiting is not counted: it is served or refused within
        max_wait_s, and when it times out together (a burst's first second) the rest of it is being refused too:
        counting it booked the first returns seconds late and left the centre idle."""
        now, slot = self.clock(), 1.0 / self.rate
        start = max(self.booked_until, now + MIN_RETRY_AFTER_S)
        self.booked_until = start + slot
        delay = start - now
        whole = math.floor(delay)
        seconds = whole + (1 if self.rng.random() < delay - whole else 0)   # at random, right on average
        return min(MAX_RETRY_AFTER_S, max(MIN_RETRY_AFTER_S, seconds))


def _handed(turn: asyncio.Future[None]) -> bool:
    return turn.done() and not turn.cancelled()


async def _still_there(receive: Receive) -> tuple[bool, Receive]:
    """Whether the client is still connected after its wait, and the receive to hand on. The look takes the
    first body message if one is there already (as Starlette's `is_disconnected` does); it is handed on first."""
    message: Message | None = None
    with anyio.CancelScope() as scope:
        scope.cancel()                  # look, do not wait
        message = await receive()
    if message is None:
        return True, receive
    if message["type"] == "http.disconnect":
        return False, receive
    taken = [message]

    async def replay() -> Message:
        return taken.pop() if taken else await receive()

    return True, replay


class AdmissionMiddleware:
    """Pure ASGI, outside every other middleware of the app: a refused request is answered from its request line,
    and the body stays in the socket until a place is free."""

    def __init__(self, app: ASGIApp, limits: AdmissionLimits = DEFAULT_ADMISSION,
                 rng: random.Random | None = None) -> None:
        # Imported here, not at the top: the CLI imports this module for its options, and prometheus_client must
        # not be imported in `serve`'s parent process (centre/serving.py).
        from centre.observability import metrics

        self.app = app
        self.metrics = metrics
        self.gate = Gate(limits, rng) if limits.max_inflight else None
        self.refused_since_log = 0
        self.log_after = 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        gate = self.gate
        if gate is None or scope["type"] != "http" or (scope["method"], scope["path"]) not in ADMITTED:
            await self.app(scope, receive, send)
            return
        self.metrics.ADMISSION_WAITING.inc()
        try:
            turn = await gate.enter()
        finally:
            self.metrics.ADMISSION_WAITING.dec()
        if turn in REFUSED:
            await self._refuse(gate, turn, scope, receive, send)
            return
        held_s: float | None = None
        self.metrics.ADMISSION_IN_FLIGHT.inc()
        try:
            if turn is Turn.WAITED:
                there, receive = await _still_there(receive)
                if not there:
                    self.metrics.ADMISSION_DROPPED.inc()
                    return                 # nobody to answer: uvicorn sends nothing to a closed connection
            started = time.monotonic()
            await self.app(scope, receive, send)
            held_s = time.monotonic() - started
        finally:
            self.metrics.ADMISSION_IN_FLIGHT.dec()
            gate.leave(held_s)

    async def _refuse(self, gate: Gate, turn: Turn, scope: Scope, receive: Receive, send: Send) -> None:
        seconds = gate.retry_after_s()
        self.metrics.ADMISSION_REFUSED.labels(reason=turn.value).inc()
        self._log(gate, seconds)
        detail = (f"the centre is busy ({gate.inflight} batch(es) in work, {len(gate.waiting)} waiting in this "
                  f"worker); nothing of this request was read or stored: send it again in {seconds} s")
        # The connection stays open: closing it under a client still sending its body would reset it, and the
        # client would lose the Retry-After. uvicorn discards the unread rest of the body.
        await JSONResponse({"detail": detail}, status_code=503,
                           headers={"Retry-After": str(seconds)})(scope, receive, send)

    def _log(self, gate: Gate, seconds: int) -> None:
        """One line per LOG_EVERY_S while refusing, not one per refusal (a burst refuses thousands)."""
        self.refused_since_log += 1
        now = time.monotonic()
        if now < self.log_after:
            return
        log.warning("ingest busy: %d request(s) refused with 503 since the last line; %d in work, %d waiting, "
                    "%.0f batches/s; the last told to come back in %d s", self.refused_since_log, gate.inflight,
                    len(gate.waiting), gate.rate, seconds,
                    extra={"refused": self.refused_since_log, "in_flight": gate.inflight,
                           "waiting": len(gate.waiting), "rate": round(gate.rate, 1), "retry_after_s": seconds})
        self.refused_since_log, self.log_after = 0, now + LOG_EVERY_S
