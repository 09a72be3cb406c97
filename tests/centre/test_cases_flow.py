"""The flow of a case (centre/cases/flow.py, appeals.py, views.py) on a real database, SQLite and PostgreSQL:
the whole loop from a bad review put through the real ingest to a closed case; every refused step (out of
order, wrong role, another unit's case, bad evidence) says why and leaves the case exactly as it was; the
unit's view never holds the citizen's number; the caller sees it only through an audited reveal; an
upheld appeal excludes the rating (kept, counted as excluded) and closes the case."""
from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from centre import indicators
from centre.cases import flow, opening, views
from centre.cases.evidence import Evidence
from centre.cases.model import Actor, ActorRole, ContactOutcome, EventKind, Verdict, VerdictSource
from centre.cases.settings import CaseSettings
from centre.console.audit import Action
from centre.db.loop_tables import case_files, rating_exclusions
from centre.db.tables import audit_log, callbacks, ratings
from centre.errors import BadInput, Forbidden, NotFound
from tests.centre.casekit import MONDAY, WEST, actors, case_of, engine_fixture, kinds, snapshot, terminal

engine_on_each_backend = engine_fixture()

PHONE = "13812345678"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.4\n%\xe2\xe3\n1 0 obj\n"
LATER = MONDAY + timedelta(hours=3)


def with_number(engine: Engine, rating_uuid: str) -> None:
    """The citizen's call-back request stored as centre/callbacks.py stores it, and the case joined."""
    with engine.begin() as conn:
        device = conn.execute(select(ratings.c.delivered_by).where(ratings.c.uuid == rating_uuid)).scalar_one()
        conn.execute(callbacks.insert().values(device_id=device, id=1, rating_uuid=rating_uuid, phone=PHONE,
                                               consent_version="v1", requested_at="2026-03-02T02:00:00+00:00",
                                               received_at="2026-03-02T02:00:00+00:00"))
        opening.open_for_callbacks(conn, [rating_uuid], MONDAY)


def step(engine: Engine, fn: Callable[..., int], case_id: int, actor: Actor | None, **kwargs: Any) -> int:
    with engine.begin() as conn:
        return fn(conn, case_id, actor, now=kwargs.pop("now", LATER), **kwargs)


def refused(engine: Engine, error: type[Exception], fn: Callable[..., int], case_id: int, actor: Actor | None,
            **kwargs: Any) -> str:
    """The step is refused with `error`, and the case and its events and files are as they were."""
    before = snapshot(engine, case_id)
    files = _files(engine)
    with pytest.raises(error) as caught:
        step(engine, fn, case_id, actor, **kwargs)
    assert snapshot(engine, case_id) == before and _files(engine) == files
    return str(caught.value)


def _files(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(case_files)).scalar_one())


def test_the_whole_loop_from_a_bad_review_to_a_closed_case(engine: Engine) -> None:
    uuid = terminal(engine, "u-a").rate(1, reasons=("slow", "rude"))
    case = case_of(engine, uuid)
    who = actors(engine, "u-a")
    assert case["state"] == "new" and case["contact_due_at"] is None
    with_number(engine, uuid)
    case_id = case["id"]
    step(engine, flow.assign, case_id, who["unit"], assignee="王科长")
    step(engine, flow.record_contact_attempt, case_id, who["district"], outcome=ContactOutcome.NO_ANSWER)
    assert case_of(engine, uuid)["state"] == "assigned"
    step(engine, flow.record_contact_attempt, case_id, who["district"], outcome=ContactOutcome.REACHED,
         note="the citizen waited an hour")
    assert case_of(engine, uuid)["state"] == "contacted" and case_of(engine, uuid)["contacted_at"]
    step(engine, flow.rectify, case_id, who["unit"], cause="one window open at noon",
         measures="two windows at noon", files=[Evidence("rota.png", PNG)])
    step(engine, flow.send_back, case_id, who["district"], reason="no rota for the weekend")
    back = case_of(engine, uuid)
    assert back["state"] == "contacted" and back["rectified_at"] is None
    step(engine, flow.rectify, case_id, who["unit"], cause="one window open at noon",
         measures="two windows at noon, weekends too", files=[Evidence("rota.pdf", PDF)])
    step(engine, flow.verify, case_id, who["district"])
    step(engine, flow.record_verdict, case_id, who["district"], verdict=Verdict.BASICALLY,
         source=VerdictSource.CALLBACK)
    step(engine, flow.close, case_id, who["city"])
    closed = case_of(engine, uuid)
    assert (closed["state"], closed["verdict"], closed["closed_at"] is not None) == ("closed", "basically", True)
    assert kinds(engine, case_id) == ["opened", "joined", "assigned", "contact_attempt", "contacted", "rectified",
                                      "sent_back", "rectified", "verified", "verdict", "closed"]
    assert _files(engine) == 2


