"""The complaint and the receipt at the centre (centre/public/signed.py, complaint.py, complaintcases.py,
receipt.py) on a real database, SQLite and PostgreSQL, with ratings put through the real ingest in-process:
signed links checked (altered, forged, another device's, a withdrawn device's); a complaint joins its rating's
case or opens one, waits for a rating not yet here and is joined by the sweep, keeps its number out of the
case; the receipt tells counted, excluded, not received (yet) and records the miss, the case in plain words
with the verified rectification's measures without names, and takes one verdict.
(The pages in a browser, with a real terminal's links: tests/public/test_receipt_complaint.py.)"""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, select, update

from centre.cases import flow
from centre.cases.appeals import appeal, decide_appeal
from centre.cases.model import EventKind, Origin, Verdict
from centre.db.loop_tables import case_events, cases
from centre.db.public_tables import citizen_contacts, complaints, receipt_misses
from centre.db.tables import devices, staff
from centre.errors import BadInput, Forbidden
from centre.public import complaintcases, receipt
from centre.public.complaint import Filed, read_form
from centre.public.receipt import Arrival, Given, Stage
from centre.public.settings import PublicSettings
from centre.public.signed import Link, Purpose, with_link_bases
from contract import DeviceConfig, complaint_url, receipt_url
from tests.centre.casekit import MONDAY, actors, case_of, engine_fixture, kinds, terminal
from tests.centre.complaintkit import FORM_ID, LATER, SETTINGS, checked, complain, link_of, secret_of

engine_on_each_backend = engine_fixture()


def events(engine: Engine, case_id: int) -> list[dict]:
    with engine.connect() as conn:
        return [dict(row) for row in conn.execute(select(case_events).where(case_events.c.case_id == case_id)
                                                  .order_by(case_events.c.id)).mappings()]


def test_links_are_checked_against_the_devices_secret(engine: Engine) -> None:
    device, other = terminal(engine, "u-1"), terminal(engine, "u-2")
    uuid = device.rate(1)
    secret = secret_of(engine, device.device_id)
    good = complaint_url("https://pj.example/c", secret, device.device_id, uuid)
    assert checked(engine, good, Purpose.COMPLAINT) == Link(uuid, device.device_id)
    refused = {
        "altered": good.replace(uuid[:8], "ffffffff"),
        "forged": complaint_url("https://pj.example/c", "guessed", device.device_id, uuid),
        "receipt for complaint": receipt_url("https://pj.example/c", secret, device.device_id, uuid),
        "unknown device": complaint_url("https://pj.example/c", secret, "dev-nobody", uuid),
        "another device's rating": complaint_url("https://pj.example/c", secret_of(engine, other.device_id),
                                                 other.device_id, uuid),
    }
    for name, url in refused.items():
        with pytest.raises(Forbidden):
            checked(engine, url, Purpose.COMPLAINT)
        assert name
    with pytest.raises(BadInput):
        checked(engine, good.replace(f"r={uuid}", "r=not-a-uuid"), Purpose.COMPLAINT)
    with engine.begin() as conn:
        conn.execute(update(devices).where(devices.c.id == device.device_id).values(revoked_at="2026-03-02T03:00:00"))
    assert checked(engine, good, Purpose.COMPLAINT).rating_uuid == uuid       # a rating it delivered: still good
    unknown = complaint_url("https://pj.example/c", secret, device.device_id, "00000000-0000-4000-8000-00000000000a")
    with pytest.raises(Forbidden, match="withdrawn"):
        checked(engine, unknown, Purpose.COMPLAINT)


def test_a_complaint_joins_the_bad_reviews_case_and_its_number_stays_out_of_the_case(engine: Engine) -> None:
    device = terminal(engine, "u-1")
    uuid = device.rate(1)
    case = case_of(engine, uuid)
    assert case["contact_due_at"] is None
    assert complain(engine, link_of(engine, device, uuid), "他说打 13812345678 找他", phone="13812345678") \
        is Filed.STORED
    after = case_of(engine, uuid)
    assert after["contact_due_at"] is not None                  # a number left: the caller's deadline runs
    [opened, joined] = events(engine, case["id"])
    assert joined["kind"] == EventKind.JOINED.value and joined["detail"]["origin"] == Origin.COMPLAINT.value
    assert "13812345678" not in str(joined["detail"]) and "＊＊＊" in joined["detail"]["text"]
    with engine.connect() as conn:
        [contact] = conn.execute(select(citizen_contacts)).mappings().all()
    assert contact["phone"] == "13812345678" and contact["source"] == "complaint" and contact["rating_uuid"] == uuid
    # The same form again stores nothing; a link files at most complaints_per_rating complaints.
    assert complain(engine, link_of(engine, device, uuid)) is Filed.ALREADY
    assert [complain(engine, link_of(engine, device, uuid), n=n) for n in (1, 2, 3)] == \
        [Filed.STORED, Filed.STORED, Filed.TOO_MANY]
    assert kinds(engine, case["id"]) == ["opened", "joined", "joined", "joined"]


