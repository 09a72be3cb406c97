"""Rollups (centre/rollups.py): kept by the ingest, equal to a recount of the raw rows, rebuilt exactly.

The property test drives the real ingest function (the one the server calls) in-process on a real SQLite
file, so that it can choose the centre's receive time and thereby the clock corrections; one example runs
on the real PostgreSQL. The rebuild and migration tests use the real centre process and CLI.
"""
from __future__ import annotations

import threading
import time
import uuid as uuid_mod
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, inspect, select, update

from centre import enroll, indicators, reports, rollups
from centre.api.auth import Nonce
from centre.db import schema
from centre.db.engine import open_engine
from centre.db.loop_tables import cases, rating_exclusions
from centre.db.tables import metadata, ratings, rollup_days, rollup_months
from centre.db.tables import rollups as rollups_table
from centre.ingest import ingest
from centre.public import webratings
from centre.public.settings import PublicSettings
from centre.public.tokens import Token
from centre.public.webratings import Answer
from contract import EnrollRequest, canonical_json, iso_utc, rating_hash
from tests.centre.conftest import register, rewind

BASE = datetime(2026, 3, 9, 16, 0, tzinfo=UTC)        # midnight in Shanghai, 12:00 in New York
RECEIVED = BASE + timedelta(days=2)                   # when the centre receives every batch
PLACES = (("unit-sh", "c-1", "Asia/Shanghai"), ("unit-sh", "c-2", "Asia/Shanghai"),
          ("unit-ny", "c-1", "America/New_York"))


@dataclass
class Terminal:
    """A device's side, in-process: its chain, its row ids, the batches it sent and the uuids it holds."""

    device_id: str
    unit_id: str
    counter_id: str
    seq: int = 0
    last_hash: str = "0" * 64
    row_id: int = 0
    sent: list[dict[str, Any]] = field(default_factory=list)
    held: list[dict[str, Any]] = field(default_factory=list)

    def rating(self, level: int, at: datetime, staff: str | None, channel: str, suspect: bool,
               device_id: str | None = None) -> dict[str, Any]:
        self.seq += 1
        fields = {"uuid": str(uuid_mod.uuid4()), "seq": self.seq, "device_id": device_id or self.device_id,
                  "unit_id": self.unit_id, "counter_id": self.counter_id, "staff_id": staff, "case_no": None,
                  "level": level, "channel": channel, "mode": "open", "recorded_at": iso_utc(at),
                  "mono_ns": self.seq, "boot_id": "b", "clock_suspect": suspect, "app_version": "0.1.0",
                  "prev_hash": self.last_hash}
        fields["hash"] = self.last_hash = rating_hash(fields)
        return fields

    def next_id(self) -> int:
        self.row_id += 1
        return self.row_id


def enrolled(engine: Engine) -> list[Terminal]:
    made = []
    for unit, counter, zone in PLACES:
        register(engine, unit, counter, timezone_name=zone)
        code = enroll.create_code(engine, unit, counter)
        device_id = enroll.enroll(engine, EnrollRequest(code=code, app_version="0.1.0")).device_id
        made.append(Terminal(device_id, unit, counter))
    return made


def send(engine: Engine, terminal: Terminal, batch: dict[str, Any], received: datetime = RECEIVED) -> None:
    """As the server does: the request's nonce recorded first, in the batch's transaction (which so takes
    the write lock at once; SQLite's deferred transactions would otherwise race from a read to a write)."""
    nonce = Nonce(terminal.device_id, uuid_mod.uuid4().hex, int(time.time()))
    ingest(engine, terminal.device_id, canonical_json(batch), received=received, nonce=nonce)


RATING = st.tuples(st.integers(1, 5), st.integers(-1500, 1500), st.sampled_from([None, "s-1", "s-2"]),
                   st.sampled_from(["touch", "panel"]), st.booleans())
EVENT = st.tuples(st.sampled_from(["solicited", "unrated", "suppressed", "started"]), st.integers(-1500, 1500),
                  st.sampled_from([None, "s-1"]))
STEP = st.fixed_dictionaries({
    "device": st.integers(0, len(PLACES) - 1), "ratings": st.lists(RATING, max_size=5),
    "events": st.lists(EVENT, max_size=3),
    "clock_error_min": st.sampled_from([0, 0, 3, -600, 1440]),   # the device clock's error: corrected when > 1 min
    "before_enrollment": st.integers(0, 2), "early_reasons": st.booleans(), "resend": st.booleans(),
    "conflict": st.booleans(), "conflict_from_other": st.booleans(),
    "exclude": st.integers(0, 2),    # held ratings an upheld appeal then excludes (again: a no-op)
    "web": st.lists(st.tuples(st.integers(1, 5), st.integers(-1500, 1500), st.booleans()), max_size=2)})
