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
import os
import random
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import func, select

from centre import enroll, reports
from centre.api.admission import AdmissionLimits, Gate, Turn
from centre.db.engine import open_engine
from centre.db.tables import nonces
from centre.serving import ServeOptions
from contract import canonical_json, sign
from tests.centre.conftest import (
    PG_URL_ENV,
    REPO,
    START_TIMEOUT_S,
    TIMEOUT,
    Collector,
    Device,
    free_port,
    scratch_pg_database,
)
from tests.centre.test_metrics import scrape, value

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
    pg_url = os.environ.get(PG_URL_ENV)
    if not pg_url:
        pytest.skip(f"{PG_URL_ENV} is not set: no PostgreSQL server to test against")
    with scratch_pg_database(pg_url) as url:
        yield url, 2


@contextmanager
def centre(db_url: str, workers: int, *options: str) -> Iterator[Collector]:
    """`evaluator centre serve` with `options`, once every worker said its application started."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "evaluator.cli", "centre", "serve", "--db", db_url, "--host", "127.0.0.1",
         "--port", str(port), "--workers", str(workers), *options],
        cwd=REPO, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    collector = Collector(url=f"http://127.0.0.1:{port}", db_url=db_url, engine=open_engine(db_url), process=process)
    started = threading.Condition()

    def drain() -> None:
        for line in process.stderr:   # read to the end, so the pipe never fills and blocks the server
            with started:
                collector.log.append(line)
                started.notify_all()
        with started:
            started.notify_all()

    threading.Thread(target=drain, daemon=True).start()
    try:
        with started:
            ready = started.wait_for(lambda: process.poll() is not None or sum(
                "Application startup complete" in line for line in collector.log) >= workers, START_TIMEOUT_S)
        assert ready and process.poll() is None, "centre did not start:\n" + "".join(collector.log)
        yield collector
    finally:
        process.terminate()
        process.wait(timeout=30)
        collector.engine.dispose()
    assert not [line for line in collector.log if "Traceback" in line or '" 500' in line], "".join(collector.log)


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
    with centre(db_url, workers, *TIGHT) as collector:
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
    with centre(db_url, 1, *PATIENT) as collector:      # one worker: both requests meet the same line
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


def test_refusals_at_one_instant_are_booked_back_at_the_rate_the_worker_serves() -> None:
    """The calendar of returns, in-process, on a fixed clock and a seeded generator."""
    now = [100.0]
    gate = Gate(AdmissionLimits(max_inflight=4, max_wait_s=1.0), rng=random.Random(7), clock=lambda: now[0])
    # Before any batch is measured: the optimistic 200 a second, so 1,000 refused at once return over 1–6 s
    # (none sooner than a second: Retry-After is whole seconds), about 200 each second.
    told = [gate.retry_after_s() for _ in range(1000)]
    per_second = Counter(told)
    assert set(per_second) == {1, 2, 3, 4, 5, 6} and max(per_second.values()) <= 1.2 * gate.rate, per_second
    assert max(told[:200]) <= 2 and min(told[-200:]) >= 5           # in the order they were refused
    assert 3.4 <= sum(told) / len(told) <= 3.6                      # rounded at random: right on average

    # Batches measured holding their place 0.1 s: 40 a second. Slower than the estimate, so believed slowly (a
    # burst's first batches are slow for a while), and faster batches at once.
    asyncio.run(hold_and_leave(gate, 30, held_s=0.1))
    assert 60 < gate.rate < 120
    asyncio.run(hold_and_leave(gate, 300, held_s=0.1))
    assert round(gate.rate) == 40
    later = [gate.retry_after_s() for _ in range(400)]  # booked after the first thousand, at 40 a second
    assert min(later) >= 6 - 1 and max(later) <= 16 + 1
    assert max(Counter(later).values()) <= 1.5 * 40
    now[0] += 60                                        # the calendar lies in the past: back in a second
    assert gate.retry_after_s() == 1


async def hold_and_leave(gate: Gate, times: int, held_s: float) -> None:
    for _ in range(times):
        assert await gate.enter() is Turn.AT_ONCE
        gate.leave(held_s)


def test_a_place_passes_to_the_first_in_line_and_the_rest_are_refused_in_time() -> None:
    async def scene() -> list[Turn]:
        gate = Gate(AdmissionLimits(max_inflight=1, max_wait_s=0.5))
        assert await gate.enter() is Turn.AT_ONCE
        waiting = [asyncio.ensure_future(gate.enter()) for _ in range(3)]
        await asyncio.sleep(0)                       # all three in line
        gate.leave(0.01)                             # the place goes to the first in line, at once
        first = await waiting[0]
        assert gate.inflight == 1
        rest = await asyncio.gather(*waiting[1:])    # no other place comes within the 0.5 s
        gate.leave(0.01)
        assert (gate.inflight, len(gate.waiting)) == (0, 0)
        gate.hold_s = 1.0                            # a slow worker: one a second, so the line is full at once
        assert await gate.enter() is Turn.AT_ONCE
        full = await gate.enter()
        return [first, *rest, full]

    assert asyncio.run(scene()) == [Turn.WAITED, Turn.TIMEOUT, Turn.TIMEOUT, Turn.FULL]


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
