"""What an operator reads of a running centre: /metrics (Prometheus), /healthz, and JSON log lines.

Every figure is read from a real `centre serve` process: a batch goes up through the signing `Device`,
the metrics are scraped over HTTP and parsed with prometheus_client's own parser, and the counters must
have moved by exactly what the batch held. The centre's database going away is a real PostgreSQL database
dropped under the running server.
"""
from __future__ import annotations

import json
import queue
import uuid as uuid_mod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from centre.observability.metrics import reason_code, row_kind
from contract import iso_utc
from tests.centre.conftest import (
    TIMEOUT,
    Collector,
    Device,
    pg_url_or_skip,
    scratch_pg_database,
    start_centre,
)

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(url: str) -> Samples:
    answer = requests.get(url + "/metrics", timeout=TIMEOUT)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(answer.text) for sample in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def heartbeat(device: Device) -> requests.Response:
    return device.request("POST", "/v1/heartbeat", {
        "device_id": device.device_id, "sent_at": iso_utc(datetime.now(UTC)), "app_version": "0.1.0",
        "queue_depth": 0, "oldest_unsynced_at": None, "last_seq": device.seq, "last_hash": device.last_hash,
        "verify_ok": True, "panel": {"connected": True}, "last_error": None})


def mixed_batch(device: Device) -> dict[str, Any]:
    """Three good ratings, one malformed rating, a good and a malformed reason, a good event."""
    good = [device.rating(level) for level in (5, 4, 1)]
    bad = {**device.rating(3), "level": 9}     # outside 1–5: rejected by the schema, whatever its hash
    device.seq -= 1                              # the terminal would not have stored it: no gap after it
    now = iso_utc(datetime.now(UTC))
    reasons = [{"id": 1, "rating_uuid": good[2]["uuid"], "code": "slow", "recorded_at": now},
               {"id": 2, "rating_uuid": good[2]["uuid"], "code": "slow", "recorded_at": "yesterday"}]
    events = [{"id": 1, "kind": "boot", "recorded_at": now, "mono_ns": 1, "boot_id": "boot-1", "detail": {}}]
    return device.batch([*good, bad], reasons=reasons, events=events)


def test_one_batch_moves_each_counter_by_exactly_what_it_held(enroll_device: Callable[..., Device],
                                                              collector: Collector) -> None:
    device = enroll_device()
    before = scrape(collector.url)
    batch = mixed_batch(device)
    ack = device.ingest(batch, gzipped=True).json()
    assert len(ack["accepted"]) == 3 and len(ack["rejected"]) == 2, ack
    again = device.ingest(device.batch(batch["ratings"][:1]))            # a lost ack: sent again, a duplicate
    assert again.json()["duplicate"] == [batch["ratings"][0]["uuid"]]
    assert device.ingest(device.batch([]), signer="dev-nobody").status_code == 401
    after = scrape(collector.url)

    assert moved(before, after, "evaluator_ratings_ingested_total") == 3
    assert moved(before, after, "evaluator_batches_total", outcome="accepted") == 2
    assert moved(before, after, "evaluator_batches_total", outcome="refused") == 1
    assert moved(before, after, "evaluator_batches_total", outcome="error") == 0
    assert moved(before, after, "evaluator_rows_rejected_total", kind="rating", reason="malformed") == 1
    assert moved(before, after, "evaluator_rows_rejected_total", kind="reason", reason="malformed") == 1
    assert moved(before, after, "evaluator_rows_rejected_total", kind="event", reason="malformed") == 0
    assert moved(before, after, "evaluator_batch_seconds_count") == 3
    assert 0 < moved(before, after, "evaluator_batch_seconds_sum") < 30
    assert value(after, "evaluator_batch_seconds_bucket", le="+Inf") == value(after, "evaluator_batch_seconds_count")
    # Every request has given its connection back; the pool keeps its configured size.
    assert value(after, "evaluator_db_pool_checked_out") == 0
    assert value(after, "evaluator_db_pool_size") >= 1


def test_devices_heard_count_heartbeats_of_the_last_hour(enroll_device: Callable[..., Device],
                                                         collector: Collector) -> None:
    enroll_device()                                   # enrolled, never heard
    talking, revoked = enroll_device(), enroll_device()
    assert value(scrape(collector.url), "evaluator_devices_heard_last_hour") == 0
    assert heartbeat(talking).status_code == 200 and heartbeat(revoked).status_code == 200
    assert collector.cli("revoke", revoked.device_id).returncode == 0
    assert value(scrape(collector.url), "evaluator_devices_heard_last_hour") == 1


def test_healthz_says_the_database_answers(collector: Collector) -> None:
    answer = requests.get(collector.url + "/healthz", timeout=TIMEOUT)
    assert answer.status_code == 200
    assert answer.json()["status"] == "ok" and answer.json()["database"] == "ok"