SCENARIO = st.lists(STEP, min_size=1, max_size=6)


def play(engine: Engine, scenario: list[dict[str, Any]]) -> None:
    """Ingest the scenario's batches: ratings (some recorded before enrollment), reasons (some before their
    rating), events, duplicates (a batch sent again), conflicts (a held uuid with other content, from its
    device and from another), device clocks that the centre corrects."""
    terminals = enrolled(engine)
    for step in scenario:
        terminal = terminals[step["device"]]
        error = timedelta(minutes=step["clock_error_min"])
        if step["resend"] and terminal.sent:
            send(engine, terminal, terminal.sent[-1])
        rows = [terminal.rating(1, BASE + error, "s-1", "touch", False, device_id="default-terminal")
                for _ in range(step["before_enrollment"] if terminal.seq == 0 else 0)]
        rows += [terminal.rating(level, BASE + timedelta(minutes=minutes) + error, staff, channel, suspect)
                 for level, minutes, staff, channel, suspect in step["ratings"]]
        reasons = [{"id": terminal.next_id(), "rating_uuid": row["uuid"], "code": "slow" if row["level"] == 1
                    else "rude", "recorded_at": row["recorded_at"]} for row in rows if row["level"] <= 2]
        events = [{"id": terminal.next_id(), "kind": kind, "recorded_at": iso_utc(BASE + timedelta(minutes=m) + error),
                   "mono_ns": 1, "boot_id": "b", "detail": {"staff_id": staff, "channel": "panel"}}
                  for kind, m, staff in step["events"]]
        rows += _conflicts(step, terminal, terminals)
        sent_at = RECEIVED + error
        if step["early_reasons"] and reasons:     # the reasons travel first, their ratings in the next batch
            send(engine, terminal, _batch(terminal, [], sent_at, reasons=reasons))
        batch = _batch(terminal, rows, sent_at, reasons=reasons, events=events)
        send(engine, terminal, batch)
        terminal.sent.append(batch)
        terminal.held += [row for row in rows if row["device_id"] == terminal.device_id]
        for row in terminal.held[-step.get("exclude", 0):] if step.get("exclude") else []:
            exclude(engine, row["uuid"])
        for level, minutes, named in step.get("web", ()):
            answer_online(engine, terminal, level, BASE + timedelta(minutes=minutes), named)


def answer_online(engine: Engine, terminal: Terminal, level: int, at: datetime, named_counter: bool) -> None:
    """A web questionnaire's answer for the terminal's unit (and counter), stored by the page's own function
    (centre/public/webratings.py): counted under `web_level`, apart from the presses."""
    token = Token(terminal.unit_id, terminal.counter_id if named_counter else None, at.date(), 14, "q1", "t")
    answer = Answer(form_id=uuid_mod.uuid4().hex, level=level, reasons=("slow",) if level <= 2 else (), text="",
                    phone="", consent=False)
    assert webratings.store(engine, token, answer, at, PublicSettings()) is webratings.Stored.STORED


def exclude(engine: Engine, rating_uuid: str) -> None:
    """What an upheld appeal does to the counts (centre/cases/appeals.py): the exclusion recorded beside the
    rating and the rollups moved, in one transaction; a rating already excluded is left as it is. The case
    the exclusion names is opened here when the ingest opened none (a rating of a good level)."""
    with engine.begin() as conn:
        if conn.execute(select(rating_exclusions.c.rating_uuid).where(
                rating_exclusions.c.rating_uuid == rating_uuid)).first():
            return
        case_id = conn.execute(select(cases.c.id).where(cases.c.rating_uuid == rating_uuid)).scalar()
        if case_id is None:
            rating = conn.execute(select(ratings).where(ratings.c.uuid == rating_uuid)).mappings().one()
            case_id = conn.execute(cases.insert().values(
                rating_uuid=rating_uuid, unit_id=rating["placed_unit_id"], counter_id=rating["placed_counter_id"],
                level=rating["level"], opened_by="complaint", state="closed", rated_at=rating["counted_at"],
                opened_at=iso_utc(RECEIVED), rectify_due_at=iso_utc(RECEIVED))).inserted_primary_key[0]
        conn.execute(rating_exclusions.insert().values(rating_uuid=rating_uuid, case_id=case_id,
                                                       decided_at=iso_utc(RECEIVED), decided_by="office",
                                                       reason="upheld in the test"))
        rollups.exclude(conn, rating_uuid)


