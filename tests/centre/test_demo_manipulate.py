"""`evaluator centre demo --manipulate KIND:COUNT,… --truth FILE` (centre/demo/manipulate.py, docs/demo.md): the
option refuses what it cannot plant, and a tiny planted city holds the planted behaviour in its rows, where the
truth file says, and nowhere else. Through the real CLI in a subprocess, as tests/centre/test_demo.py does."""
from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, create_engine, select

from centre import chains
from centre import cli as centre_cli
from centre.db.public_tables import receipt_misses
from centre.db.tables import devices, events, ratings, units
from centre.demo import manipulate, workdays
from centre.integrity.model import SignalKind
from tests.centre.test_demo import demo

SHANGHAI = ZoneInfo("Asia/Shanghai")
UNTIL = date(2025, 11, 7)
DAYS = 12
KINDS = ("fast_press", "chain_problem", "out_of_hours", "receipt_missing")
CITY = ("--units", "12", "--counters-per-unit", "2", "--days", str(DAYS), "--seed", "5", "--until", UNTIL.isoformat())
FLOOR_NS = 1_000_000_000          # a citizen takes more than a second to reach the key


@dataclass
class Planted:
    engine: Engine
    truth: list[dict[str, Any]]
    stdout: str

    def line(self, kind: str) -> dict[str, Any]:
        return next(line for line in self.truth if line.get("kind") == kind)


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Planted:
    folder = tmp_path_factory.mktemp("planted")
    truth = folder / "truth.jsonl"
    run = demo(f"sqlite:///{folder / 'demo.db'}", *CITY, "--manipulate", ",".join(f"{kind}:1" for kind in KINDS),
               "--truth", str(truth))
    assert run.returncode == 0, run.stderr
    engine = create_engine(f"sqlite:///{folder / 'demo.db'}")
    yield Planted(engine, [json.loads(line) for line in truth.read_text(encoding="utf-8").splitlines()], run.stdout)
    engine.dispose()


# -- the option ------------------------------------------------------------------------------------------


def test_the_option_reads_kinds_and_counts_and_none() -> None:
    assert manipulate.parse("fast_press:2, top_burst:1") == {SignalKind.FAST_PRESS: 2, SignalKind.TOP_BURST: 1}
    assert manipulate.parse("none") == {}


