"""Admission control of the ingest (centre/api/admission.py) in a real `evaluator centre serve` process.

A centre with one place per worker and a short wait gets a burst of signed batches released together: some are
answered 503 with Retry-After, and of those nothing is stored (no rating, not even the nonce) and no ingest
counter moves; sent again, every batch lands exactly once. /healthz answers all the while. A batch whose client
hangs up while it waits in line is dropped unprocessed. On SQLite with one worker, and on PostgreSQL with two
(EVALUATOR_TEST_PG_URL; skipped without it).

The burst cannot fail to saturate: each worker gets some twenty batches of 200 ratings at once, and the fastest
centre measured stores about 12,000 ratings a second per worker, so its one place serves at most six of them
within the 0.1 s wait.
"""
from __future__ import annotations

import asyncio
import gzip
import random
import selectors
import socket
import subprocess
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests
from sqlalchemy import func, select

from centre import enroll, reports
from centre.api.admission import OVERBOOK, REFUSED, AdmissionMiddleware, Gate, Turn
from centre.api.admission_limits import AdmissionLimits
from centre.api.app import create_app
from centre.db.tables import nonces
from centre.serving import ServeOptions
from contract import canonical_json, sign
from kiosk.config import SyncSettings
from sync.uploader import after_retry_after
from tests.centre.conftest import (
    REPO,
    START_TIMEOUT_S,
    TIMEOUT,
    Collector,
    Device,
    pg_url_or_skip,
    scratch_pg_database,
    start_centre,
)
from tests.centre.test_metrics import scrape, value

if TYPE_CHECKING:
    from starlette.types import Message, Receive, Scope, Send

BURST = 40                  # devices, one batch each, released together
RATINGS = 200               # per batch
TIGHT = ("--max-inflight-batches", "1", "--max-batch-wait-s", "0.1")
PATIENT = ("--max-inflight-batches", "1", "--max-batch-wait-s", "10")


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, int]]:
    """(database URL, workers): SQLite with one worker, PostgreSQL with two."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'centre.db'}", 1
        return
    pg_url = pg_url_or_skip()
    with scratch_pg_database(pg_url) as url:
        yield url, 2


def place(n: int) -> tuple[str, str]:
    return f"unit-{n // 20}", f"counter-{n}"


def enrolled(collector: Collector, n: int) -> Device:
    """Device n, enrolled through the centre's route at its counter (registered first: `registered`)."""
    unit, counter = place(n)
    code = enroll.create_code(collector.engine, unit, counter)
    answer = requests.post(collector.url + "/v1/enroll", json={"code": code, "app_version": "0.1.0"}, timeout=TIMEOUT)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    return Device(collector, body["device_id"], body["secret"], body["config"], unit, counter)


def registered(collector: Collector, count: int) -> Collector:
    for n in range(count):      # one after the other: registering is not meant to race (a unit is made once)
        collector.register(*place(n))
    return collector


@dataclass
class Upload:
    """One device's batch, gzipped once; each send signs it afresh (a terminal's retry is a new request)."""

    device: Device
    uuids: set[str]
    body: bytes

    @classmethod
    def of(cls, device: Device) -> Upload:
        ratings = [device.rating(level=1 + n % 5) for n in range(RATINGS)]
        return cls(device, {rating["uuid"] for rating in ratings}, gzip.compress(canonical_json(device.batch(ratings))))

    def sender(self) -> Callable[[], requests.Response]:
        headers = {**sign(self.device.secret, "POST", "/v1/ingest", self.device.device_id, self.body),
                   "Content-Type": "application/json", "Content-Encoding": "gzip"}
        url = self.device.collector.url + "/v1/ingest"
        return lambda: requests.post(url, data=self.body, headers=headers, timeout=TIMEOUT)


def nonces_of(collector: Collector, device: Device) -> int:
    with collector.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(nonces)
                            .where(nonces.c.device_id == device.device_id)).scalar_one()


