"""`evaluator centre demo` (centre/demo/, docs/demo.md): a synthetic city built through the real path, checked
with the centre's own commands and against the raw rows, through the real CLI in a subprocess."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, create_engine, select, text

from centre import cli as centre_cli
from centre.db.rows import held_rating
from centre.db.tables import device_placements, devices, events, ratings, reasons, staff, units
from centre.demo import workdays
from centre.demo.city import REASON_WEIGHTS, Channel, TerminalMode
from centre.demo.items import catalogue
from centre.demo.terminal import EventKind, Suppression
from centre.registry import hours
from contract import GENESIS_HASH, HASHED_FIELDS, ITEM_CODE_PATTERN, rating_hash
from kiosk.config import Mode
from kiosk.config.citizen import default_reasons
from kiosk.rating.session import SuppressReason
from kiosk.store.tables import Channel as KioskChannel
from kiosk.store.tables import EventKind as KioskEventKind
from tests.centre.conftest import PG_URL_ENV, REPO, scratch_pg_database

EVALUATOR = Path(sys.executable).parent / "evaluator"
SHANGHAI = ZoneInfo("Asia/Shanghai")
UNTIL = date(2026, 5, 31)          # a Sunday: the two weeks before it hold two weekends
CITY = ("--units", "4", "--counters-per-unit", "2", "--days", "14", "--seed", "3", "--until", UNTIL.isoformat())
FIRST = UNTIL - timedelta(days=13)


def evaluator(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(EVALUATOR), "centre", *args], cwd=REPO, capture_output=True, text=True, timeout=120)


def demo(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return evaluator("demo", *args, "--db", db_url)


def figure(summary: str, label: str) -> int:
    """A number of the summary's line `label`, e.g. `ratings      3,985, …` → 3985."""
    found = re.search(rf"^  {label}\s+([\d,]+)", summary, re.MULTILINE)
    assert found, f"no {label!r} line in:\n{summary}"
    return int(found.group(1).replace(",", ""))


@dataclass
class Built:
    db_url: str
    path: Path
    engine: Engine
    stdout: str
    stderr: str


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Built:
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    db_url = f"sqlite:///{path}"
    run = demo(db_url, *CITY)
    assert run.returncode == 0, run.stderr
    engine = create_engine(db_url)
    yield Built(db_url, path, engine, run.stdout, run.stderr)
    engine.dispose()


def test_the_registry_holds_the_city_and_every_counter_has_an_enrolled_device(city: Built) -> None:
    listed = evaluator("unit", "list", "--json", "--db", city.db_url)
    assert listed.returncode == 0, listed.stderr
    found = json.loads(listed.stdout)
    assert len(found) == 4
    assert len({unit["sector_code"] for unit in found}) == 4     # spread over the shipped sectors
    for unit in found:
        assert [counter["id"] for counter in unit["counters"]] == ["c-1", "c-2"]
        assert unit["timezone"] == "Asia/Shanghai" and unit["name"] and unit["name_en"] and unit["district"]
        assert hours.normalise(unit["opening_hours"]) == unit["opening_hours"] and unit["opening_hours"]
    with city.engine.connect() as conn:
        placed = conn.execute(select(devices.c.unit_id, devices.c.counter_id, devices.c.revoked_at)).all()
        assert sorted((unit, counter) for unit, counter, _ in placed) == sorted(
            (unit["id"], counter["id"]) for unit in found for counter in unit["counters"])
        assert all(revoked is None for *_, revoked in placed)
        assert len(conn.execute(select(device_placements.c.device_id)).all()) == 8
        roster = conn.execute(select(staff.c.unit_id, staff.c.id)).all()
    assert Counter(unit for unit, _ in roster) == {unit["id"]: 5 for unit in found}   # 2 per counter + 1
    assert "registered 4 units, enrolled 8 devices" in city.stderr and "day 14/14" in city.stderr