def _conflicts(step: dict[str, Any], terminal: Terminal, terminals: list[Terminal]) -> list[dict[str, Any]]:
    copies = []
    if step["conflict"] and terminal.held:
        copies.append({**terminal.held[0], "level": 6 - terminal.held[0]["level"] or 1})
    other = terminals[(terminals.index(terminal) + 1) % len(terminals)]
    if step["conflict_from_other"] and other.held:
        copies.append({**other.held[-1], "device_id": terminal.device_id})
    return copies


def _batch(terminal: Terminal, rows: list[dict[str, Any]], sent_at: datetime, **rest: Any) -> dict[str, Any]:
    return {"protocol": 1, "device_id": terminal.device_id, "sent_at": iso_utc(sent_at), "ratings": rows,
            "reasons": rest.get("reasons", []), "events": rest.get("events", [])}


def check_against_raw(engine: Engine) -> None:
    """The rollups equal a recount of the raw rows, their day and month tables the sums of them, and each
    unit-day's indicators equal the summary, which counts the raw rows its own way (SQL over a UTC range)."""
    with engine.connect() as conn:
        kept, truth = rollups.stored(conn), rollups.recount(conn)
        coarse = (rollups.stored(conn, rollup_days), rollups.stored(conn, rollup_months))
    assert kept == truth
    assert coarse == rollups.coarse(kept)     # the day and month sums the indicators read
    for unit, day in {(key[0], key[1]) for key in kept}:
        raw = reports.summary(engine, unit, date.fromisoformat(day))
        day_period = indicators.period_of(indicators.PeriodKind.DAY, date.fromisoformat(day))
        figures = indicators.compute(engine, indicators.Scope.units([unit]), day_period)
        assert (figures.rated, figures.by_level, figures.good_rate, figures.bad_reasons, figures.unrated,
                figures.suppressed, figures.before_enrollment, figures.excluded) == (
            raw.total, raw.by_level, raw.good_rate, raw.bad_reasons, raw.unrated, raw.suppressed,
            raw.before_enrollment, raw.excluded), (unit, day)


def empty(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture(scope="module")
def sqlite_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = open_engine(f"sqlite:///{tmp_path_factory.mktemp('rollups') / 'centre.db'}")
    yield engine
    engine.dispose()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scenario=SCENARIO)
def test_rollups_equal_a_raw_recount_after_any_ingest(sqlite_engine: Engine, scenario: list[dict[str, Any]]) -> None:
    empty(sqlite_engine)
    play(sqlite_engine, scenario)
    check_against_raw(sqlite_engine)


EXAMPLE = [
    {"device": 0, "ratings": [(1, -5, "s-1", "touch", False), (5, 10, None, "panel", True), (2, 1439, "s-2",
                                                                                            "touch", False)],
     "events": [("solicited", 1, "s-1"), ("unrated", 2, "s-1"), ("suppressed", -3, None)], "clock_error_min": 1440,
     "before_enrollment": 2, "early_reasons": True, "resend": False, "conflict": False, "conflict_from_other": False,
     "web": [(1, 30, True), (4, -900, False)]},
    {"device": 2, "ratings": [(1, -700, None, "touch", False), (4, 800, "s-1", "touch", False)],
     "events": [("solicited", 5, None)], "clock_error_min": 0, "before_enrollment": 0, "early_reasons": False,
     "resend": False, "conflict": False, "conflict_from_other": True},
    {"device": 0, "ratings": [(3, 20, "s-1", "touch", False)], "events": [], "clock_error_min": -600,
     "before_enrollment": 0, "early_reasons": False, "resend": True, "conflict": True, "conflict_from_other": True,
     "exclude": 2},
]


def test_an_example_on_postgresql(pg_engine: Engine) -> None:
    empty(pg_engine)
    play(pg_engine, EXAMPLE)
    check_against_raw(pg_engine)
    with pg_engine.connect() as conn:
        kept = rollups.stored(conn)
    assert sum(n for key, n in kept.items() if key[5] == "before_enrollment") == 2
    assert sum(n for key, n in kept.items() if key[5] == "excluded") == 2
    assert sum(n for key, n in kept.items() if key[5] == "reason") == 3   # not the one before enrollment
    assert sum(n for key, n in kept.items() if key[5] == "web_level" and key[4] == "web") == 2


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_two_workers_ingesting_at_once_lose_no_increment(backend: str, request: pytest.FixtureRequest) -> None:
    engine: Engine = request.getfixturevalue("sqlite_engine" if backend == "sqlite" else "pg_engine")
    empty(engine)
    first, second = enrolled(engine)[:2]     # one unit: the same day, staff and channel, counters apart
    start, problems = threading.Barrier(2), []

    def worker(terminal: Terminal) -> None:
        try:
            start.wait(5)
            for _ in range(10):
                rows = [terminal.rating(5, BASE, "s-1", "touch", False) for _ in range(5)]
                events = [{"id": terminal.next_id(), "kind": "solicited", "recorded_at": iso_utc(BASE), "mono_ns": 1,
                           "boot_id": "b", "detail": {"staff_id": "s-1"}}]
                send(engine, terminal, _batch(terminal, rows, RECEIVED, events=events))
        except Exception as exc:   # reported below: a thread's failure must fail the test
            problems.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not problems
    check_against_raw(engine)
    figures = indicators.compute(engine, indicators.Scope.units(["unit-sh"]),
                                 indicators.period_of(indicators.PeriodKind.DAY, date(2026, 3, 10)))
    assert (figures.rated, figures.requests) == (100, 20)


