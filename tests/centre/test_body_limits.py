"""Bodies over the limits of docs/sync-protocol.md ("Body limits") are refused with 413 before they are held.

Against real `centre serve` processes of this module's own, on SQLite (the limits are the HTTP layer's; the
backend plays no part): one with the default limits, whose memory is watched through /proc, and one
started with small limits to probe the exact boundary.
"""
from __future__ import annotations

import gzip
import hashlib
import hmac
import http.client
import json
import secrets
import socket
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from centre.api.limits import DEFAULT_LIMITS, MIB
from centre.db.engine import open_engine
from contract import HEADER_DEVICE, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP, canonical_json
from tests.centre.conftest import REPO, START_TIMEOUT_S, TIMEOUT, Collector, Device, free_port

CHUNK = 64 * 1024
HUGE = 64 * MIB                   # what the client sent (200 MB there), far over the 8 MiB default
BOMB = 256 * MIB                  # zeros; about 0.25 MiB gzipped
SMALL_BODY, SMALL_INFLATED = 256 * 1024, 512 * 1024


def _serve(folder: Path, *extra: str) -> Iterator[Collector]:
    db_url = f"sqlite:///{folder / 'centre.db'}"
    engine = open_engine(db_url)
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "centre.cli", "serve", "--db", db_url, "--host", "127.0.0.1",
                                "--port", str(port), *extra], cwd=REPO, stderr=subprocess.PIPE,
                               stdout=subprocess.DEVNULL, text=True)
    ready, log = threading.Event(), []

    def drain() -> None:
        for line in process.stderr or ():
            log.append(line)
            if "Uvicorn running on" in line:
                ready.set()
        ready.set()

    threading.Thread(target=drain, daemon=True).start()
    try:
        assert ready.wait(START_TIMEOUT_S) and process.poll() is None, "".join(log)
        yield Collector(url=f"http://127.0.0.1:{port}", db_url=db_url, engine=engine, process=process, log=log)
    finally:
        process.terminate()
        process.wait(timeout=10)
        engine.dispose()


@pytest.fixture(scope="module")
def default_centre(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Collector]:
    yield from _serve(tmp_path_factory.mktemp("default"))


@pytest.fixture(scope="module")
def small_centre(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Collector]:
    yield from _serve(tmp_path_factory.mktemp("small"), "--max-body-mib", str(SMALL_BODY / MIB),
                      "--max-inflated-mib", str(SMALL_INFLATED / MIB))


def _device(centre: Collector) -> Device:
    unit = "unit-" + secrets.token_hex(4)
    answer = requests.post(centre.url + "/v1/enroll", json={"code": centre.code(unit, "counter-1"),
                                                           "app_version": "0.1.0"}, timeout=TIMEOUT)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    return Device(centre, body["device_id"], body["secret"], body["config"], unit, "counter-1")


def _status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak) of a process, in bytes."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return {name: int(fields[name].split()[0]) * 1024 for name in ("VmRSS", "VmHWM")}


def _peak_growth(centre: Collector, send: Callable[[], requests.Response]) -> tuple[requests.Response, int]:
    """The answer to `send()` and how far the server's peak RSS rose above its RSS while it was answered."""
    pid = centre.process.pid
    assert requests.get(centre.url + "/healthz", timeout=TIMEOUT).status_code == 200   # warm
    Path(f"/proc/{pid}/clear_refs").write_text("5")   # peak := current (Linux ≥ 4.0)
    before = _status(pid)["VmRSS"]
    answer = send()
    return answer, _status(pid)["VmHWM"] - before


def _streamed_headers(device: Device, path: str, digest: str) -> dict[str, str]:
    """contract.sign's headers for a body known only by its SHA-256 (the string-to-sign of the protocol)."""
    timestamp, nonce = str(int(time.time())), secrets.token_hex(16)
    text = "\n".join(["POST", path, device.device_id, timestamp, nonce, digest]).encode("utf-8")
    mac = hmac.new(device.secret.encode("utf-8"), text, hashlib.sha256).hexdigest()
    return {HEADER_DEVICE: device.device_id, HEADER_TIMESTAMP: timestamp, HEADER_NONCE: nonce,
            HEADER_SIGNATURE: mac}