def test_the_chains_are_real_and_the_integrity_check_passes(city: Built) -> None:
    checked = evaluator("integrity", "--json", "--db", city.db_url)
    assert checked.returncode == 0, checked.stdout
    report = json.loads(checked.stdout)
    assert report["ok"] and len(report["devices"]) == 8
    assert all(device["ratings_held"] == device["last_seq"] > 0 and not (device["gaps"] or device["chain_breaks"])
               for device in report["devices"])
    # Walked here too, from the raw rows: each device's ratings, by seq from 1, each hash its fields' and each
    # prev_hash the hash before it, and the device's own id on every one (none recorded before enrollment).
    with city.engine.connect() as conn:
        rows = conn.execute(select(ratings).order_by(ratings.c.delivered_by, ratings.c.seq)).mappings().all()
    chains: dict[str, list[dict[str, object]]] = defaultdict(list)
    for row in rows:
        chains[row["delivered_by"]].append(held_rating(row, HASHED_FIELDS) | {"hash": row["hash"]})
    assert len(chains) == 8
    for device, chain in chains.items():
        assert [fields["seq"] for fields in chain] == list(range(1, len(chain) + 1))
        assert all(fields["device_id"] == device for fields in chain)
        links = [GENESIS_HASH, *(fields["hash"] for fields in chain[:-1])]
        assert [fields["prev_hash"] for fields in chain] == links
        assert all(rating_hash(fields) == fields["hash"] for fields in chain)


def raw_counts(engine: Engine, unit_id: str | None) -> dict[str, object]:
    """The indicators' figures counted from the raw rows (each unit's own local days are the whole run)."""
    where = "" if unit_id is None else "AND r.placed_unit_id = :unit"
    with engine.connect() as conn:
        levels = dict(conn.execute(text(f"SELECT level, count(*) FROM ratings r WHERE NOT before_enrollment {where} "
                                        "GROUP BY level"), {"unit": unit_id}).all())
        codes = dict(conn.execute(text(f"SELECT code, count(*) FROM reasons x JOIN ratings r ON r.uuid = x.rating_uuid "
                                       f"AND r.delivered_by = x.device_id WHERE 1=1 {where} GROUP BY code"),
                                  {"unit": unit_id}).all())
        device_where = "" if unit_id is None else "AND d.unit_id = :unit"
        kinds = dict(conn.execute(text(f"SELECT kind, count(*) FROM events e JOIN devices d ON d.id = e.device_id "
                                       f"WHERE 1=1 {device_where} GROUP BY kind"), {"unit": unit_id}).all())
    return {"rated": sum(levels.values()), "by_level": {str(level): n for level, n in levels.items()},
            "bad": levels.get(1, 0) + levels.get(2, 0), "bad_reasons": codes,
            "requests": kinds.get("solicited", 0), "unrated": kinds.get("unrated", 0),
            "suppressed": kinds.get("suppressed", 0)}


def test_the_indicators_agree_with_the_raw_rows_and_the_summary(city: Built) -> None:
    with city.engine.connect() as conn:
        unit_ids = sorted(conn.execute(select(units.c.id)).scalars())
    for unit_id in (None, unit_ids[0]):
        scope = [] if unit_id is None else ["--unit", unit_id]
        shown = evaluator("indicators", *scope, "--from", FIRST.isoformat(), "--to", UNTIL.isoformat(), "--json",
                          "--db", city.db_url)
        assert shown.returncode == 0, shown.stderr
        figures = json.loads(shown.stdout)
        for counts in ("by_level", "bad_reasons"):     # a level or reason nobody gave may be listed as 0
            figures[counts] = {key: n for key, n in figures[counts].items() if n}
        expected = raw_counts(city.engine, unit_id)
        assert {key: figures[key] for key in expected} == expected
        assert figures["rated"] > 0 and figures["requests"] > 0 and figures["bad_reasons"]
    city_wide = raw_counts(city.engine, None)
    assert figure(city.stdout, "ratings") == city_wide["rated"]
    assert figure(city.stdout, "bad reviews") == city_wide["bad"]
    assert re.search(rf"bad reviews\s+[\d,]+ with {sum(city_wide['bad_reasons'].values()):,} reasons", city.stdout)
    assert figure(city.stdout, "requests") == city_wide["requests"]


