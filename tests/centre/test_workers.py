"""`evaluator centre serve --workers N`: several worker processes on one PostgreSQL database.

Every test starts a real `python -m evaluator.cli centre serve --workers 2` on a throwaway PostgreSQL
database of its own. Which worker answers a request is the kernel's choice (both accept on one socket), so
the tests fire requests at once, from threads released together by a barrier, and read which worker
answered from the `X-Centre-Worker` header. What must hold whichever worker answers: a batch's ratings are
stored exactly once, a signed request (its nonce) is processed once and every replay is refused with 401
(docs/sync-protocol.md, "Signed requests"), and the integrity report sees no gap, break or conflict.
"""
from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import delete, select

from centre import reports
from centre.api.auth import NONCE_KEEP_S
from centre.db.engine import POOL_CONNECTIONS, open_engine
from centre.db.tables import nonces
from centre.serving import WORKER_HEADER
from contract import canonical_json, sign
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

WORKERS = 2
COPIES = 20           # requests released at once
REPLAYED = {"detail": "nonce already used"}


@pytest.fixture
def pg_url() -> str:
    url = pg_url_or_skip("several workers need PostgreSQL")
    return url


def centre_with_workers(db_url: str, env: dict[str, str] | None = None) -> AbstractContextManager[Collector]:
    """`serve --workers 2`, once both workers have said their application started."""
    return start_centre(db_url, workers=WORKERS, env=env, strict=True)


def enrolled(centre: Collector, unit: str = "unit-w") -> Device:
    answer = requests.post(centre.url + "/v1/enroll", json={"code": centre.code(unit, "counter-1"),
                                                            "app_version": "0.1.0"}, timeout=TIMEOUT)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    return Device(centre, body["device_id"], body["secret"], body["config"], unit, "counter-1")


def at_once(calls: list[Callable[[], requests.Response]]) -> list[requests.Response]:
    """Run every call in a thread of its own, all released together by a barrier; the answers in order."""
    barrier = threading.Barrier(len(calls))

    def released(call: Callable[[], requests.Response]) -> requests.Response:
        barrier.wait(timeout=START_TIMEOUT_S)
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(released, calls))


def signed_post(device: Device, batch: dict[str, Any]) -> Callable[[], requests.Response]:
    """One signed ingest request (one nonce), sent as often as it is called: the first is the request,
    the others are replays of it, byte for byte."""
    body = canonical_json(batch)
    headers = {**sign(device.secret, "POST", "/v1/ingest", device.device_id, body),
               "Content-Type": "application/json"}
    return lambda: requests.post(device.collector.url + "/v1/ingest", data=body, headers=headers, timeout=TIMEOUT)


def worker(answer: requests.Response) -> int:
    return int(answer.headers[WORKER_HEADER])


def uuids(ratings: list[dict[str, Any]]) -> set[str]:
    return {rating["uuid"] for rating in ratings}


def assert_sound(centre: Collector, device: Device, held: int) -> None:
    """The device's chain as the centre holds it: every rating once, no gap, no break, no conflict."""
    assert centre.ratings_held(device.device_id) == held
    report = reports.integrity(centre.engine)
    (item,) = [item for item in report.devices if item.device_id == device.device_id]
    assert (item.ratings_held, item.last_seq, item.gaps, item.chain_breaks, item.conflicts) == (held, held, [], [], 0)
    assert item.ok, item


def test_every_worker_serves_and_they_sum_their_metrics(pg_url: str) -> None:
    with scratch_pg_database(pg_url) as db_url, centre_with_workers(db_url) as centre:
        assert len(centre.pids) == WORKERS
        seen: set[int] = set()
        for _ in range(10):      # the kernel picks the worker; twenty connections at once reach both
            answers = at_once([lambda: requests.get(centre.url + "/healthz", timeout=TIMEOUT)] * COPIES)
            assert {answer.status_code for answer in answers} == {200}
            seen |= {worker(answer) for answer in answers}
            if seen == centre.pids:
                break
        assert seen == centre.pids
        # Each worker opened its own pool, and /metrics (whichever answers) sums both: prometheus' multiprocess
        # folder, which serve made since PROMETHEUS_MULTIPROC_DIR was not set.
        pool_size = centre.engine.pool.size()      # type: ignore[attr-defined]
        assert value(scrape(centre.url), "evaluator_db_pool_size") == WORKERS * pool_size


