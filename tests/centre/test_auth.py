"""Signed requests: every refusal is a 401 or 403, and nothing from a refused request is stored."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
import requests
from sqlalchemy import select

from centre.db.tables import devices
from contract import HEADER_DEVICE, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP, canonical_json, iso_utc, sign
from tests.centre.conftest import TIMEOUT, ago


def refused(device, answer, status: int) -> None:
    assert answer.status_code == status, answer.text
    assert isinstance(answer.json()["detail"], str)
    assert device.collector.ratings_held(device.device_id) == 0


def test_forged_signature(enroll_device):
    device = enroll_device()
    answer = device.ingest(device.batch([device.rating()]), headers={HEADER_SIGNATURE: "0" * 64})
    refused(device, answer, 401)
    assert answer.json()["detail"] == "bad signature"


def test_body_changed_after_signing(enroll_device):
    device = enroll_device()
    headers = sign(device.secret, "POST", "/v1/ingest", device.device_id,
                   canonical_json(device.batch([device.rating(5)])))
    tampered = canonical_json(device.batch([device.rating(1)]))
    answer = requests.post(device.collector.url + "/v1/ingest", data=tampered, headers=headers, timeout=TIMEOUT)
    refused(device, answer, 401)


@pytest.mark.parametrize("missing", [HEADER_DEVICE, HEADER_TIMESTAMP, HEADER_NONCE, HEADER_SIGNATURE])
def test_missing_header(enroll_device, missing):
    device = enroll_device()
    answer = device.ingest(device.batch([device.rating()]), headers={missing: ""})
    refused(device, answer, 401)


def test_unknown_device(enroll_device):
    device = enroll_device()
    answer = device.ingest(device.batch([device.rating()]), signer="dev-0000000000")
    refused(device, answer, 401)


def test_another_devices_id_in_the_batch(enroll_device):
    device, other = enroll_device(), enroll_device()
    answer = device.ingest(device.batch([other.rating()], device_id=other.device_id))
    refused(device, answer, 403)
    assert other.collector.ratings_held(other.device_id) == 0


@pytest.mark.parametrize("skew", [{"seconds": 301}, {"seconds": -400}, {"days": 1}])
def test_stale_or_future_timestamp(enroll_device, skew):
    device = enroll_device()
    answer = device.ingest(device.batch([device.rating()]), now=ago(**skew))
    refused(device, answer, 401)
    assert "timestamp" in answer.json()["detail"]


def test_replayed_nonce(enroll_device):
    device = enroll_device()
    first = device.ingest(device.batch([device.rating()]), nonce="onceonly42")
    assert first.status_code == 200
    replay = device.ingest(device.batch([device.rating()]), nonce="onceonly42")
    assert replay.status_code == 401
    assert "nonce" in replay.json()["detail"]
    assert device.collector.ratings_held(device.device_id) == 1


def test_a_replayed_heartbeat_is_refused_and_stores_nothing(enroll_device, collector):
    """The heartbeat records its nonce in the transaction that stores it, as a batch does: a replay is a 401
    and leaves the device's last heartbeat as the first one set it."""
    device = enroll_device()
    beat = {"device_id": device.device_id, "sent_at": iso_utc(datetime.now(UTC)), "app_version": "0.1.0",
            "queue_depth": 0, "oldest_unsynced_at": None, "last_seq": device.seq, "last_hash": device.last_hash,
            "verify_ok": True,
            "panel": {"connected": True}, "last_error": None}
    assert device.request("POST", "/v1/heartbeat", beat, nonce="beatonce42").status_code == 200
    stored = _last_seen(collector, device.device_id)
    replay = device.request("POST", "/v1/heartbeat", {**beat, "queue_depth": 7}, nonce="beatonce42")
    assert replay.status_code == 401 and "nonce" in replay.json()["detail"]
    assert _last_seen(collector, device.device_id) == stored
    assert device.request("POST", "/v1/heartbeat", {**beat, "queue_depth": 7}).status_code == 200
    assert _last_seen(collector, device.device_id)[1]["queue_depth"] == 7


def _last_seen(collector, device_id: str) -> tuple[str, dict]:
    with collector.engine.connect() as conn:
        row = conn.execute(select(devices.c.last_seen, devices.c.last_heartbeat)
                           .where(devices.c.id == device_id)).one()
    return row.last_seen, row.last_heartbeat


def test_bad_nonce_format(enroll_device):
    device = enroll_device()
    refused(device, device.ingest(device.batch([device.rating()]), nonce="short"), 401)
    refused(device, device.ingest(device.batch([device.rating()]), nonce="not-alnum-nonce"), 401)


def test_revoked_device_is_forbidden_everywhere(enroll_device, collector):
    device = enroll_device()
    result = collector.cli("revoke", device.device_id)
    assert result.returncode == 0, result.stderr
    refused(device, device.ingest(device.batch([device.rating()])), 403)
    assert device.request("GET", "/v1/config").status_code == 403
    assert collector.cli("revoke", device.device_id).stdout.strip().endswith("already revoked")
