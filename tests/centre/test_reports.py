"""What the office reads: corrected clocks, day summaries, integrity, heartbeats and config."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import requests
from sqlalchemy import select, update

from centre import chains, reports
from centre.db.tables import devices, ratings
from contract import GENESIS_HASH, iso_utc
from tests.centre.conftest import TIMEOUT

SHANGHAI = timezone(timedelta(hours=8))


def summary(collector, **params: str) -> dict:
    # A read route answers only an API token (issue 15, item 7): no anonymous reads.
    answer = requests.get(collector.url + "/v1/reports/summary", params=params, headers=collector.bearer(),
                          timeout=TIMEOUT)
    assert answer.status_code == 200, answer.text
    return answer.json()


def device_report(collector, device_id: str) -> dict:
    answer = requests.get(collector.url + "/v1/integrity", headers=collector.bearer(), timeout=TIMEOUT)
    assert answer.status_code == 200, answer.text
    return next(item for item in answer.json()["devices"] if item["device_id"] == device_id)


def heartbeat(device, last_seq: int, verify_ok: bool | None = True) -> requests.Response:
    return device.request("POST", "/v1/heartbeat", {
        "device_id": device.device_id, "sent_at": iso_utc(datetime.now(UTC)), "app_version": "0.1.0",
        "queue_depth": 0, "oldest_unsynced_at": None, "last_seq": last_seq, "last_hash": device.last_hash,
        "verify_ok": verify_ok, "panel": {"connected": True}, "last_error": None})


def test_a_clock_a_day_behind_is_corrected_and_flagged(enroll_device, collector):
    device = enroll_device()
    now = datetime.now(UTC)
    behind = now - timedelta(days=1)
    late = device.rating(5, recorded_at=behind - timedelta(minutes=5))
    ack = device.ingest(device.batch([late], sent_at=behind)).json()
    assert ack["accepted"] == [late["uuid"]]
    with collector.engine.connect() as conn:
        row = conn.execute(select(ratings).where(ratings.c.uuid == late["uuid"])).mappings().one()
    assert row["clock_corrected"] and row["recorded_at"] == late["recorded_at"]
    corrected = datetime.fromisoformat(row["corrected_at"])
    assert abs(corrected - (now - timedelta(minutes=5))) < timedelta(seconds=30)


def test_a_suspect_clock_is_corrected_even_when_close(enroll_device, collector):
    device = enroll_device()
    suspect = device.rating(4, clock_suspect=True)
    device.ingest(device.batch([suspect]))
    with collector.engine.connect() as conn:
        row = conn.execute(select(ratings).where(ratings.c.uuid == suspect["uuid"])).mappings().one()
    assert row["clock_corrected"] and row["corrected_at"] is not None


def test_summary_counts_the_units_local_day(enroll_device, collector):
    device = enroll_device(counter="c-1")
    other_counter = enroll_device(unit=device.unit_id, counter="c-2")
    # 2026-03-10 in Shanghai runs from 03-09T16:00Z to 03-10T16:00Z.
    inside = datetime(2026, 3, 9, 16, 30, tzinfo=UTC)
    outside = datetime(2026, 3, 10, 16, 0, tzinfo=UTC)
    rows = [device.rating(level, recorded_at=inside) for level in (5, 5, 4, 3, 2, 1)]
    rows.append(device.rating(5, recorded_at=outside))
    rows.append(device.rating(1, recorded_at=inside, staff_id="s-2"))
    reasons = [{"id": 1, "rating_uuid": rows[4]["uuid"], "code": "slow", "recorded_at": iso_utc(inside)},
               {"id": 2, "rating_uuid": rows[5]["uuid"], "code": "slow", "recorded_at": iso_utc(inside)},
               {"id": 3, "rating_uuid": rows[5]["uuid"], "code": "rude", "recorded_at": iso_utc(inside)}]
    event = {"recorded_at": iso_utc(inside), "mono_ns": 1, "boot_id": "b"}
    events = [{"id": 1, "kind": "unrated", "detail": {"staff_id": "s-1"}, **event},
              {"id": 2, "kind": "unrated", "detail": {"staff_id": "s-2"}, **event},
              {"id": 3, "kind": "suppressed", "detail": {"why": "cooldown"}, **event},
              {"id": 4, "kind": "started", "detail": {}, **event}]
    sent_at = datetime.now(UTC)   # the devices' clocks are right: no correction
    assert device.ingest(device.batch(rows, reasons=reasons, events=events, sent_at=sent_at)).status_code == 200
    assert other_counter.ingest(other_counter.batch([other_counter.rating(1, recorded_at=inside)],
                                                    sent_at=sent_at)).status_code == 200

    day = summary(collector, unit=device.unit_id, date="2026-03-10")
    assert day == {"date": "2026-03-10", "total": 8, "by_level": {"1": 3, "2": 1, "3": 1, "4": 1, "5": 2},
                   "good_rate": 0.5, "bad_reasons": {"rude": 1, "slow": 2}, "unrated": 2, "suppressed": 1,
                   "before_enrollment": 0, "excluded": 0}
    counter = summary(collector, unit=device.unit_id, date="2026-03-10", counter="c-1")
    assert counter["total"] == 7 and counter["by_level"]["1"] == 2
    staff = summary(collector, unit=device.unit_id, date="2026-03-10", staff="s-2")
    assert (staff["total"], staff["unrated"], staff["suppressed"]) == (1, 1, 0)
    empty = summary(collector, unit=device.unit_id, date="2026-03-12")
    assert empty["total"] == 0 and empty["good_rate"] is None

    cli = collector.cli("summary", "--unit", device.unit_id, "--date", "2026-03-10", "--json")
    assert cli.returncode == 0, cli.stderr
    assert json.loads(cli.stdout) == day


def test_summary_refuses_bad_queries(collector, enroll_device):
    device = enroll_device()
    base, token = collector.url + "/v1/reports/summary", collector.bearer()
    for params, status in (({"unit": "no-such-unit", "date": "2026-03-10"}, 404),
                           ({"unit": device.unit_id, "date": "2026-02-30"}, 422),
                           ({"unit": device.unit_id}, 422),
                           ({"unit": device.unit_id, "date": "9999-12-31"}, 422)):
        answer = requests.get(base, params=params, headers=token, timeout=TIMEOUT)
        assert answer.status_code == status, (params, answer.text)
        assert isinstance(answer.json()["detail"], str)


def test_integrity_finds_a_gap_and_a_chain_break(enroll_device, collector):
    device = enroll_device()
    rows = [device.rating() for _ in range(6)]
    tampered = {**rows[2], "level": 1}           # edited after hashing: the old hash no longer recomputes
    sent = [rows[0], rows[1], tampered, rows[3], rows[5]]   # seq 5 was deleted before sending
    assert device.ingest(device.batch(sent)).status_code == 200
    report = device_report(collector, device.device_id)
    assert report["gaps"] == [[5, 5]]
    assert report["chain_breaks"] == [3]
    assert (report["last_seq"], report["last_hash"]) == (6, rows[5]["hash"])
    assert report["ratings_held"] == 5 and not report["missing_tail"]
    result = collector.cli("integrity", "--json")
    assert result.returncode == 1
    printed = json.loads(result.stdout)
    assert printed["ok"] is False
    assert any(item["device_id"] == device.device_id for item in printed["devices"])


def test_integrity_finds_a_replaced_link(enroll_device, collector):
    device = enroll_device()
    first = device.rating()
    device.last_hash = GENESIS_HASH               # the next rating no longer links to the first
    second = device.rating()
    device.ingest(device.batch([first, second]))
    assert device_report(collector, device.device_id)["chain_breaks"] == [2]


def test_heartbeat_with_a_lower_last_seq_is_a_missing_tail(enroll_device, collector):
    device = enroll_device()
    device.ingest(device.batch([device.rating() for _ in range(4)]))
    assert heartbeat(device, last_seq=4).status_code == 200
    report = device_report(collector, device.device_id)
    assert not report["missing_tail"] and report["verify_ok"] is True and report["gaps"] == []
    assert report["chain_breaks"] == [] and report["heartbeat_last_seq"] == 4

    answer = heartbeat(device, last_seq=2, verify_ok=False)
    assert answer.status_code == 200 and "server_time" in answer.json()
    report = device_report(collector, device.device_id)
    assert report["missing_tail"] and report["verify_ok"] is False and report["last_seen"]


def test_odd_stored_heartbeats_read_as_what_they_can_say_and_never_fail_the_report(enroll_device, collector):
    """Heartbeats stored before the contract checked them (an old collector's database): a lenient bool is read,
    a value that says nothing reads as none; the API, the report and the fleet's view agree."""
    said, odd, quiet = enroll_device(), enroll_device(), enroll_device()
    for device in (said, odd):
        device.ingest(device.batch([device.rating() for _ in range(4)]))
    with collector.engine.begin() as conn:
        for device, beat in ((said, {"last_seq": 2, "verify_ok": "false"}),
                             (odd, {"last_seq": "4", "verify_ok": "perhaps"}), (quiet, None)):
            conn.execute(update(devices).where(devices.c.id == device.device_id).values(last_heartbeat=beat))
    report = {item.device_id: item for item in reports.integrity(collector.engine).devices}
    assert (report[said.device_id].heartbeat_last_seq, report[said.device_id].missing_tail,
            report[said.device_id].verify_ok) == (2, True, False)
    assert (report[odd.device_id].heartbeat_last_seq, report[odd.device_id].missing_tail,
            report[odd.device_id].verify_ok, report[odd.device_id].ok) == (None, False, None, True)
    assert (report[quiet.device_id].ratings_held, report[quiet.device_id].last_seq,
            report[quiet.device_id].ok) == (0, None, True)
    for device in (said, odd, quiet):
        assert device_report(collector, device.device_id) == report[device.device_id].model_dump(mode="json")
        with collector.engine.connect() as conn:
            row = conn.execute(select(devices).where(devices.c.id == device.device_id)).mappings().one()
            chain = chains.stored(conn).get(device.device_id) or chains.Chain(device.device_id)
        assert reports.device_integrity(row, chain) == report[device.device_id]       # the fleet's way
        assert reports.integrity_ok(chain, row["last_heartbeat"]) is report[device.device_id].ok


def test_heartbeat_for_another_device_is_forbidden(enroll_device):
    device, other = enroll_device(), enroll_device()
    payload = {"device_id": other.device_id, "sent_at": iso_utc(datetime.now(UTC)),
               "app_version": "0.1.0", "queue_depth": 0, "oldest_unsynced_at": None, "last_seq": 0,
               "last_hash": GENESIS_HASH}
    assert device.request("POST", "/v1/heartbeat", payload).status_code == 403
    assert device.request("POST", "/v1/heartbeat", {"device_id": device.device_id}).status_code == 422


def test_config_has_an_etag_and_answers_304_when_unchanged(enroll_device):
    device = enroll_device(unit_name="西城政务中心", timezone_name="Asia/Urumqi")
    first = device.request("GET", "/v1/config")
    assert first.status_code == 200, first.text
    assert first.json() == device.config
    assert first.json()["unit"]["timezone"] == "Asia/Urumqi"
    etag = first.headers["ETag"]
    unchanged = device.request("GET", "/v1/config", headers={"If-None-Match": etag})
    assert unchanged.status_code == 304 and unchanged.headers["ETag"] == etag and unchanged.content == b""
    stale = device.request("GET", "/v1/config", headers={"If-None-Match": '"something-else"'})
    assert stale.status_code == 200 and stale.headers["ETag"] == etag
    assert device.request("GET", "/v1/config", headers={"X-Evaluator-Signature": "f" * 64}).status_code == 401
