"""Ratings → province records (centre/province/records.py): crafted rows, their records field by field, the rules
that refuse or skip them, and make_records' idempotence, progress mark and concurrency, on SQLite and PostgreSQL."""
from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine, select, update

from centre.cli import main
from centre.db.engine import open_engine
from centre.db.province_tables import province_progress, province_records
from centre.province import making
from centre.province.mapping import DEFAULT_MAPPING, Mapping, load_mapping
from centre.province.records import MadeCount, make_records, preview
from tests.province.craft import AT, AT_LOCAL, CREDIT, NOW, REGION, Craft


def mapping_with(tmp_path: Path, **changes: Any) -> Mapping:
    raw = yaml.safe_load(DEFAULT_MAPPING.read_text(encoding="utf-8"))
    raw.update(changes)
    path = tmp_path / "mapping.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return load_mapping(path)


def held(engine: Engine) -> dict[str, dict[str, Any]]:
    with engine.connect() as conn:
        return {row["record_id"]: dict(row) for row in conn.execute(select(province_records)).mappings()}


@pytest.fixture
def engine(db_url: str) -> Engine:
    return open_engine(db_url, create=False)


@pytest.fixture
def craft(engine: Engine) -> Craft:
    made = Craft(engine)
    made.unit()
    made.device()
    return made


def good_fields(uuid: str, **more: Any) -> dict[str, Any]:
    return {"appraiseId": f"rating:{uuid}", "pf": "4", "assessTime": AT_LOCAL, "deptCode": CREDIT,
            "areaCode": REGION, "windowUser": "s-1", "assessNumber": 1, **more}


def test_each_kind_of_rating_maps_to_its_record(engine: Engine, craft: Craft) -> None:
    good = craft.rating(5, case_no="C-1", item_code="11100000MB01", channel="panel")
    bad = craft.rating(1, case_no="C-2")
    craft.reasons(bad, "wait", "attitude", "wait")
    bare = craft.rating(2, case_no="C-3")
    first, second = craft.rating(4, case_no="C-4"), craft.rating(3, case_no="C-4", at=AT + timedelta(minutes=5))
    open_mode = craft.rating(5, mode="open")
    no_case = craft.rating(4, mode="solicited")
    excluded = craft.rating(1, case_no="C-5")
    craft.exclude(excluded)
    craft.rating(5, case_no="C-6", before_enrollment=True)
    craft.rating(5, case_no="C-7", conflict=True)

    made = make_records(engine, load_mapping(None), NOW, NOW)

    records = held(engine)
    assert made == MadeCount(pending=3, invalid=2, skipped=3)
    assert len(records) == 8                                     # before enrollment, in conflict: no record
    assert records[f"rating:{good}"]["fields"] == good_fields(good, projectNo="C-1", taskCode="11100000MB01",
                                                              alternate="5", pf="5")   # the key panel
    assert records[f"rating:{bad}"]["fields"] == good_fields(bad, projectNo="C-2", alternate="1", appraisald="03,01",
                                                             appraisaldetail="等候时间长；服务态度差")
    assert (records[f"rating:{bad}"]["state"], records[f"rating:{good}"]["state"]) == ("pending", "pending")
    refused = records[f"rating:{bare}"]
    assert (refused["state"], refused["rule"]) == ("invalid", "bad_review_without_reason")
    assert "level 2" in refused["problem"] and refused["fields"]["alternate"] == "2"
    assert records[f"rating:{first}"]["state"] == "pending"
    assert (records[f"rating:{second}"]["state"], records[f"rating:{second}"]["rule"]) == \
        ("skipped", "case_rated_twice")
    assert (records[f"rating:{open_mode}"]["state"], records[f"rating:{open_mode}"]["rule"]) == \
        ("skipped", "open_without_case")
    assert (records[f"rating:{no_case}"]["state"], records[f"rating:{no_case}"]["rule"]) == \
        ("invalid", "solicited_without_case")
    assert (records[f"rating:{excluded}"]["state"], records[f"rating:{excluded}"]["rule"]) == ("skipped", "excluded")
    assert records[f"rating:{good}"]["item_code"] == "11100000MB01"
    assert records[f"rating:{good}"]["evaluated_at"] == "2026-03-02T01:15:06.000000+00:00"


def test_numbered_cases_and_open_ratings_sent_without_a_case(tmp_path: Path, engine: Engine, craft: Craft) -> None:
    mapping = mapping_with(tmp_path, per_case="numbered", without_case="send")
    first, second = craft.rating(4, case_no="C-4"), craft.rating(3, case_no="C-4", at=AT + timedelta(minutes=5))
    open_mode = craft.rating(5, mode="open", staff_id=None)

    assert make_records(engine, mapping, NOW, NOW) == MadeCount(pending=3)

    records = held(engine)
    assert records[f"rating:{first}"]["fields"]["assessNumber"] == 1
    assert records[f"rating:{second}"]["fields"] == good_fields(second, projectNo="C-4", alternate="3",
                                                                assessNumber=2, assessTime="2026-03-02 09:20:06")
    expected = good_fields(open_mode, alternate="5")
    del expected["windowUser"]
    assert records[f"rating:{open_mode}"]["fields"] == expected