def released_together(calls: list[Callable[[], requests.Response]]) -> list[requests.Response]:
    barrier = threading.Barrier(len(calls))
    answers: list[requests.Response | None] = [None] * len(calls)

    def run(index: int) -> None:
        barrier.wait(timeout=START_TIMEOUT_S)
        answers[index] = calls[index]()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(answer is not None for answer in answers)
    return answers   # type: ignore[return-value]


@contextmanager
def health_watch(url: str) -> Iterator[list[tuple[float, float, int, str]]]:
    """Ask /healthz every 50 ms until the block ends: (monotonic time asked, answered, status, its status field)."""
    seen: list[tuple[float, float, int, str]] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            asked = time.monotonic()
            answer = requests.get(url + "/healthz", timeout=TIMEOUT)
            seen.append((asked, time.monotonic(), answer.status_code, answer.json()["status"]))
            stop.wait(0.05)

    thread = threading.Thread(target=watch)
    thread.start()
    try:
        yield seen
    finally:
        stop.set()
        thread.join()


def refused(samples: dict[Any, float]) -> float:
    return sum(value(samples, "evaluator_admission_refused_total", reason=reason) for reason in ("full", "timeout"))


def batches(samples: dict[Any, float]) -> tuple[float, ...]:
    return tuple(value(samples, "evaluator_batches_total", outcome=outcome)
                 for outcome in ("accepted", "refused", "error"))


def test_a_burst_is_refused_unread_and_every_batch_lands_once_when_sent_again(backend: tuple[str, int]) -> None:
    db_url, workers = backend
    with start_centre(db_url, *TIGHT, workers=workers, strict=True) as collector:
        registered(collector, BURST)
        with ThreadPoolExecutor(8) as pool:
            uploads = list(pool.map(lambda n: Upload.of(enrolled(collector, n)), range(BURST)))
        before = scrape(collector.url)
        with health_watch(collector.url) as health:
            began = time.monotonic()
            answers = released_together([upload.sender() for upload in uploads])
            ended = time.monotonic()
        after = scrape(collector.url)

        statuses = Counter(answer.status_code for answer in answers)
        assert set(statuses) == {200, 503}, statuses
        busy = [upload for upload, answer in zip(uploads, answers, strict=True) if answer.status_code == 503]
        for upload, answer in zip(uploads, answers, strict=True):
            if answer.status_code == 200:
                assert set(answer.json()["accepted"]) == upload.uuids
            else:
                assert int(answer.headers["Retry-After"]) >= 1, answer.headers
                assert answer.json()["detail"].startswith("the centre is busy")
        # Nothing of a refused request was kept: no rating, not its nonce, no ingest counted.
        for upload in busy:
            assert collector.ratings_held(upload.device.device_id) == 0
            assert nonces_of(collector, upload.device) == 0
        assert refused(after) - refused(before) == len(busy)
        assert [a - b for a, b in zip(batches(after), batches(before), strict=True)] == [statuses[200], 0, 0]
        assert value(after, "evaluator_ratings_ingested_total") == statuses[200] * RATINGS
        # /healthz answered, and answered "ok", all through the burst (not admitted, never starved).
        assert any(answered >= began and asked <= ended for asked, answered, _, _ in health), health
        assert {(status, state) for _, _, status, state in health} == {(200, "ok")}

        # Each refused batch sent again, as its terminal does (a new signature): every one lands, once.
        for upload in busy:
            answer = upload.sender()()
            assert answer.status_code == 200 and set(answer.json()["accepted"]) == upload.uuids, answer.text
        held = {item.device_id: item for item in reports.integrity(collector.engine).devices}
        for upload in uploads:
            item = held[upload.device.device_id]
            assert (item.ratings_held, item.last_seq, item.gaps, item.chain_breaks, item.conflicts) == \
                (RATINGS, RATINGS, [], [], 0)
        assert value(scrape(collector.url), "evaluator_ratings_ingested_total") == BURST * RATINGS
        busy_doc = requests.get(collector.url + "/openapi.json", timeout=TIMEOUT).json()[
            "paths"]["/v1/ingest"]["post"]["responses"]["503"]
        assert "Retry-After" in busy_doc["headers"]


