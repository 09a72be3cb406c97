"""`evaluator centre calendar import|show|template`: the office's corrections to the working-day calendar."""
from __future__ import annotations

import argparse
import getpass
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path

import chinese_calendar
from sqlalchemy import Engine, delete, select

from centre.cases import calendar_file, workdays
from centre.cases.calendar_file import DayRow
from centre.db.engine import insert_rows, open_engine
from centre.db.loop_tables import calendar_days
from centre.db.rows import utcnow
from centre.errors import BadInput
from contract import iso_utc

EXIT_OK = 0
CHUNK = 500   # days per DELETE … IN (…), well under any driver's parameter limit
LIBRARY = f"chinese_calendar {getattr(chinese_calendar, '__version__', '')}".strip()
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser],
                common: argparse.ArgumentParser) -> None:
    calendar = commands.add_parser("calendar", help="The working-day calendar of deadlines: import the office's "
                                                    "corrections, show a year, write a template.")
    actions = calendar.add_subparsers(dest="calendar_command", required=True, metavar="ACTION")
    loaded = actions.add_parser("import", parents=[common],
                                help="Import days off and working days (调休) from a CSV or xlsx file (columns day, "
                                     "working, note); all or nothing; a day imported again is replaced.")
    loaded.add_argument("file", type=Path, metavar="FILE.csv|FILE.xlsx")
    loaded.add_argument("--by", default=None, metavar="NAME", help="who imports (default: the login name)")
    show = actions.add_parser("show", parents=[common], help="A year's holidays, make-up working days and the "
                                                             "office's corrections.")
    show.add_argument("--year", type=int, default=None, help="default: this year")
    template = actions.add_parser("template", help="Write an example calendar file (.csv or .xlsx).")
    template.add_argument("file", type=Path, metavar="FILE.csv|FILE.xlsx")


def store(engine: Engine, days: list[DayRow], by: str, now: datetime) -> tuple[int, int]:
    """Put `days` in calendar_days in one transaction, replacing the office's earlier word on each; (new,
    replaced). The table holds the corrections in force, not their history: who and when is the last import's."""
    at = iso_utc(now)
    texts = [row.day.isoformat() for row in days]
    with engine.begin() as conn:
        held: set[str] = set()
        for start in range(0, len(texts), CHUNK):
            part = texts[start:start + CHUNK]
            held.update(conn.execute(select(calendar_days.c.day).where(calendar_days.c.day.in_(part))).scalars())
            conn.execute(delete(calendar_days).where(calendar_days.c.day.in_(part)))
        insert_rows(conn, calendar_days, [{"day": row.day.isoformat(), "working": row.working, "note": row.note,
                                           "imported_at": at, "imported_by": by} for row in days])
    workdays.forget_cache()
    return len(texts) - len(held), len(held)


def _import(args: argparse.Namespace) -> int:
    by = (args.by or _login()).strip()
    if not by or len(by) > 64:
        raise BadInput("--by: give who imports, 1–64 characters")
    days = calendar_file.read(args.file)   # every row checked before the database is opened
    engine = open_engine(args.db, create=False)
    new, replaced = store(engine, days, by, utcnow())
    years = sorted({row.day.year for row in days})
    print(f"{args.file}: {len(days)} day(s) imported for {', '.join(map(str, years))} "
          f"({new} new, {replaced} replaced) by {by}")
    with engine.connect() as conn:
        calendar = workdays.load_calendar(conn)
    for year in sorted(calendar.unknown_years):
        print(f"warning: {year} is still unknown: import the State Council's {year} holiday notice")
    return EXIT_OK


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):   # no login name in a bare container
        return ""


def _show(args: argparse.Namespace) -> int:
    year = args.year or utcnow().year
    if not 1900 <= year <= 9999:
        raise BadInput(f"--year: {year} is not a year")
    engine = open_engine(args.db, create=False)
    with engine.connect() as conn:
        calendar = workdays.load_calendar(conn)
        imported = {day: (by, at[:10]) for day, by, at in conn.execute(
            select(calendar_days.c.day, calendar_days.c.imported_by, calendar_days.c.imported_at)
            .where(calendar_days.c.day.like(f"{year:04d}-%")))}
    for line in describe_year(calendar, year, imported):
        print(line)
    return EXIT_OK


def describe_year(calendar: workdays.WorkingCalendar, year: int,
                  imported: dict[str, tuple[str, str]]) -> list[str]:
    """The lines of `calendar show`: where the year's calendar comes from, its days off and working weekend
    days by the package, the office's corrections, and the count of working days in effect."""
    days = [date(year, 1, 1) + timedelta(days=step) for step in range((date(year + 1, 1, 1) - date(year, 1, 1)).days)]
    lines = [_source(calendar, year)]
    if workdays.library_knows(year):
        lines += _listed("public holidays (days off, by the package)", days, _library_holiday)
        lines += _listed("make-up working days (调休, by the package)", days, _library_make_up)
    lines.append(f"the office's corrections: {len(imported) or 'none'}")
    for text in sorted(imported):
        day = date.fromisoformat(text)
        correction = calendar.corrections[day]
        library = workdays.library_working(day)
        change = "" if library is None or library != correction.working else " (as the package has it)"
        by, at = imported[text]
        lines.append(f"  {text} {WEEKDAYS[day.weekday()]}  {'working' if correction.working else 'off':7}  "
                     f"{correction.note}{change}  — imported {at} by {by}")
    working = sum(1 for day in days if calendar.is_working(day))
    lines.append(f"in effect: {working} working day(s), {len(days) - working} day(s) off")
    return lines


def _source(calendar: workdays.WorkingCalendar, year: int) -> str:
    if workdays.library_knows(year):
        return f"{year}: the State Council's calendar ({LIBRARY}), with the office's corrections over it"
    if year in calendar.imported_years:
        return (f"{year}: unknown to {LIBRARY}: the office's imported days, and weekends for the rest")
    return (f"{year}: UNKNOWN to {LIBRARY} and not imported: deadlines count Monday–Friday only, without "
            f"holidays or 调休: import the State Council's {year} holiday notice (`evaluator centre calendar "
            "template FILE`, then `calendar import FILE`)")


def _listed(title: str, days: list[date], pick: Callable[[date], str | None]) -> list[str]:
    found = [(day, name) for day in days if (name := pick(day)) is not None]
    return [f"{title}: {len(found)}"] + [f"  {day} {WEEKDAYS[day.weekday()]}  {name}" for day, name in found]


def _library_holiday(day: date) -> str | None:
    off, name = chinese_calendar.get_holiday_detail(day)
    return str(name) if off and name is not None else None


def _library_make_up(day: date) -> str | None:
    off, name = chinese_calendar.get_holiday_detail(day)
    return str(name or "") if day.weekday() >= 5 and not off else None


def _template(args: argparse.Namespace) -> int:
    year = next(year for year in range(utcnow().year, 10000) if not workdays.library_knows(year))
    calendar_file.write_template(args.file, year)
    print(f"{args.file}: written with {year}'s fixed-date holidays (columns day, working, note; working 1 = a "
          "working day such as a 调休 Saturday, 0 = a day off). Add every other day off and make-up working day "
          f"of the State Council's {year} notice before `evaluator centre calendar import`: once a year has any "
          "imported day, the centre takes it as that year's notice and stops warning")
    return EXIT_OK


ACTIONS = {"import": _import, "show": _show, "template": _template}


def _calendar(args: argparse.Namespace) -> int:
    return ACTIONS[args.calendar_command](args)


HANDLERS = {"calendar": _calendar}
