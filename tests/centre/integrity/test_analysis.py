"""The analysis stores what the signals find as flags, one per thing found: run again over the same span or an
overlapping one, it adds no flag it already holds, and a flag the office reviewed keeps its state. The CLI
prints the counts per kind; the same analysis runs on PostgreSQL."""
from __future__ import annotations

import subprocess
import sys
from collections import Counter
from datetime import date
from pathlib import Path

from sqlalchemy import Engine, func, select

from centre.db.integrity_tables import integrity_flags
from centre.integrity import flags, review
from centre.integrity.analysis import analyse
from centre.integrity.model import FlagState, SignalKind
from centre.integrity.settings import IntegritySettings
from tests.centre.conftest import REPO
from tests.centre.integrity import crafted
from tests.centre.integrity.conftest import NOW, Crafted
from tests.centre.integrity.crafted import City, local

SERIAL = IntegritySettings(workers=1)


def held(engine: Engine) -> list[dict[str, object]]:
    with engine.connect() as conn:
        return [dict(row) for row in conn.execute(select(integrity_flags).order_by(integrity_flags.c.id)).mappings()]


def overlapping(rows: list[dict[str, object]]) -> list[tuple[object, ...]]:
    """Pairs of flags of one kind and subject whose days overlap: what a duplicate would look like."""
    found = []
    for index, one in enumerate(rows):
        for other in rows[index + 1:]:
            same = all(one[key] == other[key] for key in ("kind", "unit_id", "counter_id", "staff_id", "device_id"))
            if same and str(one["day_from"]) <= str(other["day_to"]) and str(other["day_from"]) <= str(one["day_to"]):
                found.append((one["id"], other["id"], one["kind"]))
    return found


def test_analysis_stores_each_finding_once_and_again_adds_nothing(city: Crafted, tmp_path: Path) -> None:
    engine = city.engine(tmp_path)
    first = analyse(engine, crafted.FIRST, crafted.LAST, SERIAL, now=NOW)
    assert first.created == len(first.findings) == len(city.findings) and first.updated == 0
    assert sum(first.by_kind.values()) == len(first.findings) and set(first.by_kind) == set(SignalKind)
    rows = held(engine)
    assert len(rows) == first.created and {row["state"] for row in rows} == {FlagState.OPEN.value}
    # a reviewed flag keeps its state when the same thing is found again
    dismissed = next(row["id"] for row in rows if row["kind"] == SignalKind.CLOCK_JUMP.value)
    with engine.begin() as conn:
        review.dismiss(conn, int(str(dismissed)), "office", "the clock was set by the vendor's visit")
    again = analyse(engine, crafted.FIRST, crafted.LAST, SERIAL, now=NOW)
    assert (again.created, again.updated, again.reviewed) == (0, first.created - 1, 1)
    after = held(engine)
    assert [row["fingerprint"] for row in after] == [row["fingerprint"] for row in rows]
    assert Counter(row["state"] for row in after) == {FlagState.OPEN.value: len(rows) - 1,
                                                     FlagState.DISMISSED.value: 1}
    # an overlapping span finds (some of) the same things: they join the flags held, none is doubled
    analyse(engine, date(2026, 1, 27), date(2026, 2, 12), SERIAL, now=NOW)
    analyse(engine, date(2026, 1, 20), date(2026, 2, 5), SERIAL, now=NOW)
    assert overlapping(held(engine)) == []
    with engine.connect() as conn:
        assert flags.count(conn, state=FlagState.DISMISSED) == 1
        assert {flag.kind for flag in flags.flags(conn)} == set(SignalKind)


def test_the_cli_analyses_a_span_and_lists_the_flags(city: Crafted, tmp_path: Path) -> None:
    engine = city.engine(tmp_path)
    url = str(engine.url)
    engine.dispose()
    done = subprocess.run([sys.executable, "-m", "centre.cli", "integrity", "analyse", "--from", "2026-01-20",
                           "--to", "2026-02-12", "--db", url], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("integrity analysis 2026-01-20 – 2026-02-12:") and " s" in lines[0]
    counted = {line.split()[0]: int(line.split()[1]) for line in lines[1:] if line.startswith("  ")}
    assert set(counted) == {kind.value for kind in SignalKind} and all(counted.values())
    assert "groups of units read and tested" in done.stderr
    listed = subprocess.run([sys.executable, "-m", "centre.cli", "integrity", "flags", "--state", "open",
                             "--unit", "ooh", "--db", url], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert "out_of_hours" in listed.stdout and "ooh/c-1" in listed.stdout
    report = subprocess.run([sys.executable, "-m", "centre.cli", "integrity", "--db", url], cwd=REPO,
                            capture_output=True, text=True, timeout=60)
    assert "(chain/c-1): PROBLEM" in report.stdout   # the chain report is still there, with the chain unit's gap


def test_the_analysis_runs_on_postgresql(pg_engine: Engine) -> None:
    city = City(pg_engine)
    city.unit("honest")
    late = city.unit("late")[0]
    late.twists.append(lambda counter, day: bool(day == crafted.FIRST and [
        counter.serve(local(day, 20, minute), 5, rated=True) for minute in (0, 15, 30, 45)]) and False)
    city.live()
    result = analyse(pg_engine, crafted.FIRST, crafted.LAST, SERIAL, now=NOW)
    assert [(f.kind, f.unit_id, f.counter_id) for f in result.findings] == [(SignalKind.OUT_OF_HOURS, "late", "c-1")]
    again = analyse(pg_engine, crafted.FIRST, crafted.LAST, SERIAL, now=NOW)
    assert (again.created, again.updated) == (0, 1)
    with pg_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(integrity_flags)).scalar_one() == 1