def test_a_complaint_about_a_good_rating_opens_a_case(engine: Engine) -> None:
    device = terminal(engine, "u-1")
    uuid = device.rate(5)
    assert complain(engine, link_of(engine, device, uuid), "spam? no: real, see www.example.com") is Filed.STORED
    case = case_of(engine, uuid)
    assert case["opened_by"] == Origin.COMPLAINT.value and case["level"] == 5 and case["contact_due_at"] is None
    [opened] = events(engine, case["id"])
    assert opened["detail"]["complaint_id"] and opened["detail"]["flag"] == "link"   # flagged, kept


def test_a_complaint_before_its_rating_waits_and_the_sweep_joins_it(engine: Engine) -> None:
    device = terminal(engine, "u-1")
    rating = device.rating(2)
    secret = secret_of(engine, device.device_id)
    link = checked(engine, complaint_url("https://pj.example/c", secret, device.device_id, rating["uuid"]),
                   Purpose.COMPLAINT)
    assert complain(engine, link) is Filed.WAITING
    assert complaintcases.join_waiting(engine, LATER, SETTINGS) == 0           # nothing to join yet
    device.send(device.batch([rating], [device.reason(rating)]), received=LATER)   # the batch arrives
    case = case_of(engine, rating["uuid"])
    assert kinds(engine, case["id"]) == ["opened"]
    assert complaintcases.join_waiting(engine, LATER, SETTINGS) == 1
    assert complaintcases.join_waiting(engine, LATER, SETTINGS) == 0           # once
    assert kinds(engine, case["id"]) == ["opened", "joined"]


def test_a_complaint_on_a_closed_case_is_kept_on_its_own(engine: Engine) -> None:
    device = terminal(engine, "u-1")
    uuid = device.rate(1)
    people = actors(engine, "u-1")
    case_id = case_of(engine, uuid)["id"]
    with engine.begin() as conn:
        appeal(conn, case_id, people["unit"], grounds="误评", now=MONDAY)
        decide_appeal(conn, case_id, people["city"], upheld=True, reason="核实为误评", now=MONDAY)
    assert complain(engine, link_of(engine, device, uuid)) is Filed.KEPT
    assert complaintcases.join_waiting(engine, LATER, SETTINGS) == 0
    with engine.connect() as conn:
        assert len(conn.execute(select(complaints)).all()) == 1
    assert EventKind.JOINED.value not in kinds(engine, case_id)


def test_the_form_refuses_html_and_checks_its_fields() -> None:
    with pytest.raises(BadInput, match="HTML"):
        read_form({"form_id": [FORM_ID], "text": ["<script>alert(1)</script>"]})
    with pytest.raises(BadInput, match="form_id"):
        read_form({"form_id": ["x"], "text": ["慢"]})
    assert read_form({"form_id": [FORM_ID], "text": [" "], "phone": ["1381234"]}).problems == \
        ("no_text", "phone", "consent")
    assert read_form({"form_id": [FORM_ID], "text": ["慢"], "phone": ["+86 138-1234-5678"],
                      "consent": ["yes"]}).problems == ()


def test_the_receipt_of_a_counted_rating_and_its_case_through_the_verdict(engine: Engine) -> None:
    device = terminal(engine, "u-1")
    uuid = device.rate(1)
    link = link_of(engine, device, uuid, Purpose.RECEIPT)
    shown = receipt.look_up(engine, link, LATER, SETTINGS)
    assert shown.arrival is Arrival.COUNTED and shown.level == 1 and shown.day.isoformat() == "2026-03-02"
    assert shown.unit_name == "u-1" and shown.case is not None and shown.case.stage is Stage.OPENED
    assert not shown.case.may_give_verdict and receipt.give_verdict(engine, link, Verdict.SATISFIED, LATER) \
        is Given.NOT_ASKED
    people = actors(engine, "u-1")
    case_id = case_of(engine, uuid)["id"]
    with engine.begin() as conn:
        conn.execute(staff.insert().values(unit_id="u-1", id="E1023", name="李明", post="窗口", added_at="x"))
        flow.assign(conn, case_id, people["unit"], assignee="李明", now=MONDAY)
        flow.rectify(conn, case_id, people["unit"], cause="李明（E1023）解释不清",
                     measures="对李明（工号 E1023）再培训；电话 13812345678 不再使用", now=MONDAY)
    rectified = receipt.look_up(engine, link, LATER, SETTINGS).case
    assert rectified is not None and rectified.stage is Stage.RECTIFIED and rectified.measures is None
    assert rectified.may_give_verdict
    with engine.begin() as conn:
        flow.verify(conn, case_id, people["district"], now=MONDAY)
    verified = receipt.look_up(engine, link, LATER, SETTINGS).case
    assert verified is not None and verified.stage is Stage.VERIFIED and verified.measures
    assert "李明" not in verified.measures and "E1023" not in verified.measures and "1381234" not in verified.measures
    assert receipt.give_verdict(engine, link, Verdict.BASICALLY, LATER) is Given.RECORDED
    assert receipt.give_verdict(engine, link, Verdict.SATISFIED, LATER) is Given.ALREADY   # one verdict only
    done = receipt.look_up(engine, link, LATER, SETTINGS).case
    assert done is not None and done.verdict is Verdict.BASICALLY and not done.may_give_verdict
    [verdict] = [event for event in events(engine, case_id) if event["kind"] == "verdict"]
    assert verdict["actor"] is None and verdict["detail"]["source"] == "receipt"


