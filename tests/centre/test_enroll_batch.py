"""`evaluator centre enroll-code --file COUNTERS.csv` (centre/enroll_batch.py): a code for every counter of a
sheet in one process and one transaction, all or nothing, written as CSV for the technician to print.

Through the real CLI (`python -m centre.cli`) and a real centre process, on SQLite and PostgreSQL.
"""
from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import requests
from openpyxl import Workbook
from sqlalchemy import func, select

from centre.db.tables import enroll_codes
from centre.registry import importer
from tests.centre.conftest import TIMEOUT

UNIT = "dc-hrss"


def register(collector, tmp_path: Path, counters: int) -> None:
    """UNIT with counters c-000 … from a sheet, as an office registers them: by the import `unit import` runs, in
    this process (that command is tested in test_registry; here it is set-up, and a start costs half a second)."""
    rows = [f"东城区,hrss,{UNIT},东城人社中心,c-{n:03d},{n}号窗口" for n in range(counters)]
    sheet = tmp_path / "units.csv"
    sheet.write_text("\n".join(["district,sector,unit_id,unit_name,counter_id,counter_name", *rows]) + "\n",
                     encoding="utf-8")
    assert importer.import_file(collector.engine, sheet).counters == counters


def codes_held(collector) -> dict[str, dict]:
    with collector.engine.connect() as conn:
        return {row["code"]: dict(row) for row in conn.execute(select(enroll_codes)).mappings()}


def test_a_hundred_codes_from_one_file_in_one_process(collector, tmp_path):
    register(collector, tmp_path, 100)
    rows = [f"{UNIT},c-{n:03d}," + ("迎宾窗口" if n == 7 else "") for n in range(100)]
    sheet = tmp_path / "counters.csv"
    sheet.write_text("\n".join(["unit,counter,counter_name", *rows]) + "\n", encoding="utf-8-sig")   # Excel's BOM
    done = collector.cli("enroll-code", "--file", str(sheet))
    assert done.returncode == 0, done.stderr
    printed = list(csv.DictReader(io.StringIO(done.stdout)))
    assert list(printed[0]) == ["unit", "counter", "code", "expires_at"]
    assert [(row["unit"], row["counter"]) for row in printed] == [(UNIT, f"c-{n:03d}") for n in range(100)]
    assert all(re.fullmatch(r"[A-Z2-9]{10}", row["code"]) for row in printed)
    assert len({row["code"] for row in printed}) == 100
    assert done.stderr == f"100 code(s) issued, valid until {printed[0]['expires_at']}\n"

    held = codes_held(collector)
    assert set(held) == {row["code"] for row in printed}
    for row in printed:
        code = held[row["code"]]
        assert (code["unit_id"], code["counter_id"], code["expires_at"]) == (UNIT, row["counter"], row["expires_at"])
    assert {code["counter_name"] for code in held.values() if code["counter_id"] == "c-007"} == {"迎宾窗口"}
    answer = requests.post(collector.url + "/v1/enroll", json={"code": printed[7]["code"], "app_version": "0"},
                           timeout=TIMEOUT)
    assert answer.status_code == 200, answer.text
    assert answer.json()["config"]["counter"] == {"id": "c-007", "name": "迎宾窗口"}
    assert answer.json()["config"]["unit"]["name"] == "东城人社中心"


def test_a_bad_row_refuses_every_code_and_each_is_named_by_its_line(collector, tmp_path):
    register(collector, tmp_path, 3)
    sheet = tmp_path / "counters.csv"
    sheet.write_text("\n".join(["unit,counter,unit_name",
                                f"{UNIT},c-000,",                      # line 2: fine
                                "xc-ga,c-1,",                          # line 3: no such unit
                                f"{UNIT},c-9,",                        # line 4: no such counter
                                "",                                    # line 5: blank, skipped
                                f"{UNIT},c-000,",                      # line 6: c-000 again
                                f"{UNIT},c-001,{'长' * 61}",            # line 7: a name a terminal cannot show
                                f"{UNIT},,"]) + "\n", encoding="utf-8")  # line 8: no counter
    done = collector.cli("enroll-code", "--file", str(sheet))
    assert done.returncode == 2 and done.stdout == "", done.stdout
    assert f"{sheet}: 5 problem(s), no code issued" in done.stderr
    for line, words in ((3, "unknown unit 'xc-ga'"),
                        (4, f"unknown counter 'c-9' of unit '{UNIT}' (its counters: c-000, c-001, c-002)"),
                        (6, f"counter {UNIT}/c-000 again (also on line 2)"),
                        (7, "unit name '长"), (8, "missing counter id")):
        assert f"line {line}: {words}" in done.stderr, (line, done.stderr)
    assert "line 2:" not in done.stderr and "line 5:" not in done.stderr
    assert codes_held(collector) == {}


def test_an_xlsx_with_the_registrys_headers_and_an_out_file(collector, tmp_path):
    register(collector, tmp_path, 2)
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["单位编号 / Unit ID", "窗口编号 / Counter ID", "区县 / District"])   # other columns are ignored
    sheet.append([UNIT, "c-000", "东城区"])
    sheet.append([UNIT, "c-001", "东城区"])
    workbook.save(tmp_path / "counters.xlsx")
    out = tmp_path / "codes.csv"
    done = collector.cli("enroll-code", "--file", str(tmp_path / "counters.xlsx"), "--out", str(out))
    assert done.returncode == 0 and done.stdout == "", done.stderr
    written = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [(row["unit"], row["counter"]) for row in written] == [(UNIT, "c-000"), (UNIT, "c-001")]
    assert set(codes_held(collector)) == {row["code"] for row in written}
    assert f"2 code(s) issued, valid until {written[0]['expires_at']}, written to {out}" in done.stderr

    # An --out that cannot be written issues nothing, and leaves nothing behind.
    nowhere = tmp_path / "missing" / "codes.csv"
    refused = collector.cli("enroll-code", "--file", str(tmp_path / "counters.xlsx"), "--out", str(nowhere))
    assert refused.returncode == 2 and f"{nowhere}: cannot write" in refused.stderr
    with collector.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(enroll_codes)).scalar_one() == 2
    assert sorted(path.name for path in tmp_path.iterdir() if path.name.startswith("codes")) == ["codes.csv"]


def test_the_file_and_the_single_form_do_not_mix(collector, tmp_path):
    register(collector, tmp_path, 1)
    sheet = tmp_path / "counters.csv"
    sheet.write_text(f"unit,counter\n{UNIT},c-000\n", encoding="utf-8")
    for args, words in ((["--file", str(sheet), "--unit", UNIT], "--file and --unit: give one or the other"),
                        (["--file", str(sheet), "--counter-name", "x"], "--file and --counter-name"),
                        (["--unit", UNIT], "give --unit and --counter (one code), or --file"),
                        (["--unit", UNIT, "--counter", "c-000", "--out", "x.csv"], "--out goes with --file"),
                        (["--out", "x.csv"], "--out goes with --file")):
        done = collector.cli("enroll-code", *args)
        assert done.returncode == 2 and words in done.stderr and done.stdout == "", (args, done.stderr)
    headless = tmp_path / "bad.csv"
    headless.write_text(f"unit_id,窗口\n{UNIT},c-000\n", encoding="utf-8")
    done = collector.cli("enroll-code", "--file", str(headless))
    assert done.returncode == 2 and "line 1: missing column(s) counter" in done.stderr, done.stderr
    assert codes_held(collector) == {}