def test_rejection_reasons_become_a_bounded_set_of_codes() -> None:
    assert reason_code("malformed: level: Input should be less than or equal to 5") == "malformed"
    assert reason_code("conflict: the centre holds this uuid with other content") == "conflict"
    assert reason_code("conflict: the centre holds this uuid from another device") == "foreign_copy"
    assert reason_code("device_id names another enrolled device, not the signing one") == "names_other_device"
    assert reason_code("device_id is not the signing device, whose own id the chain carries from seq 3") \
        == "after_own_id"
    assert reason_code("rating 0190-… was delivered by another device") == "foreign_rating"
    assert reason_code("something new one day") == "other"
    assert [row_kind(i) for i in ("reason:7", "event:#2", "rating:3", "0190abcd-uuid")] \
        == ["reason", "event", "rating", "rating"]


# -- a centre of the test's own: its own options, its own database -------------------------------------------


@contextmanager
def own_centre(db_url: str, *options: str,
               env: dict[str, str] | None = None) -> Iterator[tuple[Collector, queue.Queue[str]]]:
    """`centre serve` with `options`; its stderr lines arrive on the queue as they are written."""
    lines: queue.Queue[str] = queue.Queue()
    with start_centre(db_url, *options, env=env, on_line=lines.put) as centre:
        yield centre, lines


def enrolled(centre: Collector) -> Device:
    unit = "unit-" + uuid_mod.uuid4().hex[:8]
    answer = requests.post(centre.url + "/v1/enroll", json={"code": centre.code(unit, "counter-1"),
                                                            "app_version": "0.1.0"}, timeout=TIMEOUT)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    return Device(centre, body["device_id"], body["secret"], body["config"], unit, "counter-1")


def next_json(lines: queue.Queue[str], **wanted: Any) -> dict[str, Any]:
    """The next log line holding every `wanted` key with its value; every line before it must be JSON too."""
    while True:
        line: dict[str, Any] = json.loads(lines.get(timeout=10))
        assert {"time", "level", "logger", "message"} <= line.keys(), line
        assert line["time"].endswith("+00:00"), line
        if all(line.get(key) == expected for key, expected in wanted.items()):
            return line


def test_json_logs_give_each_batch_its_fields_and_the_access_log(tmp_path: Path) -> None:
    with own_centre(f"sqlite:///{tmp_path / 'centre.db'}", "--log-format", "json", "--no-metrics") as (centre, lines):
        next_json(lines, logger="uvicorn.error")                        # the start-up lines are JSON already
        device = enrolled(centre)
        assert len(device.ingest(mixed_batch(device)).json()["rejected"]) == 2
        batch = next_json(lines, logger="centre.ingest")
        assert batch["level"] == "INFO" and batch["device_id"] == device.device_id
        assert (batch["ratings"], batch["accepted"], batch["duplicate"], batch["rejected"]) == (4, 3, 0, 2)
        assert batch["rejected_reasons"] == {"malformed": 2} and batch["reasons"] == 2 and batch["events"] == 1
        assert isinstance(batch["latency_ms"], float) and batch["latency_ms"] >= 0
        access = next_json(lines, logger="uvicorn.access", path="/v1/ingest")
        assert (access["method"], access["status"]) == ("POST", 200)

        assert device.ingest(device.batch([]), signer="dev-nobody").status_code == 401
        refused = next_json(lines, logger="centre.ingest", outcome="refused")
        assert (refused["level"], refused["status"], refused["device_id"]) == ("WARNING", 401, "dev-nobody")
        assert requests.get(centre.url + "/metrics", timeout=TIMEOUT).status_code == 404     # --no-metrics


def test_several_workers_share_their_figures_through_the_multiprocess_dir(tmp_path: Path) -> None:
    shared = tmp_path / "prometheus"
    shared.mkdir()
    with own_centre(f"sqlite:///{tmp_path / 'centre.db'}", env={"PROMETHEUS_MULTIPROC_DIR": str(shared)}) \
            as (centre, _):
        device = enrolled(centre)
        before = scrape(centre.url)
        assert len(device.ingest(mixed_batch(device)).json()["accepted"]) == 3
        after = scrape(centre.url)
    assert moved(before, after, "evaluator_ratings_ingested_total") == 3
    assert moved(before, after, "evaluator_batches_total", outcome="accepted") == 1
    assert moved(before, after, "evaluator_rows_rejected_total", kind="rating", reason="malformed") == 1
    assert value(after, "evaluator_db_pool_size") >= 1
    assert any(shared.glob("counter_*.db")), "the worker wrote no counter file"


@pytest.fixture
def pg_url() -> str:
    url = pg_url_or_skip("no PostgreSQL server to take away under a running centre")
    return url


def test_healthz_answers_503_while_the_database_is_gone(pg_url: str) -> None:
    with scratch_pg_database(pg_url) as db_url, own_centre(db_url) as (centre, _):
        assert requests.get(centre.url + "/healthz", timeout=TIMEOUT).json()["database"] == "ok"
        name = make_url(db_url).database
        admin = create_engine(make_url(pg_url), isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))    # its connections end too
            for _ in range(2):     # the pool's dead connection first, then a new one to a database that is no more
                gone = requests.get(centre.url + "/healthz", timeout=TIMEOUT)
                assert gone.status_code == 503, gone.text
                assert gone.json()["status"] == "unavailable" and gone.json()["database"] not in ("", "ok")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            back = requests.get(centre.url + "/healthz", timeout=TIMEOUT)
            assert back.status_code == 200 and back.json()["database"] == "ok"
        finally:
            admin.dispose()