def test_one_signed_batch_sent_twenty_times_at_once_is_processed_once(pg_url: str) -> None:
    with scratch_pg_database(pg_url) as db_url, centre_with_workers(db_url) as centre:
        device = enrolled(centre)
        ratings = [device.rating(level=1 + n % 5) for n in range(50)]
        post = signed_post(device, device.batch(ratings))
        answers = at_once([post] * COPIES)

        statuses = Counter(answer.status_code for answer in answers)
        assert statuses == {200: 1, 401: COPIES - 1}, [answer.text for answer in answers]
        (first,) = [answer for answer in answers if answer.status_code == 200]
        assert set(first.json()["accepted"]) == uuids(ratings)
        assert (first.json()["duplicate"], first.json()["rejected"]) == ([], [])
        assert all(answer.json() == REPLAYED for answer in answers if answer.status_code == 401)
        assert_sound(centre, device, 50)

        # The replay later, to the other worker: refused too, and nothing more stored.
        replays: list[requests.Response] = []
        while not any(worker(answer) != worker(first) for answer in replays) and len(replays) < 10 * COPIES:
            replays += at_once([post] * 4)
        assert any(worker(answer) != worker(first) for answer in replays), "the other worker never answered"
        assert {answer.status_code for answer in replays} == {401}
        assert all(answer.json() == REPLAYED for answer in replays)
        assert_sound(centre, device, 50)

        # Whichever worker answered, the figures add up over both.
        figures = scrape(centre.url)
        answered_by = {worker(answer) for answer in answers + replays}
        assert answered_by == centre.pids, "both workers answered, so the sums below cover both"
        assert value(figures, "evaluator_batches_total", outcome="accepted") == 1
        assert value(figures, "evaluator_batches_total", outcome="refused") == COPIES - 1 + len(replays)
        assert value(figures, "evaluator_ratings_ingested_total") == 50


def test_the_same_ratings_in_twenty_signed_batches_at_once_are_stored_once(pg_url: str) -> None:
    """A batch sent again under a new nonce (its ack was lost) is a new request: answered, its ratings
    duplicates; twenty of them at once store each rating once and acknowledge it to every one."""
    with scratch_pg_database(pg_url) as db_url, centre_with_workers(db_url) as centre:
        device = enrolled(centre)
        ratings = [device.rating() for _ in range(50)]
        answers = at_once([signed_post(device, device.batch(ratings)) for _ in range(COPIES)])

        assert [answer.status_code for answer in answers] == [200] * COPIES, [answer.text for answer in answers]
        acks = [answer.json() for answer in answers]
        accepted = Counter(uuid for ack in acks for uuid in ack["accepted"])
        assert set(accepted) == uuids(ratings) and set(accepted.values()) == {1}
        for ack in acks:
            assert set(ack["accepted"]) | set(ack["duplicate"]) == uuids(ratings)
            assert not set(ack["accepted"]) & set(ack["duplicate"])
            assert ack["rejected"] == []
        assert_sound(centre, device, 50)


def test_overlapping_batches_at_once_store_each_rating_once(pg_url: str) -> None:
    """Windows of one chain, each overlapping the next, each sent twice under its own nonce, all at once."""
    with scratch_pg_database(pg_url) as db_url, centre_with_workers(db_url) as centre:
        device = enrolled(centre)
        chain = [device.rating(level=1 + n % 5) for n in range(80)]
        windows = [chain[start:start + 30] for start in range(0, 60, 10)] * 2     # 12 batches
        answers = at_once([signed_post(device, device.batch(window)) for window in windows])

        assert [answer.status_code for answer in answers] == [200] * len(windows), [a.text for a in answers]
        accepted: Counter[str] = Counter()
        for window, answer in zip(windows, answers, strict=True):
            ack = answer.json()
            assert ack["rejected"] == []
            assert set(ack["accepted"]) | set(ack["duplicate"]) == uuids(window)
            accepted.update(ack["accepted"])
        assert set(accepted) == uuids(chain) and set(accepted.values()) == {1}
        assert_sound(centre, device, 80)