def test_a_step_out_of_order_is_refused_with_the_case_unchanged(engine: Engine) -> None:
    uuid = terminal(engine, "u-a").rate(2)
    case_id, who = case_of(engine, uuid)["id"], actors(engine, "u-a")
    assert "is new: to verify it, it must be rectified" in refused(engine, BadInput, flow.verify, case_id,
                                                                    who["district"])
    assert "must be assigned or contacted" in refused(engine, BadInput, flow.rectify, case_id, who["unit"],
                                                      cause="c", measures="m")
    refused(engine, BadInput, flow.close, case_id, who["city"])
    refused(engine, BadInput, flow.send_back, case_id, who["city"], reason="r")
    step(engine, flow.assign, case_id, who["unit"], assignee="x")
    refused(engine, BadInput, flow.assign, case_id, who["unit"], assignee="y")         # once
    assert "no number" in refused(engine, BadInput, flow.record_contact_attempt, case_id, who["district"],
                                  outcome=ContactOutcome.REACHED)
    refused(engine, BadInput, flow.record_verdict, case_id, None, verdict=Verdict.SATISFIED,
            source=VerdictSource.RECEIPT)                                              # not rectified yet
    refused(engine, BadInput, flow.rectify, case_id, who["unit"], cause=" ", measures="m")   # no cause


def test_a_step_not_for_the_actors_role_is_forbidden_with_the_case_unchanged(engine: Engine) -> None:
    uuid = terminal(engine, "u-a").rate(1)
    with_number(engine, uuid)
    case_id, who = case_of(engine, uuid)["id"], actors(engine, "u-a")
    assert "that is for the case's unit, the city office" in refused(engine, Forbidden, flow.assign, case_id,
                                                                       who["district"], assignee="x")
    refused(engine, Forbidden, flow.assign, case_id, who["auditor"], assignee="x")
    # The unit reviewed never calls the citizen, and with the district as caller neither does the city.
    assert "the caller (district office)" in refused(engine, Forbidden, flow.record_contact_attempt, case_id,
                                                     who["unit"], outcome=ContactOutcome.REACHED)
    refused(engine, Forbidden, flow.record_contact_attempt, case_id, who["city"], outcome=ContactOutcome.REACHED)
    step(engine, flow.assign, case_id, who["unit"], assignee="x")
    step(engine, flow.rectify, case_id, who["unit"], cause="c", measures="m")
    refused(engine, Forbidden, flow.verify, case_id, who["unit"])                       # no self-verification
    refused(engine, Forbidden, flow.send_back, case_id, who["unit"], reason="r")
    # A city that calls back itself: the city may call, the district may not.
    city_calls = CaseSettings(caller_role=ActorRole.CITY)
    refused(engine, Forbidden, flow.record_contact_attempt, case_id, who["district"],
            outcome=ContactOutcome.REACHED, settings=city_calls)
    step(engine, flow.record_contact_attempt, case_id, who["city"], outcome=ContactOutcome.REACHED,
         settings=city_calls)


