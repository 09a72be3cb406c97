"""A unit's credit code (统一社会信用代码) and region code (行政区划代码) in the registry: checked, imported from the
office's sheet and `unit add`, listed; a bad code is refused naming the line and the field."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from centre.cli import main
from centre.db.engine import open_engine
from centre.db.tables import units
from centre.registry.codes import credit_check_char, credit_code_problem, region_code_problem
from centre.registry.sheet import COLUMNS, read

GOOD = "11339901MB0120345" + credit_check_char("11339901MB0120345")
HEADERS = [column.header for column in COLUMNS]


def test_credit_codes_are_checked_by_their_check_character() -> None:
    for real in ("91350100M000100Y43", "91110000802100433B"):   # as printed on business licences
        assert credit_code_problem(real) is None
    assert "fails its check character: the 18th should be '3'" in str(credit_code_problem("91350100M000100Y44"))
    assert "17 characters" in str(credit_code_problem("91350100M000100Y4"))
    assert "not a 统一社会信用代码" in str(credit_code_problem("91350100I000100Y43"))    # no I in the alphabet
    assert region_code_problem("110101") is None and region_code_problem("110101001001") is None
    assert "6 or 12 digits" in str(region_code_problem("1101"))
    assert "province" in str(region_code_problem("990101"))


def sheet(path: Path, *rows: dict[str, str]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(HEADERS)
        for row in rows:
            writer.writerow([row.get(column.key, column.example if column.required else "") for column in COLUMNS])
    return path


def test_the_sheet_and_the_template_carry_the_codes(tmp_path: Path) -> None:
    template = tmp_path / "template.csv"
    assert main(["unit", "template", "--out", str(template)]) == 0
    example = read(template)[0].values
    assert credit_code_problem(example["credit_code"]) is None and region_code_problem(example["region_code"]) is None


def test_import_add_and_list_with_codes(sqlite_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = GOOD
    done = sheet(tmp_path / "units.csv", {"unit_id": "u-1", "credit_code": good.lower(), "region_code": "339901"},
                 {"unit_id": "u-2", "counter_id": "c-1"})
    assert main(["unit", "import", str(done), "--db", sqlite_db]) == 0
    assert main(["unit", "add", "--id", "u-3", "--name", "三号", "--district", "东城区", "--sector", "education",
                 "--credit-code", good, "--region-code", "110101001001", "--db", sqlite_db]) == 0
    engine = open_engine(sqlite_db, create=False)
    with engine.connect() as conn:
        held = {row.id: (row.credit_code, row.region_code) for row in conn.execute(select(units))}
    assert held == {"u-1": (good, "339901"), "u-2": (None, None), "u-3": (good, "110101001001")}

    again = sheet(tmp_path / "again.csv", {"unit_id": "u-1"})     # a sheet without the codes keeps them
    assert main(["unit", "import", str(again), "--db", sqlite_db]) == 0
    capsys.readouterr()
    assert main(["unit", "list", "--json", "--db", sqlite_db]) == 0
    listed = {unit["id"]: (unit["credit_code"], unit["region_code"]) for unit in json.loads(capsys.readouterr().out)}
    assert listed["u-1"] == (good, "339901")
    assert main(["unit", "list", "--db", sqlite_db]) == 0
    assert f"{good} · 339901" in capsys.readouterr().out


def test_bad_codes_are_refused_naming_the_line_and_the_field(sqlite_db: str, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    bad = sheet(tmp_path / "bad.csv", {"unit_id": "u-1", "credit_code": GOOD[:17] + ("0" if GOOD[17] != "0" else "1")},
                {"unit_id": "u-2", "counter_id": "c-1", "region_code": "12345"})
    assert main(["unit", "import", str(bad), "--db", sqlite_db]) == 2
    said = capsys.readouterr().err
    assert "2 problem(s), nothing imported" in said
    assert "line 2: credit code" in said and "fails its check character" in said
    assert "line 3: region code '12345' must be 6 or 12 digits" in said
    assert main(["unit", "add", "--id", "u-3", "--name", "三号", "--district", "东城区", "--sector", "education",
                 "--credit-code", "123", "--db", sqlite_db]) == 2
    assert "credit code '123' has 3 characters, not 18" in capsys.readouterr().err
    with open_engine(sqlite_db, create=False).connect() as conn:
        assert conn.execute(select(units.c.id)).all() == []