def test_an_ingest_does_not_wait_for_another_transaction_expiring_old_nonces(pg_url: str) -> None:
    """Every ingest expires old nonces; one must not wait for another's whole batch to commit to do so."""
    with scratch_pg_database(pg_url) as db_url, centre_with_workers(db_url) as centre:
        device = enrolled(centre)
        old = int(time.time()) - 2 * NONCE_KEEP_S
        with centre.engine.begin() as conn:
            conn.execute(nonces.insert().values(device_id=device.device_id, nonce="old0nonce", seen_at=old))
        with centre.engine.connect() as holder:    # another batch's transaction, still open
            holder.execute(delete(nonces).where(nonces.c.seen_at < old + 1))
            answer = signed_post(device, device.batch([device.rating()]))()
            assert answer.status_code == 200, answer.text
            assert centre.ratings_held(device.device_id) == 1
            holder.rollback()
        # Expired by the centre once no one else holds it: by a later ingest (each worker expires at most once a
        # second, so a few may pass first).
        held, deadline = 1, time.monotonic() + 10
        while True:
            assert signed_post(device, device.batch([device.rating()]))().status_code == 200
            held += 1
            with centre.engine.connect() as conn:
                gone = conn.execute(select(nonces.c.nonce).where(nonces.c.seen_at == old)).first() is None
            if gone or time.monotonic() > deadline:
                break
            time.sleep(0.25)
        assert gone, "the old nonce was never expired"
        assert_sound(centre, device, held)


def test_the_metrics_folder_is_emptied_before_the_workers_start(pg_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "prometheus"
    folder.mkdir()
    (folder / "counter_1.db").write_bytes(b"a worker's file from the last run")   # unreadable: a scrape would fail
    (folder / "README").write_text("not prometheus' own: left alone")
    with scratch_pg_database(pg_url) as db_url, \
            centre_with_workers(db_url, env={"PROMETHEUS_MULTIPROC_DIR": str(folder)}) as centre:
        assert not (folder / "counter_1.db").exists()
        assert (folder / "README").exists()
        assert value(scrape(centre.url), "evaluator_ratings_ingested_total") == 0
        assert any(folder.glob("counter_*.db")), "the workers write their figures there"


def test_several_workers_on_sqlite_are_refused(tmp_path: Path) -> None:
    database = tmp_path / "centre.db"
    run = subprocess.run([sys.executable, "-m", "evaluator.cli", "centre", "serve", "--db", f"sqlite:///{database}",
                          "--workers", "2"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert run.stderr.strip() == ("error: --workers 2 needs PostgreSQL: SQLite, the try-it-out engine, takes one "
                                  "writer at a time; serve a SQLite database with one worker (leave --workers out)")
    assert not database.exists(), "nothing is created for a refused start"


def test_connections_opened_under_load_are_kept_for_the_next(pg_url: str) -> None:
    """A worker's pool keeps every connection it opened (up to its 15): SQLAlchemy's default kept 5 and closed
    the rest as they came back, and a loaded worker opened a new PostgreSQL backend a second or two."""
    with scratch_pg_database(pg_url) as db_url:
        engine = open_engine(db_url)
        try:
            held = [engine.connect() for _ in range(POOL_CONNECTIONS)]     # a moment of load: every one in use
            for conn in held:
                conn.exec_driver_sql("SELECT 1")
            for conn in held:
                conn.close()
            assert engine.pool.checkedin() == POOL_CONNECTIONS            # type: ignore[attr-defined]
            with engine.connect() as conn:
                backends = conn.exec_driver_sql("SELECT count(*) FROM pg_stat_activity "
                                                "WHERE datname = current_database()").scalar_one()
            assert backends >= POOL_CONNECTIONS
        finally:
            engine.dispose()