def test_some_units_fall_below_the_80_percent_line_and_some_stay_above(city: Built) -> None:
    with city.engine.connect() as conn:
        rows = conn.execute(select(ratings.c.placed_unit_id, ratings.c.level)).all()
    rated, good = Counter(unit for unit, _ in rows), Counter(unit for unit, level in rows if level >= 3)
    rates = {unit: good[unit] / rated[unit] for unit in rated}
    assert len(rates) == 4
    assert any(rate < 0.8 for rate in rates.values()) and any(rate >= 0.8 for rate in rates.values()), rates
    below = sum(1 for rate in rates.values() if rate < 0.8)
    assert f"; {below} below the 80 % good rate" in city.stdout


def test_bad_reviews_carry_the_terminals_reason_codes(city: Built) -> None:
    with city.engine.connect() as conn:
        levels = dict(conn.execute(select(ratings.c.uuid, ratings.c.level)).all())
        given = conn.execute(select(reasons.c.rating_uuid, reasons.c.code)).all()
    with_reasons = {uuid for uuid, _ in given}
    bad = {uuid for uuid, level in levels.items() if level <= 2}
    assert bad and with_reasons <= bad                      # only bad reviews are asked why
    assert len(with_reasons) / len(bad) > 0.7               # most citizens say why; some skip it
    assert {code for _, code in given} <= {reason.code for reason in default_reasons()}


def test_a_counter_pcs_cases_carry_their_sectors_item_codes(city: Built) -> None:
    """The counter PC's C frame names the service item (事项编码): the rating and the unrated event keep it."""
    with city.engine.connect() as conn:
        sector = dict(conn.execute(select(units.c.id, units.c.sector_code)).all())
        rated = conn.execute(select(ratings.c.device_id, ratings.c.placed_unit_id, ratings.c.mode,
                                    ratings.c.case_no, ratings.c.item_code)).all()
        asked = conn.execute(select(events.c.device_id, events.c.kind, events.c.detail)
                             .where(events.c.kind.in_(("solicited", "unrated")))).all()
    coded = [row for row in rated if row.item_code is not None]
    assert coded and all(row.mode == "solicited" and row.case_no for row in coded)
    assert all(row.item_code for row in rated if row.case_no)              # a case number comes with its item
    assert all(row.item_code in catalogue(sector[row.placed_unit_id]) for row in coded)
    assert all(re.fullmatch(ITEM_CODE_PATTERN, row.item_code) for row in coded)
    details = [json.loads(detail) if isinstance(detail, str) else detail for _, _, detail in asked]
    assert all((detail["item_code"] is None) == (detail["case_no"] is None) for detail in details)
    assert any(kind == "unrated" and detail["item_code"] for (_, kind, _), detail in zip(asked, details, strict=True))
    by_case = {(row.device_id, row.case_no): row.item_code for row in coded}   # case numbers are per counter
    assert all(by_case.get((device, detail["case_no"]), detail["item_code"]) == detail["item_code"]
               for (device, _, _), detail in zip(asked, details, strict=True))


def test_the_demo_speaks_the_terminals_words() -> None:
    """The centre may not import the terminal, so the demo spells its words again: held equal here."""
    assert {kind.value for kind in EventKind} <= {kind.value for kind in KioskEventKind}
    assert {why.value for why in Suppression} == {why.value for why in SuppressReason}
    assert {mode.value for mode in TerminalMode} == {mode.value for mode in Mode}
    assert {channel.value for channel in Channel} <= {channel.value for channel in KioskChannel}
    assert set(REASON_WEIGHTS) == {reason.code for reason in default_reasons()}


def local_day(stored: str) -> date:
    return datetime.fromisoformat(stored).astimezone(SHANGHAI).date()


