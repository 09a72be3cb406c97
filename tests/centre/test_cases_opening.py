"""Cases open by themselves (centre/cases/opening.py) through a real collector process, SQLite and PostgreSQL:
a bad review opens exactly one case with its reasons and its deadlines in the unit's working days; a good
rating opens none; a batch sent again opens none; a call-back request joins its rating's case (or opens one
for a rating that has none) and starts the contact deadline."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from centre.cases.workdays import load_calendar
from centre.db.loop_tables import case_events, cases
from contract import iso_utc
from tests.centre.conftest import Collector, Device
from tests.centre.test_callbacks import request, row


def held_cases(collector: Collector) -> list[dict[str, Any]]:
    with collector.engine.connect() as conn:
        return [dict(found) for found in conn.execute(select(cases).order_by(cases.c.id)).mappings()]


def events_of(collector: Collector, case_id: int) -> list[tuple[str, dict[str, Any]]]:
    with collector.engine.connect() as conn:
        return [(kind, detail) for kind, detail in conn.execute(
            select(case_events.c.kind, case_events.c.detail).where(case_events.c.case_id == case_id)
            .order_by(case_events.c.id))]


def reason(rating: dict[str, Any], row_id: int, code: str) -> dict[str, Any]:
    return {"id": row_id, "rating_uuid": rating["uuid"], "code": code, "recorded_at": rating["recorded_at"]}


def due(collector: Collector, start: str, days: int, zone: str) -> str:
    with collector.engine.connect() as conn:
        return iso_utc(load_calendar(conn).add_working_days(datetime.fromisoformat(start), days, zone))


def test_a_bad_review_opens_exactly_one_case_and_a_batch_sent_again_none(collector, enroll_device):
    device: Device = enroll_device(timezone_name="America/New_York")
    bad, good, worse = device.rating(2), device.rating(5), device.rating(1)
    batch = device.batch([bad, good, worse], reasons=[reason(bad, 1, "rude"), reason(bad, 2, "slow")])
    assert device.ingest(batch).status_code == 200
    assert device.ingest(batch).json()["duplicate"] == [bad["uuid"], good["uuid"], worse["uuid"]]
    opened = held_cases(collector)
    assert [(case["rating_uuid"], case["level"], case["state"], case["opened_by"]) for case in opened] == [
        (bad["uuid"], 2, "new", "bad_review"), (worse["uuid"], 1, "new", "bad_review")]
    first = opened[0]
    assert (first["unit_id"], first["counter_id"], first["staff_id"]) == (device.unit_id, "counter-1", "s-1")
    assert first["contact_due_at"] is None                      # no number left: no contact deadline
    assert first["rectify_due_at"] == due(collector, first["opened_at"], 15, "America/New_York")
    assert events_of(collector, first["id"]) == [
        ("opened", {"origin": "bad_review", "level": 2, "reasons": ["rude", "slow"]})]


def test_a_call_back_joins_the_rating_case_and_starts_the_contact_deadline(collector, enroll_device):
    device: Device = enroll_device()
    bad = device.rating(1)
    device.ingest(device.batch([bad]))
    answer = request(device, [row(bad["uuid"], 1)])
    assert answer.status_code == 200 and answer.json()["stored"] == [1]
    assert request(device, [row(bad["uuid"], 1)]).json()["stored"] == [1]     # sent again: joins once
    [case] = held_cases(collector)
    received = events_of(collector, case["id"])
    assert [kind for kind, _ in received] == ["opened", "joined"] and received[1][1] == {"origin": "callback"}
    with collector.engine.connect() as conn:
        joined_at = conn.execute(select(case_events.c.at).where(case_events.c.kind == "joined")).scalar_one()
    assert case["contact_due_at"] == due(collector, joined_at, 1, "Asia/Shanghai")
    assert "13812345678" not in repr(received)


def test_a_call_back_about_a_good_rating_opens_a_case_of_its_own(collector, enroll_device):
    device: Device = enroll_device()
    good = device.rating(4)
    device.ingest(device.batch([good]))
    assert held_cases(collector) == []
    request(device, [row(good["uuid"], 7)])
    [case] = held_cases(collector)
    assert (case["rating_uuid"], case["opened_by"], case["level"]) == (good["uuid"], "callback", 4)
    assert case["contact_due_at"] is not None
    assert [kind for kind, _ in events_of(collector, case["id"])] == ["opened"]