def test_a_case_of_another_unit_or_district_is_forbidden_and_a_missing_one_not_found(engine: Engine) -> None:
    uuid = terminal(engine, "u-a").rate(1)
    terminal(engine, "u-b")                            # same district
    terminal(engine, "u-w", WEST)                      # another district
    case_id = case_of(engine, uuid)["id"]
    other_unit, west = actors(engine, "u-b")["unit"], actors(engine, "u-w")["district"]
    message = refused(engine, Forbidden, flow.assign, case_id, other_unit, assignee="x")
    assert "belongs to unit 'u-a'" in message
    refused(engine, Forbidden, flow.appeal, case_id, other_unit, grounds="not ours")
    step(engine, flow.assign, case_id, actors(engine, "u-a")["unit"], assignee="x")
    step(engine, flow.rectify, case_id, actors(engine, "u-a")["unit"], cause="c", measures="m")
    refused(engine, Forbidden, flow.verify, case_id, west)
    with engine.connect() as conn, pytest.raises(Forbidden):
        views.case_detail(conn, case_id, other_unit)
    with pytest.raises(NotFound, match="no case 999"):
        step(engine, flow.assign, 999, other_unit, assignee="x")


def test_evidence_too_large_or_of_a_refused_type_is_refused_with_the_case_unchanged(engine: Engine) -> None:
    uuid = terminal(engine, "u-a").rate(1)
    case_id, who = case_of(engine, uuid)["id"], actors(engine, "u-a")
    step(engine, flow.assign, case_id, who["unit"], assignee="x")
    small = CaseSettings(evidence_max_bytes=1000)
    kwargs: dict[str, Any] = {"cause": "c", "measures": "m", "settings": small}
    assert "more than the 1000 bytes" in refused(engine, BadInput, flow.rectify, case_id, who["unit"],
                                                  files=[Evidence("big.png", PNG + b"\x00" * 1000)], **kwargs)
    # Named as a photo, but an executable: judged by content, not by name.
    assert "of no known type" in refused(engine, BadInput, flow.rectify, case_id, who["unit"],
                                         files=[Evidence("photo.jpg", b"MZ\x90\x00\x03\x00\x00\x00")], **kwargs)
    # One good file beside a bad one: neither is kept.
    refused(engine, BadInput, flow.rectify, case_id, who["unit"],
            files=[Evidence("ok.png", PNG), Evidence("page.html", b"\x00<html>")], **kwargs)
    no_pdf = CaseSettings(evidence_media_types=("image/png",))
    assert "the content is application/pdf" in refused(engine, BadInput, flow.rectify, case_id, who["unit"],
                                                       cause="c", measures="m", files=[Evidence("a.pdf", PDF)],
                                                       settings=no_pdf)
    refused(engine, BadInput, flow.rectify, case_id, who["unit"], cause="c", measures="m",
            files=[Evidence("empty.txt", b"")])
    step(engine, flow.rectify, case_id, who["unit"], cause="c", measures="m",
         files=[Evidence("../../etc/notes.txt", "整改说明\n".encode())])
    with engine.connect() as conn:
        kept = conn.execute(select(case_files.c.name, case_files.c.media_type)).one()
    assert tuple(kept) == ("notes.txt", "text/plain")


def test_the_unit_never_sees_the_number_and_the_caller_sees_it_only_audited(engine: Engine) -> None:
    uuid = terminal(engine, "u-a").rate(1)
    with_number(engine, uuid)
    case_id, who = case_of(engine, uuid)["id"], actors(engine, "u-a")
    step(engine, flow.record_contact_attempt, case_id, who["district"], outcome=ContactOutcome.WRONG_NUMBER,
         note=f"tried {PHONE}")
    with engine.connect() as conn:
        seen = views.case_detail(conn, case_id, who["unit"])
        listed, total = views.case_list(conn, ("u-a",), actor=who["unit"])
    assert PHONE not in repr(seen) and PHONE not in repr(listed) and uuid not in repr(seen) + repr(listed)
    assert seen.case.has_number and total == 1 and EventKind.NUMBER_VIEWED not in seen.may
    assert seen.events[-1].detail == {"outcome": "wrong_number"}       # the caller's note is not the unit's
    with engine.begin() as conn, pytest.raises(Forbidden):
        views.reveal_number(conn, case_id, who["unit"])
    with engine.begin() as conn:
        assert EventKind.NUMBER_VIEWED in views.case_detail(conn, case_id, who["district"]).may
        assert views.reveal_number(conn, case_id, who["district"], address="10.0.0.7") == PHONE
    with engine.connect() as conn:
        logged = conn.execute(select(audit_log)).mappings().one()
    assert (logged["action"], logged["actor"], logged["target"], logged["address"]) == (
        Action.PERSONAL_DATA_VIEWED.value, "district-officer", f"case:{case_id}", "10.0.0.7")
    assert PHONE not in repr(dict(logged)) and kinds(engine, case_id)[-1] == "number_viewed"


