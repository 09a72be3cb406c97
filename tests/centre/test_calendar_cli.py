"""`evaluator centre calendar import|show|template` through the installed console script, on a real SQLite file
migrated by `evaluator centre migrate`: all or nothing, a bad row named by line and field, a day imported
again replaced, and an import seen by a calendar already cached in another process."""
from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from centre.cases.workdays import load_calendar
from centre.db.engine import open_engine
from centre.db.loop_tables import calendar_days

EVALUATOR = Path(sys.executable).parent / "evaluator"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(EVALUATOR), "centre", *args], capture_output=True, text=True, timeout=60)


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'centre.db'}"
    done = run("migrate", "--db", url)
    assert done.returncode == 0, done.stderr
    return url


def held(url: str) -> list[tuple[str, bool, str, str]]:
    engine = open_engine(url, create=False)
    with engine.connect() as conn:
        found = conn.execute(select(calendar_days.c.day, calendar_days.c.working, calendar_days.c.note,
                                    calendar_days.c.imported_by).order_by(calendar_days.c.day)).all()
    engine.dispose()
    return [(day, bool(working), note, by) for day, working, note, by in found]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_a_csv_imports_and_show_lists_the_corrections_over_the_package(db, tmp_path):
    sheet = write(tmp_path / "fix.csv", "day,working,note\n2026-10-08,否,台风停办\n2026-11-14,是,集中办理\n")
    done = run("calendar", "import", str(sheet), "--by", "王科长", "--db", db)
    assert done.returncode == 0, done.stderr
    assert "2 day(s) imported for 2026 (2 new, 0 replaced) by 王科长" in done.stdout
    assert held(db) == [("2026-10-08", False, "台风停办", "王科长"), ("2026-11-14", True, "集中办理", "王科长")]
    shown = run("calendar", "show", "--year", "2026", "--db", db)
    assert shown.returncode == 0, shown.stderr
    assert "the State Council's calendar (chinese_calendar 1.11.0)" in shown.stdout
    assert "2026-10-10 Sat  National Day" in shown.stdout            # a make-up working day, by the package
    assert "2026-10-01 Thu  National Day" in shown.stdout
    assert "2026-10-08 Thu  off      台风停办  — imported" in shown.stdout and "by 王科长" in shown.stdout


def test_a_bad_file_names_line_and_field_and_imports_nothing(db, tmp_path):
    good = write(tmp_path / "good.csv", "day,working,note\n2026-11-16,0,first\n")
    assert run("calendar", "import", str(good), "--by", "a", "--db", db).returncode == 0
    bad = write(tmp_path / "bad.csv", "day,working,note\n2026-11-16,1,changed\n2026-02-30,1,x\n"
                                      "2026-11-20,maybe,y\n2026-11-16,0,twice\n")
    done = run("calendar", "import", str(bad), "--by", "b", "--db", db)
    assert done.returncode == 2
    assert f"{bad}: 3 problem(s), nothing imported" in done.stderr
    assert "line 3: field 'day': '2026-02-30' is not a date YYYY-MM-DD" in done.stderr
    assert "line 4: field 'working': 'maybe'" in done.stderr
    assert "line 5: field 'day': 2026-11-16 again (also line 2)" in done.stderr
    assert held(db) == [("2026-11-16", False, "first", "a")]     # the good first row was not stored either


def test_a_file_without_the_columns_is_refused(db, tmp_path):
    sheet = write(tmp_path / "cols.csv", "date,note\n2026-11-16,x\n")
    done = run("calendar", "import", str(sheet), "--db", db)
    assert done.returncode == 2 and "line 1: missing column(s) working" in done.stderr
    assert held(db) == []


def test_re_importing_a_day_replaces_the_offices_word_on_it(db, tmp_path):
    first = write(tmp_path / "a.csv", "day,working,note\n2026-11-16,0,typhoon\n")
    second = write(tmp_path / "b.csv", "日期,上班,备注\n2026-11-16,1,typhoon passed\n")
    assert run("calendar", "import", str(first), "--by", "a", "--db", db).returncode == 0
    done = run("calendar", "import", str(second), "--by", "b", "--db", db)
    assert done.returncode == 0 and "(0 new, 1 replaced)" in done.stdout
    assert held(db) == [("2026-11-16", True, "typhoon passed", "b")]


def test_an_import_in_another_process_reaches_a_cached_calendar(db, tmp_path):
    engine: Engine = open_engine(db, create=False)
    with engine.connect() as conn:
        cached = load_calendar(conn, date(2026, 12, 5))
    assert cached.unknown_years == frozenset({2027})
    sheet = write(tmp_path / "2027.csv", "day,working,note\n2027-01-01,0,元旦\n")
    assert run("calendar", "import", str(sheet), "--by", "office", "--db", db).returncode == 0
    with engine.connect() as conn:
        fresh = load_calendar(conn, date(2026, 12, 5))
    engine.dispose()
    assert fresh.unknown_years == frozenset() and not fresh.is_working(date(2027, 1, 1))
    new_years_eve = datetime(2026, 12, 31, 2, 0, tzinfo=UTC)
    assert fresh.add_working_days(new_years_eve, 1, "Asia/Shanghai") == datetime(2027, 1, 4, 16, 0, tzinfo=UTC)


def test_show_says_a_year_is_unknown_until_imported(db, tmp_path):
    unknown = run("calendar", "show", "--year", "2027", "--db", db)
    assert unknown.returncode == 0
    assert "2027: UNKNOWN to chinese_calendar 1.11.0 and not imported" in unknown.stdout
    assert "import the State Council's 2027 holiday notice" in unknown.stdout
    sheet = write(tmp_path / "2027.csv", "day,working,note\n2027-01-01,0,元旦\n")
    assert run("calendar", "import", str(sheet), "--by", "office", "--db", db).returncode == 0
    known = run("calendar", "show", "--year", "2027", "--db", db).stdout
    assert "2027: unknown to chinese_calendar 1.11.0: the office's imported days" in known
    assert "2027-01-01 Fri  off      元旦" in known


def test_the_template_and_an_xlsx_with_date_cells_import(db, tmp_path):
    from openpyxl import Workbook

    template = tmp_path / "template.csv"
    assert run("calendar", "template", str(template)).returncode == 0
    assert template.read_text(encoding="utf-8-sig").splitlines()[0] == "day,working,note"
    assert run("calendar", "import", str(template), "--by", "office", "--db", db).returncode == 0
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["日期", "上班", "备注"])
    sheet.append([datetime(2026, 11, 14), 1, "集中办理"])   # Excel's own date cell, and a number for 是
    workbook.save(tmp_path / "fix.xlsx")
    done = run("calendar", "import", str(tmp_path / "fix.xlsx"), "--by", "office", "--db", db)
    assert done.returncode == 0, done.stderr
    assert ("2026-11-14", True, "集中办理", "office") in held(db)
