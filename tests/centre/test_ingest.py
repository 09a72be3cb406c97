"""Ingest: idempotent per rating uuid, per (device, row id) for reasons and events; gzip bodies."""
from __future__ import annotations

import json
from datetime import timedelta, timezone

from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import select

from centre.db.tables import conflicts, ratings
from contract import Ack, iso_utc, rating_hash
from tests.centre.conftest import ago


def test_chained_batch_is_accepted_then_duplicate(enroll_device, collector):
    device = enroll_device()
    sent = [device.rating(level) for level in (5, 4, 1)]
    first = device.ingest(device.batch(sent))
    assert first.status_code == 200, first.text
    ack = Ack.model_validate(first.json())
    assert ack.accepted == [r["uuid"] for r in sent]
    assert ack.duplicate == [] and ack.rejected == []

    again = Ack.model_validate(device.ingest(device.batch(sent)).json())
    assert again.accepted == [] and again.rejected == []
    assert again.duplicate == [r["uuid"] for r in sent]
    assert collector.ratings_held(device.device_id) == 3

    with collector.engine.connect() as conn:
        stored = conn.execute(select(ratings).where(ratings.c.uuid == sent[0]["uuid"])).mappings().one()
    assert {name: stored[name] for name in sent[0]} == sent[0]
    assert stored["received_at"] and stored["corrected_at"] is None and not stored["clock_corrected"]


def test_same_uuid_other_content_is_a_recorded_conflict(enroll_device, collector):
    device = enroll_device()
    original = device.rating(5)
    assert device.ingest(device.batch([original])).json()["accepted"] == [original["uuid"]]

    edited = {**original, "level": 1}
    edited["hash"] = rating_hash(edited)
    ack = device.ingest(device.batch([edited])).json()
    assert ack["accepted"] == [] and ack["duplicate"] == []
    assert [r["id"] for r in ack["rejected"]] == [original["uuid"]]
    assert "conflict" in ack["rejected"][0]["reason"]

    with collector.engine.connect() as conn:
        held = conn.execute(select(ratings.c.level, ratings.c.conflict)
                            .where(ratings.c.uuid == original["uuid"])).one()
        recorded = conn.execute(select(conflicts).where(conflicts.c.rating_uuid == original["uuid"])).mappings().one()
    assert held.level == 5 and held.conflict
    assert recorded["sent"]["level"] == 1 and recorded["held"]["level"] == 5


def test_gzip_body_is_verified_as_sent_then_inflated(enroll_device, collector):
    device = enroll_device()
    sent = [device.rating(3) for _ in range(50)]
    answer = device.ingest(device.batch(sent), gzipped=True)
    assert answer.status_code == 200, answer.text
    assert answer.json()["accepted"] == [r["uuid"] for r in sent]
    assert collector.ratings_held(device.device_id) == 50


def test_bad_rows_are_rejected_one_by_one(enroll_device, collector):
    device = enroll_device()
    good = device.rating(4)
    out_of_range = {**device.rating(4), "level": 9}
    foreign = device.rating(2, device_id="dev-someoneelse")
    ack = device.ingest(device.batch([out_of_range, good, foreign, "not a rating"])).json()
    assert ack["accepted"] == [good["uuid"]]
    rejected = {r["id"]: r["reason"] for r in ack["rejected"]}
    assert rejected.keys() == {out_of_range["uuid"], foreign["uuid"], "rating:3"}
    assert "level" in rejected[out_of_range["uuid"]]
    assert "signing device" in rejected[foreign["uuid"]]
    assert collector.ratings_held(device.device_id) == 1


def test_a_nul_character_rejects_its_row_alone_on_every_backend(enroll_device, collector):
    """PostgreSQL cannot store U+0000 in text (SQLite can): the row is refused, never a 500 for the batch."""
    device = enroll_device()
    good = device.rating(5)
    nul = device.rating(3, staff_id="s\x00")
    answer = device.ingest(device.batch([good, nul]))
    assert answer.status_code == 200, answer.text
    ack = answer.json()
    assert ack["accepted"] == [good["uuid"]]
    assert [r["reason"] for r in ack["rejected"]] == ["malformed: staff_id: contains a NUL character"]
    assert collector.ratings_held(device.device_id) == 1


