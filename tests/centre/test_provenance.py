"""Whose rows a device may deliver and where they count (issue 14, items 1 and 2), on SQLite and PostgreSQL.

Ratings a terminal recorded before enrollment, under its default identity, arrive with the enrolled
device, count in no unit's score and leave no gap; what a device claims about other devices (their
unit, their ratings) is never believed.
"""
from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import requests
from sqlalchemy import select

from centre.db.tables import conflicts, ratings
from centre.enroll import DEFAULT_TIMEZONE
from contract import iso_utc
from tests.centre.conftest import TIMEOUT, Collector, Device

DEFAULT_IDENTITY = {"device_id": "dev-0001", "unit_id": "unit-0001", "counter_id": "counter-01"}


def summary(collector: Collector, unit: str, **params: str) -> dict:
    day = datetime.now(UTC).astimezone(ZoneInfo(DEFAULT_TIMEZONE)).date().isoformat()   # today in the unit's zone
    # A read route answers only an API token (issue 15, item 7): no anonymous reads.
    answer = requests.get(collector.url + "/v1/reports/summary", params={"unit": unit, "date": day, **params},
                          headers=collector.bearer(), timeout=TIMEOUT)
    assert answer.status_code == 200, answer.text
    return answer.json()


def integrity_of(collector: Collector, device: Device) -> dict:
    answer = requests.get(collector.url + "/v1/integrity", headers=collector.bearer(), timeout=TIMEOUT)
    assert answer.status_code == 200, answer.text
    return next(item for item in answer.json()["devices"] if item["device_id"] == device.device_id)


def reason(row_id: int, rating: dict, code: str = "slow") -> dict:
    return {"id": row_id, "rating_uuid": rating["uuid"], "code": code, "recorded_at": rating["recorded_at"]}


def test_ratings_recorded_before_enrollment_arrive_apart_and_leave_no_gap(enroll_device, collector):
    device = enroll_device()
    # An installer's test presses, under the terminal's default identity; the chain goes on after enrollment.
    early = [device.rating(level, **DEFAULT_IDENTITY) for level in (5, 1)]
    own = [device.rating(level) for level in (5, 4, 2)]
    answer = device.ingest(device.batch([*early, *own], reasons=[reason(1, early[1]), reason(2, own[2], "rude")]))
    assert answer.status_code == 200, answer.text
    ack = answer.json()
    assert ack["accepted"] == [row["uuid"] for row in (*early, *own)] and ack["rejected"] == []
    assert ack["reasons"] == [1, 2]

    with collector.engine.connect() as conn:
        stored = {row.uuid: row for row in conn.execute(select(ratings).where(ratings.c.delivered_by
                                                                              == device.device_id))}
    assert {stored[row["uuid"]].device_id for row in early} == {"dev-0001"}       # the content as sent
    assert [bool(stored[row["uuid"]].before_enrollment) for row in (*early, *own)] == [True, True, False, False,
                                                                                      False]
    assert {stored[row["uuid"]].placed_unit_id for row in (*early, *own)} == {device.unit_id}

    report = integrity_of(collector, device)
    assert report["gaps"] == [] and report["chain_breaks"] == [] and report["conflicts"] == 0
    assert (report["ratings_held"], report["last_seq"], report["before_enrollment"]) == (5, 5, 2)
    assert report["placement_mismatches"] == 0

    day = summary(collector, device.unit_id)
    assert day["total"] == 3 and day["by_level"] == {"1": 0, "2": 1, "3": 0, "4": 1, "5": 1}
    assert day["before_enrollment"] == 2 and day["bad_reasons"] == {"rude": 1}   # the test press's reason: no
    assert summary(collector, device.unit_id, counter=device.counter_id)["before_enrollment"] == 2

    again = device.ingest(device.batch([*early, *own])).json()                  # an ack lost: all duplicates
    assert again["duplicate"] == [row["uuid"] for row in (*early, *own)] and again["rejected"] == []


def test_a_batch_of_only_early_ratings_then_the_devices_own(enroll_device, collector):
    device = enroll_device()
    early = [device.rating(3, **DEFAULT_IDENTITY) for _ in range(3)]
    assert device.ingest(device.batch(early)).json()["accepted"] == [row["uuid"] for row in early]
    own = device.rating(5)
    late = device.rating(4, **DEFAULT_IDENTITY)                                   # after the device's own id
    ack = device.ingest(device.batch([own, late])).json()
    assert ack["accepted"] == [own["uuid"]]
    assert [(r["id"], "seq 4" in r["reason"]) for r in ack["rejected"]] == [(late["uuid"], True)]
    report = integrity_of(collector, device)
    assert report["before_enrollment"] == 3 and report["gaps"] == [] and report["last_seq"] == 4