def test_an_excluded_rating_is_said_to_be_excluded(engine: Engine) -> None:
    device = terminal(engine, "u-1")
    uuid = device.rate(2)
    people = actors(engine, "u-1")
    case_id = case_of(engine, uuid)["id"]
    with engine.begin() as conn:
        appeal(conn, case_id, people["unit"], grounds="误评", now=MONDAY)
        decide_appeal(conn, case_id, people["city"], upheld=True, reason="核实为误评", now=MONDAY)
    shown = receipt.look_up(engine, link_of(engine, device, uuid, Purpose.RECEIPT), LATER, SETTINGS)
    assert shown.arrival is Arrival.EXCLUDED and shown.excluded_by == "appeal"
    assert shown.case is not None and shown.case.stage is Stage.CLOSED and shown.case.excluded_on_appeal


def test_a_rating_not_received_is_recorded_and_found_when_it_arrives(engine: Engine) -> None:
    device = terminal(engine, "u-1")
    rating = device.rating(4)
    link = link_of(engine, device, rating["uuid"], Purpose.RECEIPT)
    first = receipt.look_up(engine, link, MONDAY, SETTINGS)
    assert first.arrival is Arrival.NOT_YET and first.unit_name == "u-1" and first.level is None
    assert receipt.look_up(engine, link, MONDAY + timedelta(hours=23), SETTINGS).arrival is Arrival.NOT_YET
    late = MONDAY + timedelta(hours=25)
    assert receipt.look_up(engine, link, late, SETTINGS).arrival is Arrival.MISSING
    with engine.connect() as conn:
        miss = conn.execute(select(receipt_misses)).mappings().one()
        assert miss["lookups"] == 3 and miss["found_at"] is None and miss["last_at"] > miss["first_at"]
        assert [item.rating_uuid for item in receipt.signals(conn, late, SETTINGS)] == [rating["uuid"]]
        assert receipt.signals(conn, MONDAY + timedelta(hours=2), SETTINGS) == []   # not yet a signal
    device.send(device.batch([rating]), received=late)
    assert receipt.mark_found(engine, late) == 1 and receipt.mark_found(engine, late) == 0
    with engine.connect() as conn:
        found = conn.execute(select(receipt_misses.c.found_at)).scalar_one()
        # found more than receipt_missing_after_h after the first look-up: still a signal, now with its found_at
        [signal] = receipt.signals(conn, late, SETTINGS)
    assert found is not None and signal.found_at == found
    assert receipt.look_up(engine, link, late, SETTINGS).arrival is Arrival.COUNTED


def test_the_centre_sends_the_pages_bases_only_with_its_public_address() -> None:
    config = DeviceConfig(unit={"id": "u"}, counter={"id": "c", "questionnaire_url": "https://pj.example/q/t"})
    assert with_link_bases(config, SETTINGS) == config
    sent = with_link_bases(config, PublicSettings(base_url="https://pj.example/"))
    assert sent.counter == {"id": "c", "questionnaire_url": "https://pj.example/q/t",
                            "complaint_url": "https://pj.example/c", "receipt_url": "https://pj.example/r"}


def test_a_cases_events_never_hold_the_number(engine: Engine) -> None:
    device = terminal(engine, "u-1")
    uuid = device.rate(4)
    complain(engine, link_of(engine, device, uuid), "号码 138 1234 5678", phone="13812345678")
    with engine.connect() as conn:
        details = [row.detail for row in conn.execute(select(case_events.c.detail).join(cases)
                                                     .where(cases.c.rating_uuid == uuid))]
    assert details and not any("5678" in str(detail) for detail in details)