def snapshot(engine: Engine) -> Any:
    with engine.connect() as conn:
        return rollups.stored(conn)


def coarse_snapshot(engine: Engine) -> Any:
    with engine.connect() as conn:
        return rollups.stored(conn, rollup_days), rollups.stored(conn, rollup_months)


def test_rebuild_restores_a_deleted_or_corrupted_rollups_table(collector, enroll_device) -> None:
    device = enroll_device(timezone_name="Europe/London")
    rows = [device.rating(level, recorded_at=BASE + timedelta(hours=hours)) for level, hours in
            ((5, 0), (1, 3), (4, 9), (2, 30))]
    reasons = [{"id": 1, "rating_uuid": rows[1]["uuid"], "code": "slow", "recorded_at": rows[1]["recorded_at"]}]
    events = [{"id": 1, "kind": "unrated", "recorded_at": iso_utc(BASE), "mono_ns": 1, "boot_id": "b",
               "detail": {"staff_id": "s-1"}}]
    assert device.ingest(device.batch(rows, reasons=reasons, events=events)).status_code == 200
    before, coarse_before = snapshot(collector.engine), coarse_snapshot(collector.engine)
    assert sum(before.values()) == 6 and coarse_before == rollups.coarse(before)

    with collector.engine.begin() as conn:
        conn.execute(update(rollups_table).where(rollups_table.c.measure == "level").values(n=rollups_table.c.n + 7))
        conn.execute(rollups_table.insert().values(unit_id=device.unit_id, day="2026-03-01", counter_id="x",
                                                   staff_id="", channel="", measure="level", code="5", n=3))
        conn.execute(update(rollup_months).values(n=rollup_months.c.n + 1))
        conn.execute(rollup_days.delete().where(rollup_days.c.measure == "reason"))
    done = collector.cli("rollup", "rebuild")
    assert done.returncode == 0, done.stderr
    corrupted = sum(1 for key in before if key[5] == "level") + 1
    sums_corrupted = len(coarse_before[1]) + sum(1 for key in coarse_before[0] if key[2] == "reason")
    assert done.stdout == f"rollups rebuilt from the raw rows: {len(before)} row(s); {corrupted} differed " \
                          f"from the recount, and {sums_corrupted} of their day and month sums\n"
    assert (snapshot(collector.engine), coarse_snapshot(collector.engine)) == (before, coarse_before)

    with collector.engine.begin() as conn:
        for table in (rollups_table, rollup_days, rollup_months):
            conn.execute(table.delete())
    assert collector.cli("rollup", "rebuild").returncode == 0
    assert (snapshot(collector.engine), coarse_snapshot(collector.engine)) == (before, coarse_before)
    again = collector.cli("rollup", "rebuild")
    assert again.stdout.endswith("; 0 differed from the recount, and 0 of their day and month sums\n")


# The tables a database at 0003 has: the collector's, 0002's tokens and 0003's registry.
TABLES_AT_0003 = schema.BASELINE_TABLES | {"api_tokens", "districts", "sectors", "units", "counters",
                                           "device_placements"}


def test_migrations_0004_and_0008_build_the_rollups_of_an_existing_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'centre.db'}"
    engine = open_engine(url)
    play(engine, [{**step, "exclude": 0, "web": []} for step in EXAMPLE])   # none before 0009, 0011
    kept, coarse = snapshot(engine), coarse_snapshot(engine)
    with engine.begin() as conn:   # the database as 0003 left it: raw rows, no rollups (nor later tables)
        rewind(conn, "0003")
    assert set(inspect(engine).get_table_names()) == TABLES_AT_0003 | {"alembic_version"}
    engine.dispose()
    from centre.db.engine import migrate

    assert migrate(url) == ("0003", schema.SCHEMA_HEAD)
    engine = open_engine(url, create=False)
    assert snapshot(engine) == kept and kept
    assert coarse_snapshot(engine) == coarse == rollups.coarse(kept)   # 0008's sums, made in SQL
    engine.dispose()
