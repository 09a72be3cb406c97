"""POST /v1/callbacks on a real collector process (SQLite and PostgreSQL): signed, per-row, idempotent by id."""
from __future__ import annotations

from sqlalchemy import func, select

from centre.db.tables import callbacks
from tests.centre.conftest import Collector, Device

VERSION = "0123456789abcdef"


def request(device: Device, rows: list[dict], **envelope) -> dict:
    body = {"protocol": 1, "device_id": device.device_id, "sent_at": "2026-11-25T02:00:00.000000+00:00",
            "callbacks": rows, **envelope}
    return device.request("POST", "/v1/callbacks", body)


def row(rating_uuid: str, row_id: int = 1, phone: str = "13812345678", **override) -> dict:
    return {"id": row_id, "rating_uuid": rating_uuid, "phone": phone, "consent_version": VERSION,
            "requested_at": "2026-11-25T02:00:00.000000+00:00", **override}


def held(collector: Collector) -> int:
    with collector.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(callbacks)).scalar_one()


def test_stored_once_per_device_row_and_joined_to_a_rating_of_that_device(collector, enroll_device):
    device, other = enroll_device(), enroll_device()
    rating = device.rating(1)
    assert device.ingest(device.batch([rating])).status_code == 200
    first = request(device, [row(rating["uuid"], 1), row(rating["uuid"], 2, "057187654321")])
    assert first.status_code == 200, first.text
    assert first.json()["stored"] == [1, 2] and first.json()["rejected"] == []
    again = request(device, [row(rating["uuid"], 1)])
    assert again.json()["stored"] == [1] and held(collector) == 2
    stranger = request(other, [row(rating["uuid"], 1)])             # not this device's rating
    assert stranger.json()["stored"] == []
    assert "not held from this device" in stranger.json()["rejected"][0]["reason"]
    assert held(collector) == 2


def test_each_bad_row_is_refused_alone_without_echoing_the_number(collector, enroll_device):
    device = enroll_device()
    rating = device.rating(2)
    device.ingest(device.batch([rating]))
    answer = request(device, [row(rating["uuid"], 1, "12345"), row(rating["uuid"], 2, consent_version="x"),
                              row(rating["uuid"], 3, requested_at="yesterday"), "nonsense",
                              row(rating["uuid"], 4, "01065123456")])
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["stored"] == [4]
    assert [item["id"] for item in body["rejected"]] == ["callback:1", "callback:2", "callback:3", "callback:#3"]
    assert "12345" not in answer.text.replace('"callback:', "")
    assert held(collector) == 1


def test_the_envelope_must_be_the_signing_devices(collector, enroll_device):
    device, other = enroll_device(), enroll_device()
    assert request(device, [], device_id=other.device_id).status_code == 403
    assert request(device, [], protocol=9).status_code == 422
    unsigned = device.request("POST", "/v1/callbacks", {"protocol": 1}, signer="nobody")
    assert unsigned.status_code == 401