@pytest.mark.parametrize(("given", "said"), [
    ("fast_pres:1", "unknown kind 'fast_pres'; the kinds are: out_of_hours, no_staff"),
    ("fast_press:0", "fast_press: COUNT must be a whole number from 1 to 999, got '0'"),
    ("fast_press:two", "fast_press: COUNT must be a whole number from 1 to 999, got 'two'"),
    ("fast_press", "fast_press: give a count, as in fast_press:2"),
    ("fast_press:1,fast_press:2", "fast_press is given twice"),
    ("fast_press:1,,top_burst:1", "an empty item"),
])
def test_the_option_refuses_bad_input_with_a_clear_message(given: str, said: str, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        centre_cli.main(["demo", "--manipulate", given, "--truth", str(tmp_path / "t"),
                         "--db", f"sqlite:///{tmp_path / 'd.db'}"])
    assert stopped.value.code == 2
    assert said in capsys.readouterr().err
    assert not (tmp_path / "d.db").exists()


def test_a_city_too_small_for_what_is_asked_is_refused_before_any_database(tmp_path: Path,
                                                                            capsys: pytest.CaptureFixture[str]) -> None:
    args = ["demo", "--units", "3", "--days", "3", "--until", "2025-11-07", "--db", f"sqlite:///{tmp_path / 'd.db'}"]
    assert centre_cli.main([*args, "--manipulate", "cooldown_edge:4", "--truth", str(tmp_path / "t")]) == 2
    assert "cooldown_edge:4: the city has" in capsys.readouterr().err
    assert centre_cli.main([*args, "--manipulate", "top_burst:1"]) == 2
    assert "--manipulate and --truth go together" in capsys.readouterr().err
    assert not (tmp_path / "d.db").exists() and not (tmp_path / "t").exists()


# -- the planted city --------------------------------------------------------------------------------------


def test_the_truth_names_what_was_asked_each_in_a_unit_of_its_own(planted: Planted) -> None:
    plants = [line for line in planted.truth if line["planted"]]
    assert sorted(line["kind"] for line in plants) == sorted(KINDS)
    assert len({line["unit_id"] for line in plants}) == len(plants)
    odd = [line for line in planted.truth if not line["planted"]]
    assert {line["unusual"] for line in odd} <= {"very_good", "tiny", "busy_holiday", "broken_panel", "late_opening"}
    assert odd and not {line["unit_id"] for line in odd} & {line["unit_id"] for line in plants}
    first = UNTIL - timedelta(days=DAYS - 1)
    with planted.engine.connect() as conn:
        placed = {(row.unit_id, row.counter_id): row.id for row in conn.execute(select(devices))}
    for line in plants:
        assert first.isoformat() <= line["day_from"] <= line["day_to"] <= UNTIL.isoformat()
        assert placed[(line["unit_id"], line["counter_id"])] == line["device_id"]
    assert "planted      4 manipulation(s) of 4 kind(s)" in planted.stdout


def _latencies(engine: Engine) -> dict[str | None, list[int]]:
    """Per staff member credited: nanoseconds from each request to the rating that follows it on its boot."""
    with engine.connect() as conn:
        asked = conn.execute(select(events.c.device_id, events.c.boot_id, events.c.mono_ns)
                             .where(events.c.kind == "solicited")).all()
        rated = conn.execute(select(ratings.c.delivered_by, ratings.c.boot_id, ratings.c.mono_ns,
                                    ratings.c.staff_id, ratings.c.mode)).all()
    requests: dict[tuple[str, str], list[int]] = defaultdict(list)
    for device_id, boot_id, mono_ns in asked:
        requests[(device_id, boot_id)].append(mono_ns)
    found: dict[str | None, list[int]] = defaultdict(list)
    for device_id, boot_id, mono_ns, staff_id, mode in rated:
        before = [at for at in requests[(device_id, boot_id)] if at <= mono_ns]
        if mode == "solicited" and before:
            found[staff_id].append(mono_ns - max(before))
    return found


def test_the_fast_pressing_staff_member_and_nobody_else_presses_under_a_second(planted: Planted) -> None:
    staff_id = planted.line("fast_press")["staff_id"]
    latencies = _latencies(planted.engine)
    fast = [ns for ns in latencies[staff_id] if ns < FLOOR_NS]
    assert len(fast) >= 5 and len(fast) >= 0.3 * len(latencies[staff_id])
    assert all(ns >= FLOOR_NS for other, found in latencies.items() if other != staff_id for ns in found)


def test_the_device_that_deleted_ratings_has_gaps_in_its_chain_and_no_other(planted: Planted) -> None:
    line = planted.line("chain_problem")
    assert line["variant"] == "gap"
    with planted.engine.connect() as conn:
        held = chains.stored(conn)
    assert held[line["device_id"]].gaps
    assert not [chain for device_id, chain in held.items() if device_id != line["device_id"]
                and (chain.gaps or chain.chain_breaks)]


def test_ratings_after_closing_come_from_the_planted_counter_alone(planted: Planted) -> None:
    line = planted.line("out_of_hours")
    with planted.engine.connect() as conn:
        hours_of = dict(conn.execute(select(units.c.id, units.c.opening_hours)).all())
        rows = conn.execute(select(ratings.c.placed_unit_id, ratings.c.placed_counter_id, ratings.c.counted_at,
                                   ratings.c.level)).all()
    late = []
    for unit_id, counter_id, counted_at, level in rows:
        at = datetime.fromisoformat(counted_at).astimezone(SHANGHAI)
        periods = workdays.periods(hours_of[unit_id], at.date(), SHANGHAI)
        if not any(start - timedelta(minutes=30) <= at <= end + timedelta(minutes=30) for start, end in periods):
            late.append((unit_id, counter_id, at.date().isoformat(), level))
    assert len(late) >= 3
    assert {(unit, counter) for unit, counter, *_ in late} == {(line["unit_id"], line["counter_id"])}
    assert all(line["day_from"] <= day <= line["day_to"] and level == 5 for *_, day, level in late)


def test_receipts_of_swallowed_ratings_stay_missing_and_early_look_ups_are_found(planted: Planted) -> None:
    line = planted.line("receipt_missing")
    with planted.engine.connect() as conn:
        misses = conn.execute(select(receipt_misses)).mappings().all()
        held = set(conn.execute(select(ratings.c.uuid)).scalars())
    never = [miss for miss in misses if miss["found_at"] is None]
    assert never and {miss["device_id"] for miss in never} == {line["device_id"]}
    assert not {miss["rating_uuid"] for miss in never} & held
    assert all(miss["rating_uuid"] in held and miss["found_at"] > miss["first_at"]
               for miss in misses if miss["found_at"] is not None)


def test_none_builds_the_control_the_unusual_units_and_nothing_planted(tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    truth, db_url = tmp_path / "truth.jsonl", f"sqlite:///{tmp_path / 'control.db'}"
    assert centre_cli.main(["demo", "--units", "10", "--counters-per-unit", "1", "--days", "3", "--seed", "5",
                            "--until", UNTIL.isoformat(), "--manipulate", "none", "--truth", str(truth),
                            "--db", db_url]) == 0
    assert "planted      0 manipulation(s) of 0 kind(s)" in capsys.readouterr().out
    lines = [json.loads(line) for line in truth.read_text(encoding="utf-8").splitlines()]
    assert lines and not [line for line in lines if line["planted"]]
    # One of each kind where the city has a unit it fits (a busy holiday needs a hall open every day).
    assert {"very_good", "tiny", "late_opening"} <= {line["unusual"] for line in lines} <= {
        "very_good", "tiny", "busy_holiday", "broken_panel", "late_opening"}
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            held = chains.stored(conn)
            beats = dict(conn.execute(select(devices.c.id, devices.c.last_heartbeat)).all())
            misses = conn.execute(select(receipt_misses.c.found_at)).scalars().all()
    finally:
        engine.dispose()
    # Every device's heartbeat gives its store's last seq, which the centre holds whole.
    assert held and all(beats[device_id]["last_seq"] == chain.last_seq and not chain.gaps
                        for device_id, chain in held.items())
    assert all(found is not None for found in misses)