def test_unrated_requests_are_omitted_or_reported_never_as_a_level(tmp_path: Path, engine: Engine,
                                                                   craft: Craft) -> None:
    craft.unrated(case_no="C-9", item_code="T-1")
    assert make_records(engine, load_mapping(None), NOW, NOW) == MadeCount()   # omit: no record at all
    assert held(engine) == {}

    reporting = mapping_with(tmp_path, unrated={"mode": "report", "code": "0"})
    craft.unrated(case_no="C-8")               # its case is rated later: the rating stands, the request is skipped
    craft.rating(5, case_no="C-8", at=AT + timedelta(minutes=1))
    assert make_records(engine, reporting, NOW, NOW) == MadeCount(pending=2, skipped=1)

    records = held(engine)
    reported = records["unrated:dev-1:1"]
    assert reported["state"] == "pending" and reported["source"] == "unrated" and reported["item_code"] == "T-1"
    assert reported["fields"] == {"appraiseId": "unrated:dev-1:1", "projectNo": "C-9", "taskCode": "T-1", "pf": "4",
                                  "alternate": "0", "assessTime": AT_LOCAL, "deptCode": CREDIT, "areaCode": REGION,
                                  "windowUser": "s-1"}
    assert (records["unrated:dev-1:2"]["state"], records["unrated:dev-1:2"]["rule"]) == \
        ("skipped", "case_already_reported")


def test_a_unit_without_codes_is_refused_naming_both(engine: Engine, craft: Craft) -> None:
    craft.unit("u-2", credit=None, region=None)
    craft.device("dev-2", "u-2")
    uuid = craft.rating(5, device="dev-2", unit="u-2", case_no="C-1")

    make_records(engine, load_mapping(None), NOW, NOW)

    record = held(engine)[f"rating:{uuid}"]
    assert (record["state"], record["rule"]) == ("invalid", "unit_without_credit_code")
    assert "统一社会信用代码" in record["problem"] and "行政区划代码" in record["problem"]
    assert "deptCode" not in record["fields"] and "areaCode" not in record["fields"]


