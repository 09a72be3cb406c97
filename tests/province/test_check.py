"""`evaluator centre province check`: the dry run's counts, its refusals by rule with examples, its exit status,
its days in the city's zone, and that it writes nothing; on crafted rows and on a small demo city."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from centre.cli import main
from centre.db.engine import open_engine
from centre.db.province_tables import province_records
from centre.province.mapping import load_mapping
from centre.province.records import make_records
from tests.province.craft import AT, Craft

DAY = ["--since", "2026-03-02", "--until", "2026-03-02"]


@pytest.fixture
def crafted(sqlite_db: str) -> str:
    craft = Craft(open_engine(sqlite_db, create=False))
    craft.unit()
    craft.device()
    craft.rating(5, case_no="C-1")
    craft.rating(4, case_no="C-1", at=AT + timedelta(minutes=2))
    craft.rating(1, case_no="C-2")
    craft.rating(5, case_no=None)
    craft.rating(5, case_no="C-3", at=datetime(2026, 3, 1, 17, 0, tzinfo=UTC))   # 01:00 on the 2nd in Shanghai
    return sqlite_db


def records_held(url: str) -> int:
    with open_engine(url, create=False).connect() as conn:
        return int(conn.execute(select(func.count()).select_from(province_records)).scalar_one())


def test_check_counts_lists_refusals_by_rule_and_exits_1(crafted: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["province", "check", *DAY, "--db", crafted]) == 1
    said = capsys.readouterr().out.splitlines()
    assert said[0] == ("province check: mapping national-haochaping-model (version 1); days 2026-03-02 … 2026-03-02 "
                       "(Asia/Shanghai): 5 record(s)")
    assert said[1:4] == ["  would be sent: 2", "  skipped:       1 (case_rated_twice 1)", "  refused:       2"]
    bad = next(line for line in said if line.startswith("bad_review_without_reason: 1 record(s): a bad review"))
    assert "level 1" in bad
    assert any(line.startswith("solicited_without_case: 1 record(s): a solicited rating without a case number")
               for line in said)
    assert any(line.startswith("  rating:") and line.endswith("unit u-1  case C-2") for line in said)
    assert records_held(crafted) == 0                    # a dry run writes nothing


def test_check_as_json_and_in_another_zone(crafted: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["province", "check", *DAY, "--format", "json", "--db", crafted]) == 1
    found = json.loads(capsys.readouterr().out)
    assert (found["records"], found["send"], found["skipped"]) == (5, 2, {"case_rated_twice": 1})
    assert {rule: value["count"] for rule, value in found["refused"].items()} == \
        {"bad_review_without_reason": 1, "solicited_without_case": 1}
    example = found["refused"]["bad_review_without_reason"]["examples"][0]
    assert (example["unit_id"], example["case_no"], example["fields"]["alternate"]) == ("u-1", "C-2", "1")
    assert main(["province", "check", *DAY, "--zone", "UTC", "--format", "json", "--db", crafted]) == 1
    assert json.loads(capsys.readouterr().out)["records"] == 4       # the 01:00 rating was on the 1st in UTC


def test_check_exits_0_when_nothing_would_be_refused(crafted: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["province", "check", "--since", "2026-03-03", "--until", "2026-03-04", "--db", crafted]) == 0
    assert "0 record(s)" in capsys.readouterr().out


def test_check_refuses_bad_input_with_exit_2(crafted: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "mine.yaml"
    broken.write_text("name: mine\n", encoding="utf-8")
    assert main(["province", "check", *DAY, "--mapping", str(broken), "--db", crafted]) == 2
    assert f"{broken}: version: Field required" in capsys.readouterr().err
    assert main(["province", "check", "--since", "2026-03-02", "--until", "2026-03-01", "--db", crafted]) == 2
    assert "--until 2026-03-01 is before --since 2026-03-02" in capsys.readouterr().err


def test_check_on_a_demo_city_agrees_with_the_records_made(sqlite_db: str, capsys: pytest.CaptureFixture[str]) -> None:
    # Two working days, fixed (ending yesterday, they were a weekend's few ratings two days a week).
    assert main(["demo", "--units", "3", "--counters-per-unit", "1", "--days", "2", "--seed", "5",
                 "--until", "2026-11-04", "--db", sqlite_db]) == 0
    capsys.readouterr()
    status = main(["province", "check", "--since", "2026-11-03", "--until", "2026-11-04", "--format", "json",
                   "--db", sqlite_db])
    found = json.loads(capsys.readouterr().out)
    refused = sum(value["count"] for value in found["refused"].values())
    assert status == (1 if refused else 0) and found["records"] > 50
    assert "unit_without_credit_code" not in found["refused"]        # the demo's units have their codes
    now = datetime.now(UTC)
    made = make_records(open_engine(sqlite_db, create=False), load_mapping(None), now, now)
    assert (made.pending, made.skipped, made.invalid) == (found["send"], sum(found["skipped"].values()), refused)
    capsys.readouterr()
    assert main(["province", "records", "--state", "pending", "--limit", "2", "--json", "--db", sqlite_db]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(listed) == min(2, made.pending) and all(row["state"] == "pending" for row in listed)