def test_weekends_are_lighter_and_ratings_fall_in_opening_hours(city: Built) -> None:
    with city.engine.connect() as conn:
        hours_of = dict(conn.execute(select(units.c.id, units.c.opening_hours)).all())
        rows = conn.execute(select(ratings.c.placed_unit_id, ratings.c.counted_at)).all()
    per_day = Counter(local_day(counted) for _, counted in rows)
    days = [FIRST + timedelta(days=n) for n in range(14)]
    weekday = [per_day[day] for day in days if day.weekday() < 5]
    weekend = [per_day[day] for day in days if day.weekday() >= 5]
    assert sum(weekend) / len(weekend) < 0.6 * sum(weekday) / len(weekday), per_day
    for unit_id, counted in rows:
        moment = datetime.fromisoformat(counted).astimezone(SHANGHAI)
        day = hours.DAYS[workdays.schedule_day(moment.date())]
        assert any(day in days_open and start <= moment.time() < end
                   for days_open, start, end in hours.parse(hours_of[unit_id])), (unit_id, moment)


def test_staff_sign_in_and_their_ratings_name_them(city: Built) -> None:
    with city.engine.connect() as conn:
        roster = {(unit, member) for unit, member in conn.execute(select(staff.c.unit_id, staff.c.id))}
        credited = conn.execute(select(ratings.c.placed_unit_id, ratings.c.staff_id)).all()
        signed = [detail for detail, in conn.execute(select(events.c.detail)
                                                      .where(events.c.kind == "staff_sign_in"))]
    assert all(staff_id is not None and (unit, staff_id) in roster for unit, staff_id in credited)
    assert len({staff_id for _, staff_id in credited}) > 8      # more staff than counters: shifts change
    assert signed and figure(city.stdout, "staff") == len(roster)
    assert f"{len(signed):,} sign-ins" in city.stdout


def test_the_skewed_devices_ratings_and_events_are_clock_corrected(city: Built) -> None:
    with city.engine.connect() as conn:
        rows = conn.execute(select(ratings.c.delivered_by, ratings.c.recorded_at, ratings.c.counted_at,
                                   ratings.c.clock_corrected)).all()
        event_rows = conn.execute(select(events.c.device_id, events.c.recorded_at, events.c.counted_at)).all()
    skew: dict[str, set[bool]] = defaultdict(set)
    for device, recorded, counted, corrected in rows:
        skew[device].add(bool(corrected))
        off = abs((datetime.fromisoformat(recorded) - datetime.fromisoformat(counted)).total_seconds())
        # Off by 90–280 s (beyond the ingest's 60 s tolerance, within the signature's 300 s), and nothing else.
        assert (85 < off < 285) if corrected else (recorded == counted)
    skewed = {device for device, flags in skew.items() if flags == {True}}
    assert len(skewed) == 1 and all(len(flags) == 1 for flags in skew.values())   # a device is off or it is not
    assert "1 with a clock minutes off" in city.stdout
    for device, recorded, counted in event_rows:
        assert (recorded != counted) == (device in skewed)


def test_the_same_seed_builds_the_same_rows_and_another_seed_others(tmp_path: Path, capsys) -> None:
    # In-process (centre.cli.main, what `evaluator centre` runs): three small cities, without three starts.
    small = ("--units", "2", "--counters-per-unit", "1", "--days", "4", "--until", UNTIL.isoformat())

    def rows(name: str, seed: str) -> list[tuple[object, ...]]:
        db_url = f"sqlite:///{tmp_path / name}"
        assert centre_cli.main(["demo", *small, "--seed", seed, "--db", db_url]) == 0
        engine = create_engine(db_url)
        with engine.connect() as conn:
            found = conn.execute(select(ratings.c.uuid, ratings.c.level, ratings.c.placed_unit_id,
                                        ratings.c.placed_counter_id, ratings.c.staff_id, ratings.c.recorded_at,
                                        ratings.c.received_at, ratings.c.counted_at)
                                 .order_by(ratings.c.uuid)).all()
        engine.dispose()
        return [tuple(row) for row in found]

    first = rows("a.db", "11")
    assert first and rows("b.db", "11") == first
    assert rows("c.db", "12") != first
    assert "seed 11" in capsys.readouterr().out