def test_a_row_naming_another_enrolled_device_is_refused(enroll_device, collector):
    device, other = enroll_device(), enroll_device()
    claimed = device.rating(5, device_id=other.device_id, unit_id=other.unit_id, counter_id=other.counter_id)
    ack = device.ingest(device.batch([claimed, device.rating(5)])).json()
    assert [r["id"] for r in ack["rejected"]] == [claimed["uuid"]]
    assert "another enrolled device" in ack["rejected"][0]["reason"]
    assert summary(collector, other.unit_id)["total"] == 0
    assert integrity_of(collector, other)["ratings_held"] == 0


def test_a_rating_claiming_another_units_counter_counts_where_the_device_stands(enroll_device, collector):
    device, other = enroll_device(), enroll_device(counter="c-9")
    forged = device.rating(1, unit_id=other.unit_id, counter_id=other.counter_id)
    honest = device.rating(5)
    ack = device.ingest(device.batch([forged, honest])).json()
    assert ack["accepted"] == [forged["uuid"], honest["uuid"]]      # the content is evidence: kept as sent

    assert summary(collector, other.unit_id)["total"] == 0
    mine = summary(collector, device.unit_id)
    assert mine["total"] == 2 and mine["by_level"]["1"] == 1
    assert summary(collector, device.unit_id, counter=device.counter_id)["total"] == 2
    assert integrity_of(collector, device)["placement_mismatches"] == 1
    with collector.engine.connect() as conn:
        row = conn.execute(select(ratings).where(ratings.c.uuid == forged["uuid"])).mappings().one()
    assert (row["unit_id"], row["placed_unit_id"], row["placement_differs"]) == (other.unit_id, device.unit_id, True)


def test_reasons_and_events_about_another_devices_rating_are_refused(enroll_device, collector):
    device, other = enroll_device(), enroll_device()
    theirs = other.rating(2)
    assert other.ingest(other.batch([theirs])).json()["accepted"] == [theirs["uuid"]]
    before = summary(collector, other.unit_id)
    assert before["bad_reasons"] == {}

    mine = device.rating(1)
    event = {"id": 5, "kind": "callback_requested", "recorded_at": iso_utc(datetime.now(UTC)), "mono_ns": 1,
             "boot_id": "b", "detail": {"callback_id": 1, "rating_uuid": theirs["uuid"]}}
    ack = device.ingest(device.batch([mine], reasons=[reason(7, theirs), reason(8, mine)], events=[event])).json()
    assert ack["accepted"] == [mine["uuid"]] and ack["reasons"] == [8] and ack["events"] == []
    refused = {r["id"]: r["reason"] for r in ack["rejected"]}
    assert refused == {"reason:7": f"rating {theirs['uuid']} was delivered by another device",
                       "event:5": f"rating {theirs['uuid']} was delivered by another device"}
    assert summary(collector, other.unit_id) == before
    assert summary(collector, device.unit_id)["bad_reasons"] == {"slow": 1}


def test_a_reason_may_travel_before_its_rating(enroll_device, collector):
    """The outbox sends reasons by id and ratings by seq: in a backlog a reason can precede its rating."""
    device = enroll_device()
    later = device.rating(1)
    ack = device.ingest(device.batch([], reasons=[reason(1, later)])).json()
    assert ack["reasons"] == [1] and ack["rejected"] == []
    assert device.ingest(device.batch([later])).json()["accepted"] == [later["uuid"]]
    assert summary(collector, device.unit_id)["bad_reasons"] == {"slow": 1}


def test_a_copy_of_another_devices_uuid_never_flags_that_devices_rating(enroll_device, collector):
    device, other = enroll_device(), enroll_device()
    theirs = other.rating(5)
    other.ingest(other.batch([theirs]))
    copy = device.rating(1, uuid=theirs["uuid"])
    ack = device.ingest(device.batch([copy])).json()
    assert [r["id"] for r in ack["rejected"]] == [theirs["uuid"]]
    assert "another device" in ack["rejected"][0]["reason"]
    assert integrity_of(collector, other)["conflicts"] == 0 and integrity_of(collector, other)["ratings_held"] == 1
    with collector.engine.connect() as conn:                       # kept as evidence, against the sender
        evidence = conn.execute(select(conflicts.c.device_id).where(conflicts.c.rating_uuid == theirs["uuid"]))
        assert evidence.scalars().all() == [device.device_id]