def test_reasons_and_events_are_stored_once_and_acknowledged(enroll_device):
    device = enroll_device()
    bad = device.rating(1)
    reasons = [{"id": 7, "rating_uuid": bad["uuid"], "code": "slow", "recorded_at": bad["recorded_at"]}]
    events = [{"id": 11, "kind": "unrated", "recorded_at": bad["recorded_at"], "mono_ns": 5, "boot_id": "b",
               "detail": {"staff_id": "s-1"}},
              {"id": 12, "kind": "suppressed", "recorded_at": bad["recorded_at"], "mono_ns": 6, "boot_id": "b",
               "detail": {"why": "cooldown"}},
              {"id": 0, "kind": "bad", "recorded_at": "x", "mono_ns": 1, "boot_id": "b", "detail": {}}]
    ack = device.ingest(device.batch([bad], reasons=reasons, events=events)).json()
    assert ack["reasons"] == [7] and ack["events"] == [11, 12]
    assert [r["id"] for r in ack["rejected"]] == ["event:0"]
    again = device.ingest(device.batch([bad], reasons=reasons, events=events[:2])).json()
    assert again["duplicate"] == [bad["uuid"]] and again["reasons"] == [7] and again["events"] == [11, 12]


def test_malformed_batches_are_4xx_with_a_detail(enroll_device):
    device = enroll_device()
    for payload in ({"device_id": device.device_id}, [], {"protocol": 2, "device_id": device.device_id,
                                                          "sent_at": "2026-11-25T00:00:00+00:00"},
                    {"device_id": device.device_id, "sent_at": "yesterday"}):
        answer = device.ingest(payload)
        assert answer.status_code == 422, (payload, answer.text)
        assert isinstance(answer.json()["detail"], str)
    answer = device.request("POST", "/v1/ingest", body=b"\x1f\x8bnot gzip", headers={"Content-Encoding": "gzip"})
    assert answer.status_code == 422
    answer = device.request("POST", "/v1/ingest", body=b"{}", headers={"Content-Encoding": "br"})
    assert answer.status_code == 415


def test_reports_count_a_rating_by_its_time_in_utc_whatever_offset_it_was_sent_with(enroll_device, collector):
    device = enroll_device()
    utc = device.rating(5, recorded_at=ago(minutes=1))
    moment = ago(minutes=2).astimezone(timezone(timedelta(hours=8)))
    beijing = {**device.rating(4), "recorded_at": moment.isoformat(timespec="microseconds")}   # the chain's last
    beijing["hash"] = rating_hash(beijing)
    assert device.ingest(device.batch([utc, beijing])).json()["accepted"] == [utc["uuid"], beijing["uuid"]]
    with collector.engine.connect() as conn:
        counted = dict(conn.execute(select(ratings.c.uuid, ratings.c.counted_at)
                                    .where(ratings.c.device_id == device.device_id)).all())
    assert counted[utc["uuid"]] == utc["recorded_at"]                     # already canonical: kept as sent
    assert beijing["recorded_at"].endswith("+08:00")
    assert counted[beijing["uuid"]] == iso_utc(moment) and counted[beijing["uuid"]].endswith("+00:00")


_VALID_ROW = {"uuid": "0193c3a0-1234-7abc-8def-0123456789ab", "seq": 1, "device_id": "dev-1", "unit_id": "u",
              "counter_id": "c", "staff_id": None, "case_no": None, "level": 5, "channel": "touch", "mode": "open",
              "recorded_at": "2026-11-27T06:00:00.000000+00:00", "mono_ns": 1, "boot_id": "b", "clock_suspect": False,
              "app_version": "1", "prev_hash": "0" * 64, "hash": "1" * 64}
_ODD_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-10, 10), st.sampled_from(
    ["", "x", "0" * 36, "0" * 64, "2026-A-1", "2026-11-27T06:00:00+00:00", 5.0, 2 ** 70, [], {}]))


@hsettings(max_examples=300, deadline=None)
@given(changes=st.dictionaries(st.sampled_from([*_VALID_ROW, "extra"]), _ODD_VALUES, max_size=3),
       dropped=st.sets(st.sampled_from(list(_VALID_ROW)), max_size=2))
def test_the_one_pass_parse_accepts_and_yields_exactly_what_the_wire_model_does(changes, dropped):
    """The well-formed fast path validates rows as a TypedDict made from RatingRecord: same verdict, same values."""
    from pydantic import ValidationError

    from centre.ingest import _WellFormed
    from contract import RatingRecord

    row = {key: value for key, value in {**_VALID_ROW, **changes}.items() if key not in dropped}
    body = json.dumps({"device_id": "dev-1", "sent_at": "2026-11-27T06:00:00+00:00", "ratings": [row]})
    try:
        expected = RatingRecord.model_validate_json(json.dumps(row)).model_dump()
    except ValidationError:
        expected = None
    try:
        got = _WellFormed.model_validate_json(body).ratings[0]
    except ValidationError:
        got = None
    assert got == expected