def test_a_second_run_on_the_same_database_is_refused(city: Built) -> None:
    with city.engine.connect() as conn:
        before = conn.execute(text("SELECT count(*) FROM ratings")).scalar_one()
    again = demo(city.db_url, *CITY)
    assert again.returncode == 2
    assert "already holds 4 unit(s), 8 device(s)" in again.stderr and "empty database" in again.stderr
    with city.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM ratings")).scalar_one() == before


def test_bad_options_are_refused_before_anything_is_written(tmp_path: Path, capsys) -> None:
    target = tmp_path / "never.db"
    for bad in (("--units", "0"), ("--days", "x"), ("--until", "31/05/2026"), ("--counters-per-unit", "21")):
        with pytest.raises(SystemExit) as exit_:
            centre_cli.main(["demo", *bad, "--db", f"sqlite:///{target}"])
        assert exit_.value.code == 2 and f"argument {bad[0]}" in capsys.readouterr().err
    assert not target.exists()


@pytest.mark.skipif(not os.environ.get(PG_URL_ENV), reason=f"{PG_URL_ENV} is not set: no PostgreSQL server")
def test_a_city_on_postgresql() -> None:
    with scratch_pg_database(os.environ[PG_URL_ENV]) as db_url:
        built = demo(db_url, "--units", "3", "--counters-per-unit", "1", "--days", "7", "--until", UNTIL.isoformat())
        assert built.returncode == 0, built.stderr
        assert evaluator("integrity", "--db", db_url).returncode == 0
        engine = create_engine(db_url)
        try:
            figures = raw_counts(engine, None)
        finally:
            engine.dispose()
        assert figures["rated"] == figure(built.stdout, "ratings") > 0
        assert figures["requests"] == figure(built.stdout, "requests")


def test_public_holidays_run_as_sundays_and_make_up_weekends_as_mondays(tmp_path: Path) -> None:
    """National Day 2026: 1–7 October off, Saturday the 10th worked (调休), as the State Council set them."""
    db_url = f"sqlite:///{tmp_path / 'holiday.db'}"
    done = demo(db_url, "--units", "6", "--counters-per-unit", "1", "--days", "14", "--seed", "5",
                "--until", "2026-10-11")
    assert done.returncode == 0, done.stderr
    assert "calendar     China's official calendar" in done.stdout
    engine = create_engine(db_url)
    with engine.connect() as conn:
        hours_of = dict(conn.execute(select(units.c.id, units.c.opening_hours)).all())
        rows = conn.execute(select(ratings.c.placed_unit_id, ratings.c.counted_at)).all()
    engine.dispose()
    days_of: dict[str, set[date]] = {}
    for unit_id, counted in rows:
        days_of.setdefault(unit_id, set()).add(local_day(counted))
    holiday = {date(2026, 10, day) for day in range(1, 8)}
    for unit_id, days in days_of.items():
        open_sunday = any("sun" in days_open for days_open, _, _ in hours.parse(hours_of[unit_id]))
        assert bool(days & holiday) == open_sunday, (unit_id, hours_of[unit_id], sorted(days))
        assert date(2026, 10, 10) in days, (unit_id, sorted(days))     # the make-up Saturday is worked
    assert any(not any("sun" in d for d, _, _ in hours.parse(h)) for h in hours_of.values())


def test_a_year_the_calendar_does_not_know_falls_back_to_the_plain_week_and_says_so() -> None:
    assert workdays.schedule_day(date(2031, 5, 1)) == date(2031, 5, 1).weekday()
    assert "does not know 2031 yet" in workdays.calendar_used([date(2026, 12, 31), date(2031, 1, 1)])
    assert workdays.calendar_used([date(2026, 12, 31)]).startswith("China's official calendar")
