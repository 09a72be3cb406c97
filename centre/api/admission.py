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
  (a tenth less: OVERBOOK) after the returns already booked, so the refused come back about as fast as this
  worker serves them, rounded to whole seconds at random (up with the probability of the fraction: spread,
  and right on average);
- a batch whose client went away while it waited is dropped when its turn comes, unprocessed.

The rate is measured from the work, not from the time a place is held. A place is held from admission to the
answer, and that includes reading the body, which in a burst is slow for a reason that passes: the event loop
is flooded with the connections being refused. Measured with it (bench/centre_load.py, burst of 3,000), the
rate fell to 1–3 batches a second where the worker served 20–80, each refusal then booked up to a second past
the last, Retry-After reached ~1,150 s, and the burst drained 6–7× slower than the work allowed. So:
- the work of a batch runs from its body's last byte to its answer (signature, inflation, store), and the
  rate is completions ÷ the time some batch was in that work (the busy time, counted once however many
  overlap), over the last RATE_WINDOW completions: the throughput of a busy worker, whatever the
  concurrency, and idle gaps (bodies still coming) do not count against it;
- before the first batch is done the rate is an optimistic 200 batches/s, and from the first on it is measured
  alone (a prior kept in the window was still believed while a burst's first, slow completions came in):
  returns booked too early cost a second refusal (cheap: the body is never read), returns booked too late an
  idle centre;
- the rate never falls below FLOOR_SHARE of the best rate measured recently (the best decays by half every
  BEST_HALF_LIFE_S of busy time): what the loop's flood still costs the work itself (the thread's result waits
  for the loop) lasts seconds, the returns are booked for after it, and a centre truly slower is believed
  within minutes of work. Idle time does not age the best: a centre idle through an outage has done nothing
  that says it got slower, and the burst that ends the outage is when the floor is needed (measured in the
  burst of bench/centre_load.py: a worker without one books the first returns at the flood's 7–11 batches a
  second where it serves 18–24, and the drain's second half runs with the machine idle);
- the calendar never reaches further than the returns already booked and not yet due can be served at the
  present rate (plus BOOKING_MARGIN_S): when the rate is measured higher than when the last returns were
  booked, the next are booked sooner, into the gaps; bookings fall due and leave the count at their time.

Only the ingest is admitted. Health, metrics, enrollment, heartbeats, config pulls, call-backs and the reads
are small, and a terminal sends its config pull and heartbeat only after a drain got through; with batches
holding at most `max_inflight` of the 40 threads and of the 15 connections, they always find both.
"""
from __future__ import annotations

import asyncio
import enum
import logging
import math
import random
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import anyio
from starlette.responses import JSONResponse

from centre.api.admission_limits import DEFAULT_ADMISSION, AdmissionLimits

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

PRIOR_RATE = 200.0              # batches per second per worker before any was measured (optimistic, see above)
# Completions the rate is measured over: enough that one odd batch (a tiny one, one that met a lock) barely moves
# it, few enough to follow a change within a second or two at the 20–80 batches a second a worker serves.
RATE_WINDOW = 32
# Completions measured before a rate counts as the best (the floor's): fewer would let a lucky few set it.
BEST_AFTER = 8
# The floor under the rate: a share of the best rate measured recently. Not all of it: the best of many windows
# is a little lucky, and returns booked at a rate the worker does not reach are refused again.
FLOOR_SHARE = 0.75
# The best rate's half-life, in seconds of busy time: a flood's slow seconds do not lower the rate, and a centre
# slower for good (its database busy elsewhere, bigger batches than those it was measured on) is believed within
# minutes of work, its returns booked too early until then (refused again: cheap) rather than too late (an idle
# centre). Idle seconds do not count: an outage's minutes leave the best as the last work measured it.
BEST_HALF_LIFE_S = 60.0
# Returns are booked a tenth faster than the rate: a terminal comes back later than told (its own random extra,
# up to 5 s) and the returns of one second come spread over several, so booked at the rate itself some seconds
# fall short and the worker waits; the line (max_wait_s) holds a second's surplus, the rest is refused again,
# cheaply. Much more refuses so many again in a burst of thousands that the flood of refusals itself slows the
# bodies. In the simulated bursts of tests/centre/test_admission.py (`burst`), drained in × the work's time at
# 1.0 / 1.1 / 1.25: 300 terminals 1.25 / 1.19 / 1.10, 3,000 on a flooded loop 1.32 / 1.29 / 1.38.
OVERBOOK = 1.1
# How far the calendar may reach beyond the returns booked and not yet due, served at that pace: their count is
# kept per whole second (±1 s) and the rate varies from one window to the next.
BOOKING_MARGIN_S = 2.0
MIN_RETRY_AFTER_S = 1           # Retry-After is whole seconds
MAX_RETRY_AFTER_S = 3600
LOG_EVERY_S = 10.0
ADMITTED = frozenset({("POST", "/v1/ingest")})

# The 503 as /openapi.json describes it for the admitted route.
BUSY_RESPONSE: dict[int | str, dict[str, Any]] = {503: {
    "description": "Busy: refused before the body was read; send the same batch again after Retry-After",
    "headers": {"Retry-After": {"description": "seconds", "schema": {"type": "integer", "minimum": 1}}},
    "content": {"application/json": {"schema": {"type": "object", "required": ["detail"],
                                                "properties": {"detail": {"type": "string"}}}}}}}

log = logging.getLogger("centre.admission")


class Turn(enum.Enum):
    AT_ONCE = "at_once"     # a place was free
    WAITED = "waited"       # a place came within max_wait_s
    FULL = "full"           # refused on arrival: the expected wait was longer than max_wait_s
    TIMEOUT = "timeout"     # refused: no place came within max_wait_s


REFUSED = (Turn.FULL, Turn.TIMEOUT)


class Gate:
    """One worker process's places, its line (first come, first served), its measured rate and its calendar of
    returns. Used on the event loop only, so plain counters need no lock."""

    def __init__(self, limits: AdmissionLimits, rng: random.Random | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self.rng = rng or random.Random()
        self.clock = clock
        self.inflight = 0
        self.waiting: deque[asyncio.Future[None]] = deque()
        # The rate: completions ÷ busy seconds over the last RATE_WINDOW completions (PRIOR_RATE before the first).
        self.working = 0                    # batches in their work (body read, not yet answered)
        self.busy_mark = 0.0                # clock time the busy time was last counted up to
        self.busy_s = 0.0                   # busy time since the last completion: the next one's share
        self.busy_total = 0.0               # busy time since the start: the clock the best ages by
        self.per_batch: deque[float] = deque(maxlen=RATE_WINDOW)
        self.measured_rate = PRIOR_RATE
        self.best_rate, self.best_at = 0.0, 0.0     # the best rate measured (from BEST_AFTER completions), and when
                                                    # (in busy_total)
        # The calendar: the last return booked, and the returns not yet due, counted per whole clock second.
        self.booked_until = 0.0
        self.booked: dict[int, int] = {}
        self.booked_total = 0
        self.expired_before = 0             # whole clock second up to which due bookings have left the count

    @property
    def rate(self) -> float:
        """Batches a second this process serves while it is busy: measured, or the floor under it."""
        return max(self.measured_rate, FLOOR_SHARE * self._best())

    def _best(self) -> float:
        return self.best_rate * math.pow(0.5, (self.busy_total - self.best_at) / BEST_HALF_LIFE_S)

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

    def work_started(self) -> None:
        """A batch holding a place has its whole body: its work (signature, inflation, store) begins."""
        self._count_busy(self.clock())
        self.working += 1

    def work_done(self) -> None:
        """Its work is done (answered, or failed): a completion, with the busy time since the last one."""
        now = self.clock()
        self._count_busy(now)
        self.working -= 1
        self.per_batch.append(self.busy_s)
        self.busy_s = 0.0
        busy = sum(self.per_batch)
        if busy > 0:        # 0: every batch so far finished within one tick of the clock, which says nothing yet
            self.measured_rate = len(self.per_batch) / busy
        if len(self.per_batch) >= BEST_AFTER and self.measured_rate >= self._best():
            self.best_rate, self.best_at = self.measured_rate, self.busy_total

    def _count_busy(self, now: float) -> None:
        if self.working:
            self.busy_s += now - self.busy_mark
            self.busy_total += now - self.busy_mark
        self.busy_mark = now

    def leave(self) -> None:
        """A batch is done with its place."""
        self._pass_on()

    def _pass_on(self) -> None:
        while self.waiting:
            turn = self.waiting.popleft()
            if not turn.done():
                turn.set_result(None)   # the place goes straight to the next in line: as many in flight
                return
        self.inflight -= 1

    def retry_after_s(self) -> int:
        """Book a refused batch's return and say in how many seconds: one slot of 1/(OVERBOOK × rate) after the
        last return booked (and not within the first second, which Retry-After cannot say), so returns come about
        as fast as this process serves them; but no later than the returns booked and not yet due take at that
        pace (plus a margin), so a calendar booked at a rate measured lower is re-planned from here on. The
        line now waiting is not counted: it is served or refused within max_wait_s, and when it times out
        together (a burst's first second) the rest of it is being refused too: counting it booked the first
        returns seconds late and left the centre idle."""
        now, pace = self.clock(), OVERBOOK * self.rate
        self._expire(now)
        horizon = now + MIN_RETRY_AFTER_S + self.booked_total / pace + BOOKING_MARGIN_S
        start = max(now + MIN_RETRY_AFTER_S, min(self.booked_until, horizon))
        self.booked_until = start + 1.0 / pace
        delay = start - now
        whole = math.floor(delay)
        seconds = whole + (1 if self.rng.random() < delay - whole else 0)   # at random, right on average
        seconds = min(MAX_RETRY_AFTER_S, max(MIN_RETRY_AFTER_S, seconds))
        due = math.floor(now) + seconds     # the whole second it comes back in: at most MAX_RETRY_AFTER_S keys
        self.booked[due] = self.booked.get(due, 0) + 1
        self.booked_total += 1
        return seconds

    def _expire(self, now: float) -> None:
        """Returns due before this second leave the count (come back or not: a terminal that gave up does not
        hold a slot for ever). Looked at once a second, over at most MAX_RETRY_AFTER_S keys."""
        second = math.floor(now)
        if second <= self.expired_before:
            return
        for due in [due for due in self.booked if due < second]:
            self.booked_total -= self.booked.pop(due)
        self.expired_before = second


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


class _Work:
    """One admitted batch's work as its gate measures it: from the last byte of its body (the app reading it
    through `receive`) to the app's return. A batch answered before its body was read (413 on its declared
    length, a client gone) did no work and is not measured."""

    def __init__(self, gate: Gate, receive: Receive) -> None:
        self.gate = gate
        self.inner = receive
        self.started = False

    async def receive(self) -> Message:
        message = await self.inner()
        if not self.started and message["type"] == "http.request" and not message.get("more_body", False):
            self.started = True
            self.gate.work_started()
        return message

    def done(self) -> None:
        if self.started:
            self.gate.work_done()


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
        work: _Work | None = None
        self.metrics.ADMISSION_IN_FLIGHT.inc()
        try:
            if turn is Turn.WAITED:
                there, receive = await _still_there(receive)
                if not there:
                    self.metrics.ADMISSION_DROPPED.inc()
                    return                 # nobody to answer: uvicorn sends nothing to a closed connection
            work = _Work(gate, receive)
            await self.app(scope, work.receive, send)
        finally:
            self.metrics.ADMISSION_IN_FLIGHT.dec()
            if work is not None:
                work.done()
            gate.leave()

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
                    "%.0f batches/s, %d returns booked; the last told to come back in %d s", self.refused_since_log,
                    gate.inflight, len(gate.waiting), gate.rate, gate.booked_total, seconds,
                    extra={"refused": self.refused_since_log, "in_flight": gate.inflight,
                           "waiting": len(gate.waiting), "rate": round(gate.rate, 1), "booked": gate.booked_total,
                           "retry_after_s": seconds})
        self.refused_since_log, self.log_after = 0, now + LOG_EVERY_S
