"""The reference receiver as a real process: refusals kept with their reason and never resent, both signatures
round-trip, a wrong key refused (401) with the records left pending, and its own checks of a record."""
from __future__ import annotations

import subprocess
import sys

import pytest
import requests
from sqlalchemy import func, select, update

from centre.db.engine import open_engine
from centre.db.province_tables import province_records
from centre.db.tables import ratings
from centre.province import push
from centre.province.mapping import load_mapping
from centre.province.receiver.checks import check_record
from centre.province.upload import Signing
from tests.centre.conftest import REPO
from tests.province import pushkit


@pytest.fixture
def city(tmp_path, tmp_path_factory):
    url = pushkit.demo_db(pushkit.base_dir(tmp_path_factory), tmp_path / "centre.db")
    engine = open_engine(url, create=False)
    yield engine
    engine.dispose()


def _rate_a_case_twice(engine) -> str:
    """Give a solicited rating's case number to another rating of the same unit: a case rated twice."""
    with engine.begin() as conn:
        solicited = conn.execute(select(ratings.c.uuid, ratings.c.case_no, ratings.c.placed_unit_id)
                                 .where(ratings.c.mode == "solicited", ratings.c.level >= 3)
                                 .order_by(ratings.c.counted_at)).all()
        first = solicited[0]
        second = next(row for row in solicited[1:] if row.placed_unit_id == first.placed_unit_id)
        conn.execute(update(ratings).where(ratings.c.uuid == second.uuid).values(case_no=first.case_no))
    return str(first.case_no)


def test_a_refused_record_is_kept_with_its_reason_and_never_resent(tmp_path, city):
    """The centre numbers a case's ratings; this province takes one per case and refuses the second."""
    case_no = _rate_a_case_twice(city)
    keys = pushkit.make_keys(tmp_path / "keys", Signing.HMAC_SHA256)
    ours = pushkit.write_mapping(tmp_path / "numbered.yaml", per_case="numbered")
    theirs = pushkit.write_mapping(tmp_path / "first-only.yaml", per_case="first_only")
    with pushkit.receiver(tmp_path / "province", keys, mapping=theirs) as province:
        pusher = pushkit.job(province.url, keys, mapping=ours)
        pushkit.push_until_settled(city, pusher)
        refused = pushkit.records(city, province_records.c.state == "refused")
        assert [(row.case_no, row.fields["assessNumber"]) for row in refused] == [(case_no, 2)]
        assert refused[0].answer_code == "2001" and refused[0].answer_text.startswith(f"case_rated: case {case_no}")
        assert refused[0].answer["recordId"] == refused[0].record_id and refused[0].answered_at
        seen = province.requests_seen()
        with city.begin() as conn:   # due again by hand: still not claimed, a refusal is final
            conn.execute(update(province_records).values(next_attempt_at=None))
        assert push.cycle(city, pusher).sent == 0 and province.requests_seen() == seen
        assert refused[0].record_id not in province.held()
        # The CLI lists it with the province's words.
        listed = subprocess.run([sys.executable, "-m", "centre.cli", "province", "records", "--state", "refused",
                                 "--db", str(city.url)], cwd=REPO, capture_output=True, text=True, timeout=60)
        assert refused[0].record_id in listed.stdout and "case_rated" in listed.stdout


def test_an_unknown_reason_code_is_refused_by_the_province(tmp_path, city):
    """The province's table lacks a reason code the centre's mapping sends: those records come back refused."""
    keys = pushkit.make_keys(tmp_path / "keys", Signing.HMAC_SHA256)
    mapping = load_mapping(None)
    reasons = {name: reason.model_dump() for name, reason in mapping.reasons.items() if reason.code != "02"}
    theirs = pushkit.write_mapping(tmp_path / "theirs.yaml", reasons=reasons)
    with pushkit.receiver(tmp_path / "province", keys, mapping=theirs) as province:
        pushkit.push_until_settled(city, pushkit.job(province.url, keys))
        refused = pushkit.records(city, province_records.c.state == "refused")
        assert refused and province.held()
    assert all("02" in row.fields["appraisald"].split(",") for row in refused)
    assert {row.answer_text for row in refused} == {"unknown_reason: appraisald 02"}