def test_a_batch_whose_client_hung_up_in_line_is_dropped_unprocessed(backend: tuple[str, int]) -> None:
    db_url, _ = backend
    with start_centre(db_url, *PATIENT, strict=True) as collector:     # one worker: both requests meet one line
        registered(collector, 2)
        holder, quitter = (Upload.of(enrolled(collector, n)) for n in range(2))
        before = scrape(collector.url)
        address = ("127.0.0.1", int(collector.url.rsplit(":", 1)[1]))
        head, body = raw(holder)
        with socket.create_connection(address) as first:
            first.sendall(head + body[:len(body) // 2])     # holds the one place while the rest of its body comes
            until(collector, lambda figures: value(figures, "evaluator_admission_in_flight") == 1)
            with socket.create_connection(address) as second:
                second.sendall(b"".join(raw(quitter)))      # all of it: it waits in line behind the first
                until(collector, lambda figures: value(figures, "evaluator_admission_waiting") == 1)
            # …and its client hangs up (a terminal switched off) before its turn.
            first.sendall(body[len(body) // 2:])
            assert status_of(first) == 200
        until(collector, lambda figures: value(figures, "evaluator_admission_in_flight") == 0)
        after = scrape(collector.url)

        assert value(after, "evaluator_admission_dropped_total") - value(before, "evaluator_admission_dropped_total") \
            == 1
        assert [a - b for a, b in zip(batches(after), batches(before), strict=True)] == [1, 0, 0]
        assert collector.ratings_held(holder.device.device_id) == RATINGS
        assert (collector.ratings_held(quitter.device.device_id), nonces_of(collector, quitter.device)) == (0, 0)
        # The terminal sends it again when it is back: it lands, once.
        assert quitter.sender()().status_code == 200
        assert collector.ratings_held(quitter.device.device_id) == RATINGS


def raw(upload: Upload) -> tuple[bytes, bytes]:
    """A signed ingest as bytes on the wire: (request line and headers, body)."""
    headers = {"Host": "127.0.0.1", "Content-Type": "application/json", "Content-Encoding": "gzip",
               "Content-Length": str(len(upload.body)),
               **sign(upload.device.secret, "POST", "/v1/ingest", upload.device.device_id, upload.body)}
    head = "POST /v1/ingest HTTP/1.1\r\n" + "".join(f"{key}: {text}\r\n" for key, text in headers.items()) + "\r\n"
    return head.encode(), upload.body


def status_of(connection: socket.socket) -> int:
    connection.settimeout(TIMEOUT[1])
    answer = b""
    while b"\r\n" not in answer:
        chunk = connection.recv(4096)
        assert chunk, f"connection closed after {answer!r}"
        answer += chunk
    return int(answer.split(b" ", 2)[1])


def until(collector: Collector, holds: Callable[[dict[Any, float]], bool], timeout_s: float = 10) -> None:
    """Scrape /metrics (not admitted: it answers whatever the ingest does) until `holds` says so."""
    deadline, pause = time.monotonic() + timeout_s, threading.Event()
    while not holds(scrape(collector.url)):
        assert time.monotonic() < deadline, "the centre did not get there"
        pause.wait(0.02)


def test_admission_is_the_outermost_middleware(tmp_path: Path) -> None:
    """Anything outside it runs for every refused request too, and a wrapper of `receive` (Starlette's
    BaseHTTPMiddleware) breaks its look at a waiting client: a live client was told it had gone (ClientDisconnect,
    no answer, the terminal's 30 s read timeout) and one that had gone was processed."""
    app = create_app(f"sqlite:///{tmp_path / 'centre.db'}")
    outermost = app.user_middleware[0].cls   # add_middleware puts the last added first
    assert outermost is AdmissionMiddleware, [entry.cls for entry in app.user_middleware]  # type: ignore[comparison-overlap]


# -- the gate in-process, on a clock of the test's own ----------------------------------------------------------


class Clock:
    """A clock that moves only when told."""

    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def gate_on(clock: Clock, max_inflight: int = 4) -> Gate:
    return Gate(AdmissionLimits(max_inflight=max_inflight, max_wait_s=1.0), rng=random.Random(7), clock=clock)


def serve(gate: Gate, clock: Clock, batches: int, work_s: float, read_s: float = 0.0) -> None:
    """`batches` batches, a full gate's places at a time: each holds its place `read_s` while its body comes in
    (all together), then the worker does their work one after the other, `work_s` each (a worker busy at
    1/work_s batches a second, however many it has in hand)."""
    places = gate.limits.max_inflight
    for first in range(0, batches, places):
        group = range(first, min(batches, first + places))
        assert [asyncio.run(gate.enter()) for _ in group] == [Turn.AT_ONCE] * len(group)
        clock.now += read_s
        for _ in group:
            gate.work_started()
        for _ in group:
            clock.now += work_s
            gate.work_done()
            gate.leave()


def test_refusals_at_one_instant_are_booked_back_at_the_rate_the_worker_serves() -> None:
    """The calendar of returns, on a fixed clock and a seeded generator."""
    clock = Clock()
    gate = gate_on(clock)
    # Before any batch is measured: the optimistic 200 a second, booked a tenth faster (OVERBOOK), so 1,000
    # refused at once return over 1–6 s (none sooner than a second: Retry-After is whole seconds), about 220 each.
    pace = OVERBOOK * gate.rate
    told = [gate.retry_after_s() for _ in range(1000)]
    per_second = Counter(told)
    assert set(per_second) <= {1, 2, 3, 4, 5, 6} and max(per_second.values()) <= 1.2 * pace, per_second
    assert max(told[:200]) <= 2 and min(told[-200:]) >= 4           # in the order they were refused
    assert abs(sum(told) / len(told) - (1 + 999 / 2 / pace)) < 0.1   # rounded at random: right on average
    clock.now += 60                                                  # the calendar lies in the past: back in 1 s
    assert gate.retry_after_s() == 1


def test_the_rate_is_the_work_done_not_the_body_read_on_a_flooded_loop() -> None:
    """A burst's flood of connections makes every body slow to read (2 s here) while the worker still serves
    50 batches a second once it has them. The rate measured on the time a place was held (about 2.05 s for 4)
    said 2.7 a second, and 3,000 refused at once were told to come back over 1,120 s."""
    clock = Clock()
    gate = gate_on(clock)
    serve(gate, clock, 64, work_s=0.02, read_s=2.0)
    assert 49 < gate.rate < 51
    pace = OVERBOOK * 50
    told = [gate.retry_after_s() for _ in range(3000)]
    assert max(told) <= 1 + 3000 / pace + 1                         # the last one slot after the others
    assert max(Counter(told).values()) <= 1.3 * pace                # and no second given much more than that


def test_a_slow_spell_does_not_lower_the_rate_but_a_slow_centre_does_in_minutes() -> None:
    clock = Clock()
    gate = gate_on(clock)
    serve(gate, clock, 64, work_s=0.02)                              # 50 a second
    serve(gate, clock, 20, work_s=0.5)                               # 10 s at 2 a second: a flood's slow spell
    assert 30 < gate.rate < 40                                       # ¾ of the best, halving in a minute
    serve(gate, clock, 600, work_s=0.5)                              # five minutes of it: the centre is slower now
    assert gate.rate < 3
    serve(gate, clock, 64, work_s=0.02)                              # and faster again: believed at once
    assert 49 < gate.rate < 51


def test_an_outage_leaves_the_best_as_the_last_work_measured_it() -> None:
    """Idle time says nothing of a slower centre: after half an hour without a batch (an outage), the burst's
    flooded first seconds still find the floor under the rate. Aged by the clock instead of by the work, the best
    was gone and the first returns were booked at the flood's rate (3 a second here)."""
    clock = Clock()
    gate = gate_on(clock)
    serve(gate, clock, 64, work_s=0.02)                              # 50 a second
    clock.now += 1800                                                # the outage: nothing comes
    serve(gate, clock, 20, work_s=0.5)                               # the burst's flooded first seconds
    assert 30 < gate.rate < 40
    told = [gate.retry_after_s() for _ in range(300)]
    assert max(told) <= 1 + 300 / (OVERBOOK * 30) + 1               # booked at the floor's pace, not the flood's


def test_returns_booked_at_a_low_rate_are_re_planned_when_the_rate_is_higher() -> None:
    clock = Clock()
    gate = gate_on(clock)
    serve(gate, clock, 16, work_s=0.5)                               # 2 a second
    slow = [gate.retry_after_s() for _ in range(100)]               # booked over some 45 s
    assert max(slow) >= 40
    serve(gate, clock, 32, work_s=0.02)                              # 50 a second, 0.64 s later
    # The next return comes once the 100 booked could be served at 50 a second (2 s) and the margin, not after
    # the 45 s the calendar had reached: a terminal is not kept away for a rate the worker no longer has.
    assert gate.retry_after_s() <= 1 + 100 / 50 + 2 + 1
    clock.now += 60                                                  # the 100 came back (or not): they are past
    assert gate.booked_total == 101 and gate.retry_after_s() == 1 and gate.booked_total == 1


def test_the_gate_measures_the_work_from_the_bodys_last_byte() -> None:
    """AdmissionMiddleware around an app that reads its body in three parts a second apart (a flooded loop)
    and then works 20 ms: the gate counts the 20 ms; a request answered unread (413) is not measured."""
    clock = Clock()
    chunks = [b"a", b"b", b"c"]

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["headers"]:                    # too large, says Content-Length: answered unread
            await send({"type": "http.response.start", "status": 413, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        while (await receive()).get("more_body"):
            pass
        clock.now += 0.02
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    async def request(headers: list[tuple[bytes, bytes]]) -> int:
        parts = list(chunks)

        async def receive() -> Message:
            clock.now += 1.0
            body = parts.pop(0)
            return {"type": "http.request", "body": body, "more_body": bool(parts)}

        sent: list[Message] = []

        async def send(message: Message) -> None:
            sent.append(message)

        scope = {"type": "http", "method": "POST", "path": "/v1/ingest", "headers": headers}
        await middleware(scope, receive, send)
        return int(sent[0]["status"])

    middleware = AdmissionMiddleware(app, AdmissionLimits(max_inflight=4, max_wait_s=1.0))
    assert middleware.gate is not None
    middleware.gate.clock = clock
    assert [asyncio.run(request([])) for _ in range(8)] == [200] * 8
    assert round(middleware.gate.rate) == 50
    for _ in range(8):
        clock.now += 5.0                        # a slow 413 between the batches: not the gate's measure
        assert asyncio.run(request([(b"content-length", b"99999999")])) == 413
    assert round(middleware.gate.rate) == 50 and middleware.gate.inflight == 0


def test_a_place_passes_to_the_first_in_line_and_the_rest_are_refused_in_time() -> None:
    async def scene() -> list[Turn]:
        gate = Gate(AdmissionLimits(max_inflight=1, max_wait_s=0.5))
        assert await gate.enter() is Turn.AT_ONCE
        waiting = [asyncio.ensure_future(gate.enter()) for _ in range(3)]
        await asyncio.sleep(0)                       # all three in line
        gate.leave()                                 # the place goes to the first in line, at once
        first = await waiting[0]
        assert gate.inflight == 1
        rest = await asyncio.gather(*waiting[1:])    # no other place comes within the 0.5 s
        gate.leave()
        assert (gate.inflight, len(gate.waiting)) == (0, 0)
        gate.measured_rate = 1.0                     # a slow worker: one a second, so the line is full at once
        assert await gate.enter() is Turn.AT_ONCE
        full = await gate.enter()
        return [first, *rest, full]

    assert asyncio.run(scene()) == [Turn.WAITED, Turn.TIMEOUT, Turn.TIMEOUT, Turn.FULL]


# -- a whole burst against one worker's gate, in simulated time ----------------------------------------------------


class SimulatedClock(selectors.SelectSelector):
    """The event loop's selector, waiting for nothing: the time the loop would wait passes at once."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        assert timeout is not None, "the simulation stalled: nothing left to happen"
        self.now += timeout
        return super().select(0)


class SimulatedLoop(asyncio.SelectorEventLoop):
    """asyncio on simulated time: sleeps and timeouts (the gate's line) take none."""

    def __init__(self) -> None:
        self.simulated = SimulatedClock()
        super().__init__(self.simulated)

    def time(self) -> float:
        return self.simulated.now


@dataclass
class Burst:
    """What a burst against one worker's gate came to (simulated seconds)."""

    drained_s: float
    told: list[int]


def burst(terminals: int, rate: float, read_s_per_refusal: float, seed: int = 1) -> Burst:
    """`terminals` terminals at once against one worker with the default 4 places and 1 s line, serving `rate`
    batches a second, each refused terminal waiting what the terminal's own policy says (Retry-After and up to
    100 % of it, at most 5 s more). The flood: reading an admitted body takes three turns of an event loop
    busy with every refusal of the last second, `read_s_per_refusal` each (the place is held meanwhile)."""
    loop = SimulatedLoop()
    rng = random.Random(seed)
    gate = Gate(AdmissionLimits(), rng=random.Random(seed), clock=loop.time)
    settings = SyncSettings()
    refusals: deque[float] = deque()
    told: list[int] = []
    done: list[float] = []

    def loop_lag() -> float:
        while refusals and refusals[0] < loop.time() - 1:
            refusals.popleft()
        return read_s_per_refusal * len(refusals)

    async def terminal(worker: asyncio.Lock) -> None:
        while (turn := await gate.enter()) in REFUSED:
            refusals.append(loop.time())
            told.append(gate.retry_after_s())
            await asyncio.sleep(after_retry_after(told[-1], settings.retry_after_jitter,
                                                  settings.retry_after_jitter_max_s, rng))
        assert turn in (Turn.AT_ONCE, Turn.WAITED)
        await asyncio.sleep(0.002 + 3 * loop_lag())          # the body
        gate.work_started()
        async with worker:                                   # the worker's work, one batch after the other
            await asyncio.sleep(1 / rate)
        gate.work_done()
        gate.leave()
        done.append(loop.time())

    async def everyone() -> None:
        worker = asyncio.Lock()
        await asyncio.gather(*(terminal(worker) for _ in range(terminals)))

    try:
        loop.run_until_complete(everyone())
    finally:
        loop.close()
    return Burst(max(done), told)


def test_a_burst_on_a_flooded_loop_drains_near_the_rate_of_the_work() -> None:
    """bench/centre_load.py's burst in miniature: 3,000 terminals, a worker serving 50 batches a second (60 s
    of work), body reads slowed by the refusals' flood. The rate measured on the time a place was held fell to
    ~7 a second, Retry-After reached ~400 s and the burst drained in 7× the work's time."""
    outcome = burst(3000, rate=50.0, read_s_per_refusal=0.001)
    assert outcome.drained_s <= 1.5 * 3000 / 50, outcome.drained_s
    assert max(outcome.told) <= 3000 / 50 + 5, max(outcome.told)


@pytest.mark.parametrize(("option", "given"), [("--max-inflight-batches", "13"), ("--max-batch-wait-s", "0")])
def test_serve_refuses_limits_out_of_range(option: str, given: str, tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, "-m", "evaluator.cli", "centre", "serve", "--db",
                          f"sqlite:///{tmp_path / 'centre.db'}", option, given], cwd=REPO, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 2 and f"argument {option}: must be" in run.stderr, run.stderr


def test_the_limits_reach_every_worker_of_serve_workers_n() -> None:
    """`serve --workers N` hands the workers their options in the environment (centre/serving.py)."""
    tight = AdmissionLimits(max_inflight=1, max_wait_s=0.1)
    options = ServeOptions("postgresql+psycopg://centre@db/centre", admission=tight)
    assert ServeOptions.from_env(options.to_env()).admission == tight
    assert ServeOptions.from_env({"EVALUATOR_CENTRE_DB": options.db_url}).admission == AdmissionLimits()