def test_the_receipt_pages_verdict_is_the_citizens_own(engine: Engine) -> None:
    uuid = terminal(engine, "u-a").rate(1)
    case_id, who = case_of(engine, uuid)["id"], actors(engine, "u-a")
    step(engine, flow.assign, case_id, who["unit"], assignee="x")
    step(engine, flow.rectify, case_id, who["unit"], cause="c", measures="m")
    refused(engine, BadInput, flow.record_verdict, case_id, who["district"], verdict=Verdict.SATISFIED,
            source=VerdictSource.RECEIPT)
    step(engine, flow.record_verdict, case_id, None, verdict=Verdict.UNSATISFIED, source=VerdictSource.RECEIPT)
    assert case_of(engine, uuid)["verdict"] == "unsatisfied"


def test_an_upheld_appeal_excludes_the_rating_and_closes_the_case(engine: Engine) -> None:
    device = terminal(engine, "u-a")
    uuid = device.rate(1)
    case_id, who = case_of(engine, uuid)["id"], actors(engine, "u-a")
    refused(engine, BadInput, flow.appeal, case_id, who["unit"], grounds=" ")
    step(engine, flow.appeal, case_id, who["unit"], grounds="the citizen pressed while arguing with another",
         files=[Evidence("cctv.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 32)])
    assert "already has an appeal (pending)" in refused(engine, BadInput, flow.appeal, case_id, who["unit"],
                                                        grounds="again")
    for actor in (who["unit"], who["district"]):
        assert "that is for the city office" in refused(engine, Forbidden, flow.decide_appeal, case_id, actor,
                                                        upheld=True, reason="r")
    step(engine, flow.assign, case_id, who["unit"], assignee="x")
    step(engine, flow.rectify, case_id, who["unit"], cause="c", measures="m")
    step(engine, flow.verify, case_id, who["district"])
    assert "pending appeal" in refused(engine, BadInput, flow.close, case_id, who["district"])
    step(engine, flow.decide_appeal, case_id, who["city"], upheld=True, reason="the video shows it")
    case = case_of(engine, uuid)
    assert (case["state"], case["appeal"]) == ("closed", "upheld")
    figures = indicators.compute(engine, indicators.Scope.units(["u-a"]),
                                 indicators.period_of(indicators.PeriodKind.DAY, MONDAY.date()))
    assert (figures.rated, figures.excluded) == (0, 1)
    with engine.connect() as conn:
        assert conn.execute(select(ratings.c.level).where(ratings.c.uuid == uuid)).scalar_one() == 1   # kept
        assert conn.execute(select(rating_exclusions.c.decided_by)).scalar_one() == "city-officer"
    refused(engine, BadInput, flow.decide_appeal, case_id, who["city"], upheld=False, reason="again")


def test_a_rejected_appeal_is_recorded_and_the_case_goes_on(engine: Engine) -> None:
    uuid = terminal(engine, "u-a").rate(2)
    case_id, who = case_of(engine, uuid)["id"], actors(engine, "u-a")
    step(engine, flow.appeal, case_id, who["unit"], grounds="we think it was a mistake")
    assert "no pending appeal" not in refused(engine, Forbidden, flow.decide_appeal, case_id, who["auditor"],
                                              upheld=False, reason="r")
    step(engine, flow.decide_appeal, case_id, who["city"], upheld=False, reason="no evidence of a mistake")
    case = case_of(engine, uuid)
    assert (case["state"], case["appeal"]) == ("new", "rejected")
    step(engine, flow.assign, case_id, who["unit"], assignee="x")
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(rating_exclusions)).scalar_one() == 0
    assert kinds(engine, case_id) == ["opened", "appealed", "appeal_rejected", "assigned"]