@pytest.mark.parametrize("signing", list(Signing))
def test_both_signatures_round_trip(tmp_path, city, signing):
    keys = pushkit.make_keys(tmp_path / "keys", signing)
    mapping = pushkit.signing_mapping(tmp_path, signing)
    with pushkit.receiver(tmp_path / "province", keys, mapping=mapping) as province:
        done = pushkit.push_until_settled(city, pushkit.job(province.url, keys, mapping=mapping, batch_size=100))
        assert done.failed_requests == 0 and done.accepted == len(province.held()) > 0


@pytest.mark.parametrize("signing", list(Signing))
def test_a_wrong_key_is_refused_and_the_records_stay_pending(tmp_path, city, signing):
    ours = pushkit.make_keys(tmp_path / "ours", signing)
    someone_elses = pushkit.make_keys(tmp_path / "theirs", signing, name="other")
    mapping = pushkit.signing_mapping(tmp_path, signing)
    with pushkit.receiver(tmp_path / "province", someone_elses, mapping=mapping) as province:
        args = [sys.executable, "-m", "centre.cli", "province", "push", "--once", "--endpoint", province.url,
                "--key-file", str(ours.sender), "--db", str(city.url)]
        if mapping is not None:
            args += ["--mapping", str(mapping)]
        done = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=60)
        assert province.held() == []
    assert done.returncode == 1, done.stderr
    assert "accepted 0" in done.stdout and "failed" in done.stdout
    failed = pushkit.pushes(city)
    assert [(row.http_status, row.outcome) for row in failed] == [(401, "failed")]
    assert "bad signature" in failed[0].error
    states = pushkit.states(city)
    assert states["pending"] > 0 and "accepted" not in states
    with city.connect() as conn:
        assert conn.execute(select(func.max(province_records.c.attempts))).scalar_one() == 1


def test_the_receiver_refuses_a_replayed_or_unsigned_request(tmp_path, city):
    keys = pushkit.make_keys(tmp_path / "keys", Signing.HMAC_SHA256)
    with pushkit.receiver(tmp_path / "province", keys) as province:
        unsigned = requests.post(province.url, data=b'{"batchId":"b","records":[]}', timeout=10)
        assert unsigned.status_code == 401 and "missing header X-Key-Id" in unsigned.json()["error"]
        pusher = pushkit.job(province.url, keys)
        captured = {}

        class Recording(requests.Session):
            def post(self, url, **kwargs):  # type: ignore[no-untyped-def, override]
                captured.update(kwargs)
                return super().post(url, **kwargs)

        push.cycle(city, push.PushJob(pusher.settings, pusher.mapping, pusher.signer, Recording()))
        replay = requests.post(province.url, data=captured["data"], headers=captured["headers"], timeout=10)
        assert replay.status_code == 401 and "replayed" in replay.json()["error"]


def test_the_receiver_checks_each_record_by_the_mapping():
    mapping = load_mapping(None)
    good = {"appraiseId": "rating:1", "pf": "4", "alternate": "5", "assessTime": "2026-12-04 09:33:55",
            "projectNo": "C1", "deptCode": "11339904MB5971084H", "assessNumber": 1}
    assert check_record(mapping, good).problem is None
    for change, problem in (({"alternate": "1"}, "no_reason"), ({"pf": "9"}, "unknown_channel"),
                            ({"alternate": "0"}, "unknown_level"), ({"assessTime": "2026-12-04"}, "bad_time"),
                            ({"alternate": "2", "appraisald": "99"}, "unknown_reason"),
                            ({"pf": None}, "missing_field: pf"), ({"appraiseId": ""}, "missing_field: appraiseId"),
                            ({"taskCode": "有空格 的"}, "field_pattern")):
        record = {key: value for key, value in {**good, **change}.items() if value is not None}
        assert (check_record(mapping, record).problem or "").startswith(problem), change