def _padded_batch(device: Device) -> Callable[[], Iterator[bytes]]:
    """A valid, signed-able empty batch followed by HUGE bytes of JSON whitespace, made chunk by chunk."""
    head = canonical_json(device.batch([]))

    def chunks() -> Iterator[bytes]:
        yield head
        blank = b" " * CHUNK
        for _ in range(HUGE // CHUNK):
            yield blank
    return chunks


def test_a_plain_body_over_the_limit_is_refused_before_it_is_read(default_centre: Collector) -> None:
    device = _device(default_centre)
    chunks = _padded_batch(device)
    digest = hashlib.sha256()
    for chunk in chunks():
        digest.update(chunk)
    headers = {**_streamed_headers(device, "/v1/ingest", digest.hexdigest()), "Content-Type": "application/json"}
    # A generator: sent chunked, without Content-Length, so the server must count as it reads.
    answer, growth = _peak_growth(default_centre, lambda: requests.post(
        default_centre.url + "/v1/ingest", data=chunks(), headers=headers, timeout=TIMEOUT))
    assert answer.status_code == 413, answer.text
    assert answer.json() == {"detail": "request body is over the limit of 8,388,608 bytes (8 MiB)"}
    assert growth < DEFAULT_LIMITS.body + 16 * MIB < HUGE, f"peak RSS grew by {growth / MIB:.1f} MiB"
    assert requests.get(default_centre.url + "/healthz", timeout=TIMEOUT).status_code == 200


def test_a_declared_length_over_the_limit_is_refused_before_any_byte_of_the_body(default_centre: Collector) -> None:
    with socket.create_connection(("127.0.0.1", int(default_centre.url.rsplit(":", 1)[1])), timeout=10) as sock:
        sock.sendall(b"POST /v1/ingest HTTP/1.1\r\nHost: centre\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n" % HUGE)
        answer = http.client.HTTPResponse(sock)   # not one byte of the body sent: the answer must come anyway
        answer.begin()
        assert answer.status == 413
        assert json.loads(answer.read()) == {"detail": "request body is over the limit of 8,388,608 bytes (8 MiB)"}


def test_a_gzip_bomb_is_refused_without_inflating_it(default_centre: Collector) -> None:
    device = _device(default_centre)
    deflate = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(MIB)
    bomb = b"".join(deflate.compress(zeros) for _ in range(BOMB // MIB)) + deflate.flush()
    assert len(bomb) < MIB
    answer, growth = _peak_growth(default_centre, lambda: device.request("POST", "/v1/ingest", body=bomb,
                                                                        gzipped=True))
    assert answer.status_code == 413, answer.text
    assert answer.json() == {"detail": "gzip body inflated is over the limit of 16,777,216 bytes (16 MiB)"}
    # zlib builds its output in blocks and joins them: up to twice the limit, for a moment; never the bomb.
    assert growth < 2 * DEFAULT_LIMITS.inflated + 16 * MIB < BOMB, f"peak RSS grew by {growth / MIB:.1f} MiB"
    assert default_centre.ratings_held(device.device_id) == 0


def test_a_full_batch_with_the_largest_fields_fits_the_defaults(default_centre: Collector) -> None:
    device = _device(default_centre)
    ratings = [device.rating(1, staff_id="s" * 40, case_no="c" * 40, item_code="i" * 64, app_version="10.20.30.dev40")
               for _ in range(500)]
    reasons = [{"id": n + 1, "rating_uuid": rating["uuid"], "code": "waiting_too_long",
                "recorded_at": rating["recorded_at"]} for n, rating in enumerate(ratings)]
    answer = device.ingest(device.batch(ratings, reasons=reasons), gzipped=True)
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["accepted"]) == 500, answer.json()["rejected"][:2]


def _heartbeat(device: Device, size: int) -> bytes:
    """A valid heartbeat of exactly `size` bytes of JSON (padded in last_error)."""
    def beat(pad: int) -> bytes:
        return canonical_json({"device_id": device.device_id, "sent_at": "2026-11-25T02:00:00+00:00",
                               "app_version": "0.1.0", "queue_depth": 0, "oldest_unsynced_at": None,
                               "last_seq": 0, "last_hash": "0" * 64, "last_error": "x" * pad})
    body = beat(size - len(beat(0)))
    assert len(body) == size
    return body


@pytest.mark.parametrize("gzipped", [False, True], ids=["plain", "gzip"])
def test_a_body_at_the_limit_is_taken_and_one_byte_more_is_refused(small_centre: Collector, gzipped: bool) -> None:
    device = _device(small_centre)
    limit = SMALL_INFLATED if gzipped else SMALL_BODY

    def send(size: int) -> requests.Response:
        body = _heartbeat(device, size)
        return device.request("POST", "/v1/heartbeat", body=gzip.compress(body) if gzipped else body,
                              gzipped=gzipped)

    at_limit = send(limit)
    assert at_limit.status_code == 200, at_limit.text
    over = send(limit + 1)
    assert over.status_code == 413, over.text
    assert f"{limit:,} bytes" in over.json()["detail"]


def test_enroll_is_limited_too(small_centre: Collector) -> None:
    """FastAPI reads /v1/enroll's body itself: the limit holds there as well, as JSON."""
    body: dict[str, Any] = {"code": "x" * SMALL_BODY, "app_version": "0.1.0"}
    answer = requests.post(small_centre.url + "/v1/enroll", json=body, timeout=TIMEOUT)
    assert answer.status_code == 413, answer.text
    assert answer.json()["detail"].startswith("request body is over the limit of 262,144 bytes")


def test_serve_refuses_a_limit_that_is_not_a_size() -> None:
    done = subprocess.run([sys.executable, "-m", "centre.cli", "serve", "--max-body-mib", "0"], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "--max-body-mib" in done.stderr and "(0, 1024]" in done.stderr
