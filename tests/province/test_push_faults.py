"""A day of a demo city pushed to the reference receiver (a real process on 127.0.0.1) exactly once, through
the faults a province's platform shows: a 500, an answer slower than the read timeout, a lost answer, an
answer that is not one."""
from __future__ import annotations

import time
from collections import Counter

import pytest
from sqlalchemy import update

from centre.db.engine import open_engine
from centre.db.province_tables import province_records
from centre.province import push
from centre.province.upload import Signing
from tests.province import pushkit


@pytest.fixture
def city(tmp_path, tmp_path_factory):
    url = pushkit.demo_db(pushkit.base_dir(tmp_path_factory), tmp_path / "centre.db")
    engine = open_engine(url, create=False)
    yield engine
    engine.dispose()


def test_a_day_reaches_the_province_exactly_once_through_500_timeout_lost_and_garbled_answers(tmp_path, city):
    keys = pushkit.make_keys(tmp_path / "keys", Signing.HMAC_SHA256)
    with pushkit.receiver(tmp_path / "province", keys, faults="500,ok,slow:3,ok,lost,ok,garbled,ok") as province:
        pusher = pushkit.job(province.url, keys, read_timeout_s=2.0, batch_size=5)
        done = pushkit.push_until_settled(city, pusher)
        held = province.held()
        requests_seen = province.requests_seen()

    made = pushkit.states(city)
    accepted = {row.record_id for row in pushkit.records(city, province_records.c.state == "accepted")}
    assert made.get("accepted", 0) >= 40 and "pending" not in made and "refused" not in made
    # Every valid record is held once by the province, and none it should not hold.
    assert len(held) == len(set(held)) and set(held) == accepted
    # The invalid and skipped records (bad reviews without reasons, open-mode ratings without a case) never left.
    never_sent = pushkit.records(city, province_records.c.state.in_(["invalid", "skipped"]))
    assert never_sent and all(row.attempts == 0 and row.rule for row in never_sent)
    # Each request is a push row; the four faults are there as failures, the records of each sent again.
    rows = pushkit.pushes(city)
    assert len(rows) == requests_seen == done.requests
    failed = [row for row in rows if row.outcome == "failed"]
    assert [row.http_status for row in failed] == [500, None, None, 200]
    assert "timeout" in failed[1].error and "Connection aborted" in failed[2].error
    assert failed[3].error.startswith("malformed answer: not JSON")
    assert sum(row.accepted for row in rows) == len(accepted)
    # Each record was sent once more for each failed request it was in, and once with an answer.
    attempts = [row.attempts for row in pushkit.records(city, province_records.c.state == "accepted")]
    assert sum(attempts) == len(attempts) + sum(row.records for row in failed)
    # The answer is kept per record: a resend of what the slow and the lost request stored is a duplicate.
    codes = Counter(row.answer_code for row in pushkit.records(city, province_records.c.state == "accepted"))
    assert codes["1001"] > 0 and codes["0"] > 0 and set(codes) == {"0", "1001"}


def test_an_accepted_record_is_never_sent_again(tmp_path, city):
    keys = pushkit.make_keys(tmp_path / "keys", Signing.HMAC_SHA256)
    with pushkit.receiver(tmp_path / "province", keys) as province:
        pusher = pushkit.job(province.url, keys)
        first = pushkit.push_until_settled(city, pusher)
        seen = province.requests_seen()
        # Even a record made due again by hand (as if its lease had ended) is not claimed: it is accepted.
        with city.begin() as conn:
            conn.execute(update(province_records).values(next_attempt_at=None))
        again = push.cycle(city, pusher)
        assert (again.sent, again.made, province.requests_seen()) == (0, 0, seen)
    assert first.accepted == pushkit.states(city)["accepted"]


def test_a_record_that_keeps_failing_waits_for_the_operator_and_is_never_dropped(tmp_path, city):
    keys = pushkit.make_keys(tmp_path / "keys", Signing.HMAC_SHA256)
    with pushkit.receiver(tmp_path / "province", keys, faults=",".join(["500"] * 10)) as province:
        pusher = pushkit.job(province.url, keys, max_attempts=2, batch_size=500)
        deadline = time.monotonic() + pushkit.RUN_TIMEOUT_S
        push.cycle(city, pusher)
        while any(row.attempts < 2 for row in pushkit.records(city, province_records.c.state == "pending")):
            assert time.monotonic() < deadline
            push.cycle(city, pusher)
        pending = pushkit.records(city, province_records.c.state == "pending")
        assert pending and all(row.attempts == 2 for row in pending)   # held: not claimed a third time
        assert push.cycle(city, pusher).sent == 0
        failed = pushkit.pushes(city)
        assert province.requests_seen() == len(failed) and {row.http_status for row in failed} == {500}
        # The operator mends the fault and lets them go.
        released = pushkit.push_until_settled(city, push.PushJob(pusher.settings, pusher.mapping, pusher.signer,
                                                                 retry_held=True))
    assert released.accepted == len(pending) and "pending" not in pushkit.states(city)