def test_remake_takes_the_codes_the_unit_was_given_since(engine: Engine, craft: Craft, db_url: str,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    craft.unit("u-2", credit=None, region=None)
    craft.device("dev-2", "u-2")
    first = craft.rating(5, device="dev-2", unit="u-2", case_no="C-1")
    second = craft.rating(5, device="dev-2", unit="u-2", case_no="C-1", at=AT + timedelta(minutes=2))
    bare = craft.rating(1, case_no="C-2")
    make_records(engine, load_mapping(None), NOW, NOW)
    assert held(engine)[f"rating:{second}"]["rule"] == "case_rated_twice"

    craft.unit("u-2")                                           # the office imports its codes
    assert main(["province", "remake", "--rule", "unit_without_credit_code", "--db", db_url]) == 0
    assert capsys.readouterr().out == "remade 1 invalid record(s): 1 pending\n"
    records = held(engine)
    assert (records[f"rating:{first}"]["state"], records[f"rating:{first}"]["fields"]["deptCode"]) == \
        ("pending", CREDIT)
    assert records[f"rating:{first}"]["fields"]["assessNumber"] == 1     # still its case's first
    assert records[f"rating:{bare}"]["state"] == "invalid"                # another rule: not asked for
    assert main(["province", "remake", "--db", db_url]) == 0
    assert capsys.readouterr().out == "remade 1 invalid record(s): 1 invalid\n"   # still no reason


def test_implausible_times_and_unknown_reasons_are_refused(engine: Engine, craft: Craft) -> None:
    future = craft.rating(5, case_no="C-1", at=NOW + timedelta(hours=1), received=NOW - timedelta(minutes=1))
    early = craft.rating(5, case_no="C-2", at=AT - timedelta(days=90))      # before its device was enrolled
    odd = craft.rating(2, case_no="C-3")
    craft.reasons(odd, "parking")

    make_records(engine, load_mapping(None), NOW, NOW)

    records = held(engine)
    assert records[f"rating:{future}"]["rule"] == "implausible_time"
    assert "future" in records[f"rating:{future}"]["problem"]
    assert records[f"rating:{early}"]["rule"] == "implausible_time"
    assert "enrolled" in records[f"rating:{early}"]["problem"]
    assert records[f"rating:{odd}"]["rule"] == "unknown_reason_code"
    assert "parking" in records[f"rating:{odd}"]["problem"]


def test_late_reasons_make_the_record_again_and_late_exclusions_withdraw_it(engine: Engine, craft: Craft) -> None:
    bad = craft.rating(2, case_no="C-1")
    good = craft.rating(5, case_no="C-2")
    mapping = load_mapping(None)
    make_records(engine, mapping, NOW, NOW)
    assert held(engine)[f"rating:{bad}"]["rule"] == "bad_review_without_reason"

    craft.reasons(bad, "slow", received=NOW)        # its reasons came in a later batch
    craft.exclude(good)                             # and the good one's appeal was upheld before it was sent
    later = NOW + timedelta(minutes=20)
    assert make_records(engine, mapping, later, later) == MadeCount(remade=1, withdrawn=1)

    records = held(engine)
    assert (records[f"rating:{bad}"]["state"], records[f"rating:{bad}"]["rule"]) == ("pending", None)
    assert records[f"rating:{bad}"]["fields"]["appraisald"] == "02"
    assert records[f"rating:{bad}"]["fields"]["assessNumber"] == 1           # still the case's first
    assert (records[f"rating:{good}"]["state"], records[f"rating:{good}"]["rule"]) == ("skipped", "excluded")


def test_sent_records_stay_as_they_are_when_excluded_later(engine: Engine, craft: Craft) -> None:
    good = craft.rating(5, case_no="C-2")
    mapping = load_mapping(None)
    make_records(engine, mapping, NOW, NOW)
    with engine.begin() as conn:
        conn.execute(update(province_records).values(state="accepted", attempts=1))
    craft.exclude(good)
    assert make_records(engine, mapping, NOW, NOW) == MadeCount()
    assert held(engine)[f"rating:{good}"]["state"] == "accepted"


def test_idempotent_with_a_progress_mark_settling_and_late_commits(engine: Engine, craft: Craft,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(making, "MARGIN_ROWS", 3)
    mapping = load_mapping(None)
    uuids = [craft.rating(5, case_no=f"C-{n}", pk=10 * n) for n in range(1, 6)]
    fresh = craft.rating(5, case_no="C-new", received=NOW + timedelta(seconds=1), pk=60)   # not settled yet

    assert make_records(engine, mapping, NOW, NOW) == MadeCount(pending=5)
    assert make_records(engine, mapping, NOW, NOW) == MadeCount()
    assert f"rating:{fresh}" not in held(engine)
    with engine.connect() as conn:
        marks = dict(conn.execute(select(province_progress.c.name, province_progress.c.value)).all())
    assert marks["ratings_pk"] == "59"                        # held before the unsettled row

    late = craft.rating(4, case_no="C-late", pk=57)           # committed late, behind rows already read
    later = NOW + timedelta(minutes=5)
    assert make_records(engine, mapping, later, later) == MadeCount(pending=2)
    assert {f"rating:{uuid}" for uuid in [*uuids, fresh, late]} == set(held(engine))
    with engine.connect() as conn:
        assert conn.execute(select(province_progress.c.value)
                            .where(province_progress.c.name == "ratings_pk")).scalar() == "60"


def test_two_processes_at_once_make_each_record_once(engine: Engine, craft: Craft, db_url: str) -> None:
    mapping = load_mapping(None)
    craft.ratings([{"level": 5 if n % 7 else 4, "case_no": f"C-{n % 2400}", "at": AT + timedelta(seconds=n)}
                   for n in range(2500)])       # more than one chunk
    counts: list[MadeCount] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def run() -> None:
        own = open_engine(db_url, create=False)
        try:
            start.wait()
            counts.append(make_records(own, mapping, NOW, NOW))
        except BaseException as exc:   # reported by the test below
            errors.append(exc)
        finally:
            own.dispose()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    records = held(engine)
    assert len(records) == 2500
    assert sum(count.total for count in counts) == 2500
    assert sum(1 for record in records.values() if record["rule"] == "case_rated_twice") == 100


def test_preview_writes_nothing_and_agrees_with_making(engine: Engine, craft: Craft) -> None:
    mapping = load_mapping(None)
    craft.rating(5, case_no="C-1")
    craft.rating(5, case_no="C-1", at=AT + timedelta(minutes=3))
    craft.rating(2, case_no="C-2")
    with engine.connect() as conn:
        dry = preview(conn, mapping, AT - timedelta(hours=1), AT + timedelta(hours=1))
    assert held(engine) == {}
    make_records(engine, mapping, NOW, NOW)
    made = held(engine)
    assert {(r.record_id, r.state.value, r.rule) for r in dry} == \
        {(key, row["state"], row["rule"]) for key, row in made.items()}
    with engine.connect() as conn:      # the same once made: the span's own records do not count twice
        again = preview(conn, mapping, AT - timedelta(hours=1), AT + timedelta(hours=1))
    assert [(r.record_id, r.state) for r in again] == [(r.record_id, r.state) for r in dry]
