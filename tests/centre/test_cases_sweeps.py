"""The loop's sweeps (centre/cases/sweeps.py) on a real database, SQLite and PostgreSQL: a missed deadline
escalates to the district at the deadline and to the city the configured working days later, each once
however often the sweep runs; a met deadline escalates nothing; numbers are erased a set time after closing,
with an event that says so without the number."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from centre.cases import flow, opening, sweeps, views
from centre.cases.model import ContactOutcome, EscalationLevel
from centre.cases.settings import CaseSettings
from centre.db.loop_tables import case_events
from centre.db.public_tables import citizen_contacts
from centre.db.tables import callbacks, ratings
from centre.errors import BadInput
from centre.public.complaint import Filed
from contract import iso_utc
from tests.centre.casekit import MONDAY, actors, case_of, engine_fixture, kinds, terminal
from tests.centre.complaintkit import LATER, complain, link_of

engine_on_each_backend = engine_fixture()
PHONE = "13987654321"
# Opened Monday 2 March 2026 at 10:00 in Shanghai: contact due at the end of Tuesday 3 March (16:00 UTC),
# the city's turn 5 working days later (end of Tuesday 10 March), the rectification at the end of the 15th
# working day (Monday 23 March).
CONTACT_DUE = datetime(2026, 3, 3, 16, 0, tzinfo=UTC)
CONTACT_CITY = datetime(2026, 3, 10, 16, 0, tzinfo=UTC)
RECTIFY_DUE = datetime(2026, 3, 23, 16, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


def bad_review_with_number(engine: Engine, unit: str = "u-a") -> int:
    uuid = terminal(engine, unit).rate(1)
    with engine.begin() as conn:
        device = conn.execute(select(ratings.c.delivered_by).where(ratings.c.uuid == uuid)).scalar_one()
        conn.execute(callbacks.insert().values(device_id=device, id=1, rating_uuid=uuid, phone=PHONE,
                                               consent_version="v1", requested_at="2026-03-02T02:00:00+00:00",
                                               received_at="2026-03-02T02:00:00+00:00"))
        opening.open_for_callbacks(conn, [uuid], MONDAY)
    return int(case_of(engine, uuid)["id"])


def escalated(engine: Engine, at: datetime) -> list[tuple[int, str, str]]:
    return [(item.case_id, item.deadline, item.to.value) for item in sweeps.escalate(engine, at, CaseSettings())]


def test_a_missed_deadline_escalates_to_the_district_then_the_city_each_once(engine: Engine) -> None:
    case_id = bad_review_with_number(engine)
    assert escalated(engine, CONTACT_DUE - SECOND) == []
    assert escalated(engine, CONTACT_DUE) == [(case_id, "contact", "district")]
    assert escalated(engine, CONTACT_DUE + SECOND) == []                         # once
    assert escalated(engine, CONTACT_CITY - SECOND) == []
    assert escalated(engine, CONTACT_CITY) == [(case_id, "contact", "city")]
    assert escalated(engine, RECTIFY_DUE) == [(case_id, "rectify", "district")]
    assert escalated(engine, RECTIFY_DUE + timedelta(days=30)) == [(case_id, "rectify", "city")]
    assert escalated(engine, RECTIFY_DUE + timedelta(days=31)) == []
    with engine.connect() as conn:
        seen = views.case_detail(conn, case_id, actors(engine, "u-a")["unit"], now=RECTIFY_DUE)
        listed, total = views.case_list(conn, None, views.CaseFilters(overdue_only=True), now=RECTIFY_DUE)
    assert seen.case.escalated_to == EscalationLevel.CITY.value and seen.case.overdue
    assert [item.id for item in listed] == [case_id] and total == 1


def test_a_met_deadline_escalates_nothing(engine: Engine) -> None:
    case_id = bad_review_with_number(engine)
    who = actors(engine, "u-a")
    with engine.begin() as conn:
        flow.record_contact_attempt(conn, case_id, who["district"], outcome=ContactOutcome.REACHED,
                                    now=CONTACT_DUE - SECOND)
        flow.assign(conn, case_id, who["unit"], assignee="x", now=CONTACT_DUE)
        flow.rectify(conn, case_id, who["unit"], cause="c", measures="m", now=RECTIFY_DUE - SECOND)
    assert escalated(engine, RECTIFY_DUE + timedelta(days=30)) == []
    with engine.connect() as conn:
        listed, _ = views.case_list(conn, None, views.CaseFilters(overdue_only=True), now=RECTIFY_DUE)
    assert listed == []


def test_the_city_turn_follows_the_configured_working_days(engine: Engine) -> None:
    case_id = bad_review_with_number(engine)
    at_once = CaseSettings(escalate_to_city_after_working_days=0)
    found = sweeps.escalate(engine, CONTACT_DUE, at_once)
    assert [(item.case_id, item.to) for item in found] == [(case_id, EscalationLevel.DISTRICT),
                                                            (case_id, EscalationLevel.CITY)]


def test_numbers_are_erased_a_set_time_after_closing_without_the_number(engine: Engine) -> None:
    case_id = bad_review_with_number(engine)
    still_open = bad_review_with_number(engine, "u-b")
    who = actors(engine, "u-a")
    closed_at = MONDAY + timedelta(days=3)
    with engine.begin() as conn:
        flow.assign(conn, case_id, who["unit"], assignee="x", now=MONDAY)
        flow.rectify(conn, case_id, who["unit"], cause="c", measures="m", now=MONDAY)
        flow.verify(conn, case_id, who["city"], now=MONDAY)
        flow.close(conn, case_id, who["city"], now=closed_at)
    assert sweeps.erase_numbers(engine, closed_at + timedelta(days=30) - SECOND, CaseSettings()) == []
    assert sweeps.erase_numbers(engine, closed_at + timedelta(days=30), CaseSettings()) == [case_id]
    assert sweeps.erase_numbers(engine, closed_at + timedelta(days=31), CaseSettings()) == []
    with engine.connect() as conn:
        phones: dict[str, str] = dict(conn.execute(select(callbacks.c.rating_uuid, callbacks.c.phone)).all())
        detail = conn.execute(select(case_events.c.detail).where(case_events.c.case_id == case_id,
                                                                 case_events.c.kind == "numbers_erased")).scalar_one()
    assert sorted(phones.values()) == ["", PHONE]                 # the open case keeps its number
    assert detail == {"erased": 1, "after_days": 30} and PHONE not in repr(detail)
    erased_uuid = next(uuid for uuid, phone in phones.items() if phone == "")
    assert case_of(engine, erased_uuid)["id"] == case_id and case_of(engine, erased_uuid)["numbers_erased_at"]
    assert kinds(engine, case_id)[-1] == "numbers_erased" and kinds(engine, still_open)[-1] == "joined"
    with engine.begin() as conn, pytest.raises(BadInput, match="erased"):
        views.reveal_number(conn, case_id, who["district"])


def test_a_number_left_online_is_erased_too(engine: Engine) -> None:
    device = terminal(engine, "u-a")
    uuid = device.rate(2)
    case_id = int(case_of(engine, uuid)["id"])
    who = actors(engine, "u-a")
    assert complain(engine, link_of(engine, device, uuid), phone=PHONE) is Filed.STORED   # the complaint form
    with engine.begin() as conn:
        assert views.reveal_number(conn, case_id, who["district"], now=LATER) == PHONE
        flow.assign(conn, case_id, who["unit"], assignee="x", now=LATER)
        flow.rectify(conn, case_id, who["unit"], cause="c", measures="m", now=LATER)
        flow.verify(conn, case_id, who["city"], now=LATER)
        flow.close(conn, case_id, who["city"], now=LATER)
    assert sweeps.erase_numbers(engine, LATER + timedelta(days=30), CaseSettings()) == [case_id]
    with engine.connect() as conn:
        left = conn.execute(select(citizen_contacts.c.phone, citizen_contacts.c.erased_at)).one()
    assert left == ("", iso_utc(LATER + timedelta(days=30)))
    assert kinds(engine, case_id)[:3] == ["opened", "joined", "number_viewed"]
