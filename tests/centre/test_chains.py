"""Each device's chain, checked once at ingest (centre/chains.py): what is stored equals a full recheck of the
raw rows, and the integrity report's own check as it was before the chains were stored (kept here, verbatim,
as the oracle), after any history of batches; the migration fills the table the same; `integrity --recheck`
finds a stored result that differs.

The property tests drive the real ingest function (the one the server calls) in-process, on a real SQLite
file and on the real PostgreSQL; the CLI tests run the real `evaluator` command against the real centre.
"""
from __future__ import annotations

import json
import subprocess
import sys
import threading
import uuid as uuid_mod
from collections.abc import Iterable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, Engine, select, update

from centre import chain_recheck, chains, reports
from centre.db import schema
from centre.db.engine import migrate, open_engine
from centre.db.rows import held_rating
from centre.db.tables import device_chains, ratings
from contract import GENESIS_HASH, HASHED_FIELDS, RATING_FIELDS, iso_utc, rating_hash
from tests.centre.conftest import pg_url_or_skip, rewind, scratch_pg_database
from tests.centre.test_rollups import BASE, Terminal, empty, enrolled, send

LENGTH = 12                      # each device's chain: seqs 1..LENGTH
DEFAULT_ID = "dev-0001"          # the terminal's identity before enrollment
EVALUATOR = Path(sys.executable).parent / "evaluator"
VARIANTS = ("honest",) * 3 + ("tampered", "tampered_copy", "relinked", "replaced", "conflict", "foreign")


# -- the oracle: the report's check before device_chains, verbatim ---------------------------------


def _gaps(seqs: Iterable[int]) -> list[tuple[int, int]]:
    gaps, expected = [], 1
    for seq in seqs:
        if seq > expected:
            gaps.append((expected, seq - 1))
        expected = max(expected, seq + 1)
    return gaps


def _chain_breaks(held: list[dict[str, Any]]) -> list[int]:
    by_seq: dict[int, list[dict[str, Any]]] = {}
    for row in held:
        by_seq.setdefault(row["seq"], []).append(row)
    breaks = []
    for seq, rows in by_seq.items():
        if len(rows) > 1:
            breaks.append(seq)
            continue
        row = rows[0]
        fields = held_rating(row, HASHED_FIELDS)
        previous = by_seq.get(seq - 1)
        expected_prev = GENESIS_HASH if seq == 1 else (previous[0]["hash"] if previous and len(previous) == 1
                                                       else None)
        if rating_hash(fields) != row["hash"] or (expected_prev is not None and row["prev_hash"] != expected_prev):
            breaks.append(seq)
    return breaks


def oracle(conn: Connection, device_id: str) -> chains.Chain:
    """What `reports.integrity` computed on each call until the chains were stored: every rating read and
    hashed again (centre/reports.py `_device_integrity`, as of revision 0005)."""
    columns = [ratings.c[name] for name in (*RATING_FIELDS, "conflict", "before_enrollment", "placement_differs")]
    held = [dict(row) for row in conn.execute(select(*columns).where(ratings.c.delivered_by == device_id)
                                              .order_by(ratings.c.seq, ratings.c.pk)).mappings()]
    last = held[-1] if held else None
    return chains.Chain(device_id, len(held), last["seq"] if last else None, last["hash"] if last else None,
                        _gaps(row["seq"] for row in held), _chain_breaks(held),
                        sum(1 for row in held if row["conflict"]), sum(1 for row in held if row["before_enrollment"]),
                        sum(1 for row in held if row["placement_differs"]))


def assert_stored_is_the_truth(engine: Engine, device_ids: list[str]) -> None:
    with engine.connect() as conn:
        kept = chains.stored(conn)
        for device_id in device_ids:
            truth = oracle(conn, device_id)
            assert (chains.recount(conn, device_id) or chains.Chain(device_id)) == truth, device_id
            assert kept.get(device_id, chains.Chain(device_id)) == truth, device_id
            assert truth.ratings_held or device_id not in kept     # a device without ratings has no row


def assert_report_is_the_oracle(engine: Engine) -> None:
    report = reports.integrity(engine)
    with engine.connect() as conn:
        for item in report.devices:
            truth = oracle(conn, item.device_id)
            assert chains.Chain(item.device_id, item.ratings_held, item.last_seq, item.last_hash, item.gaps,
                                item.chain_breaks, item.conflicts, item.before_enrollment,
                                item.placement_mismatches) == truth


# -- histories of batches ---------------------------------------------------------------------------


def canonical(terminal: Terminal, early: int, elsewhere: set[int], length: int = LENGTH) -> list[dict[str, Any]]:
    """The device's honest chain: its first `early` ratings recorded before enrollment (the default id),
    those at `elsewhere` claiming another counter than the device's."""
    rows, prev = [], GENESIS_HASH
    for seq in range(1, length + 1):
        row = {"uuid": str(uuid_mod.uuid4()), "seq": seq,
               "device_id": DEFAULT_ID if seq <= early else terminal.device_id, "unit_id": terminal.unit_id,
               "counter_id": "c-9" if seq in elsewhere else terminal.counter_id,
               "staff_id": "s-1", "case_no": None, "level": 1 + seq % 5, "channel": "touch", "mode": "open",
               "recorded_at": iso_utc(BASE + timedelta(minutes=seq)), "mono_ns": seq, "boot_id": "b",
               "clock_suspect": False, "app_version": "0.1.0", "prev_hash": prev}
        row["hash"] = prev = rating_hash(row)
        rows.append(row)
    return rows


def rehashed(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "hash": rating_hash(row)}


def variant(kind: str, honest: dict[str, Any], other: dict[str, Any], device_id: str) -> dict[str, Any]:
    """The rating sent for one seq: as recorded, or edited, replaced, relinked, or another device's copy."""
    other_level = honest["level"] % 5 + 1
    made = {
        "honest": lambda: honest,
        "tampered": lambda: {**honest, "level": other_level},                     # the same uuid, hash kept
        "tampered_copy": lambda: {**honest, "uuid": str(uuid_mod.uuid4()), "level": other_level},
        "relinked": lambda: rehashed({**honest, "uuid": str(uuid_mod.uuid4()), "prev_hash": "f" * 64}),
        "replaced": lambda: rehashed({**honest, "uuid": str(uuid_mod.uuid4()), "level": other_level}),
        "conflict": lambda: rehashed({**honest, "level": other_level}),           # the same uuid, other content
        "foreign": lambda: {**other, "device_id": device_id},                     # another device's uuid
    }
    return made[kind]()


DEVICE = st.fixed_dictionaries({"early": st.integers(0, 2), "elsewhere": st.sets(st.integers(1, LENGTH), max_size=2)})
STEP = st.fixed_dictionaries({
    "device": st.sampled_from([0, 0, 0, 1, 2]),   # mostly one device: long histories
    "append": st.integers(0, 4),      # the next ratings after the highest sent, in order: the common case
    # a seq 1..LENGTH, or (0, -1, -2) the highest seq the device sent so far and those below it: the tail
    "rows": st.lists(st.tuples(st.one_of(st.integers(-2, 0), st.integers(1, LENGTH)), st.sampled_from(VARIANTS)),
                     max_size=6),
    "resend": st.booleans()})
HISTORY = st.fixed_dictionaries({"devices": st.tuples(DEVICE, DEVICE, DEVICE),
                                 "steps": st.lists(STEP, min_size=1, max_size=10)})
PLAIN_DEVICES = ({"early": 0, "elsewhere": set()},) * 3
REPLACED_TAIL = {"devices": PLAIN_DEVICES, "steps": [   # the tail held twice: the next rating's link is not checked
    {"device": 0, "append": 3, "rows": [], "resend": False},
    {"device": 0, "append": 0, "rows": [(0, "replaced")], "resend": False},
    {"device": 0, "append": 2, "rows": [], "resend": False}]}


def play(engine: Engine, history: dict[str, Any], check_each_step: bool = True) -> list[str]:
    """Ingest the history's batches: in order and out of it, seqs left out and sent later, duplicates (a
    batch sent again, a rating twice), edited and replaced ratings, broken links, conflicting copies, copies
    of another device's ratings, ratings from before enrollment and claiming another counter."""
    terminals = enrolled(engine)
    ids = [terminal.device_id for terminal in terminals]
    honest = [canonical(terminal, spec["early"], spec["elsewhere"])
              for terminal, spec in zip(terminals, history["devices"], strict=True)]
    sent_up_to, top, last_batch = [0] * len(terminals), [1] * len(terminals), [None] * len(terminals)
    for step in history["steps"]:
        index = step["device"]
        terminal, other = terminals[index], honest[(index + 1) % len(terminals)]
        if step["resend"] and last_batch[index] is not None:
            send(engine, terminal, last_batch[index])
        start = sent_up_to[index]
        rows = honest[index][start:start + step["append"]]
        sent_up_to[index] = min(LENGTH, start + step["append"])
        seqs = [(seq if seq > 0 else max(1, top[index] + seq), kind) for seq, kind in step["rows"]]
        rows += [variant(kind, honest[index][seq - 1], other[seq - 1], terminal.device_id) for seq, kind in seqs]
        top[index] = max([top[index], *(row["seq"] for row in rows)])
        batch = {"protocol": 1, "device_id": terminal.device_id, "sent_at": iso_utc(BASE + timedelta(days=2)),
                 "ratings": rows, "reasons": [], "events": []}
        send(engine, terminal, batch)
        last_batch[index] = batch
        if check_each_step:
            assert_stored_is_the_truth(engine, ids)
    return ids


@pytest.fixture(scope="module")
def sqlite_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = open_engine(f"sqlite:///{tmp_path_factory.mktemp('chains') / 'centre.db'}")
    yield engine
    engine.dispose()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=HISTORY)
@example(history=REPLACED_TAIL)
def test_the_stored_chains_equal_a_full_recheck_after_any_history(sqlite_engine: Engine,
                                                                   history: dict[str, Any]) -> None:
    empty(sqlite_engine)
    play(sqlite_engine, history)
    assert_report_is_the_oracle(sqlite_engine)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=HISTORY)
def test_the_stored_chains_equal_a_full_recheck_on_postgresql(pg_engine: Engine, history: dict[str, Any]) -> None:
    empty(pg_engine)
    play(pg_engine, history)
    assert_report_is_the_oracle(pg_engine)


EXAMPLE = {"devices": ({"early": 2, "elsewhere": {5}}, {"early": 0, "elsewhere": set()},
                       {"early": 0, "elsewhere": set()}),
           "steps": [{"device": 0, "append": 4, "rows": [(8, "honest"), (3, "conflict")], "resend": False},
                     {"device": 1, "append": 3, "rows": [(5, "relinked"), (2, "foreign")], "resend": False},
                     {"device": 0, "append": 0, "rows": [(6, "honest"), (4, "replaced"), (10, "tampered")],
                      "resend": True},
                     {"device": 0, "append": 0, "rows": [(5, "honest"), (8, "conflict"), (7, "relinked")],
                      "resend": False},
                     {"device": 0, "append": 0, "rows": [(7, "honest")], "resend": False}]}


def test_an_example_history_gives_what_the_report_gave(sqlite_engine: Engine) -> None:
    """One history spelled out: a rating filling a gap, a second rating at one seq (which stops its successor's
    link being checked: seq 8's break heals), conflicts flagged on held ratings (once), a rating of another
    device's stored as the sender's."""
    empty(sqlite_engine)
    first, second, _ = play(sqlite_engine, EXAMPLE)
    found = {item.device_id: item for item in reports.integrity(sqlite_engine).devices}
    mine = found[first]
    assert (mine.ratings_held, mine.last_seq, mine.gaps, mine.chain_breaks) == (11, 10, [(9, 9)], [4, 7, 10])
    assert (mine.conflicts, mine.before_enrollment, mine.placement_mismatches) == (2, 2, 1)
    theirs = found[second]
    assert (theirs.ratings_held, theirs.last_seq, theirs.gaps, theirs.chain_breaks) == (5, 5, [(4, 4)], [2])
    assert_report_is_the_oracle(sqlite_engine)


# -- several workers, one device ---------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_two_workers_ingesting_one_devices_batches_at_once(backend: str, request: pytest.FixtureRequest) -> None:
    """Two batches of one device stored at once: the device's row is updated by one, then by the other,
    which sees the first's ratings (no lost update, no link checked against a rating it could not see)."""
    engine: Engine = request.getfixturevalue(f"{'sqlite' if backend == 'sqlite' else 'pg'}_engine")
    empty(engine)
    terminal = enrolled(engine)[0]
    rows = canonical(terminal, 0, set(), length=60)
    slices = [rows[start:start + 3] for start in range(0, len(rows), 3)]   # each worker leaves gaps the other fills
    start, problems = threading.Barrier(2), []

    def worker(batches: list[list[dict[str, Any]]]) -> None:
        try:
            start.wait(5)
            for batch in batches:
                send(engine, terminal, {"protocol": 1, "device_id": terminal.device_id,
                                        "sent_at": iso_utc(BASE + timedelta(days=2)), "ratings": batch,
                                        "reasons": [], "events": []})
        except Exception as exc:   # reported below: a thread's failure must fail the test
            problems.append(exc)

    threads = [threading.Thread(target=worker, args=(slices[part::2],)) for part in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not problems
    assert_stored_is_the_truth(engine, [terminal.device_id])
    with engine.connect() as conn:
        kept = chains.stored(conn)[terminal.device_id]
    assert (kept.ratings_held, kept.last_seq, kept.gaps, kept.chain_breaks) == (60, 60, [], [])


# -- migration 0006 -----------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'centre.db'}"
        return
    url = pg_url_or_skip()
    with scratch_pg_database(url) as scratch:
        yield scratch


def test_migration_0006_checks_every_chain_of_an_existing_database(fresh_url: str) -> None:
    engine = open_engine(fresh_url)
    ids = play(engine, EXAMPLE, check_each_step=False)
    with engine.connect() as conn:
        kept = chains.stored(conn)
    with engine.begin() as conn:     # the database as 0005 left it: the ratings, no chains
        rewind(conn, "0005")
    engine.dispose()
    assert migrate(fresh_url) == ("0005", schema.SCHEMA_HEAD)
    engine = open_engine(fresh_url, create=False)
    try:
        with engine.connect() as conn:
            assert chains.stored(conn) == kept and len(kept) == 2    # the third device delivered nothing
        assert_stored_is_the_truth(engine, ids)
        assert_report_is_the_oracle(engine)
    finally:
        engine.dispose()


# -- integrity --recheck, the real command ------------------------------------------------------------


def evaluator(collector: Any, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(EVALUATOR), "centre", *args, "--db", collector.db_url], capture_output=True,
                          text=True, timeout=120)


def test_recheck_finds_and_corrects_a_stored_result_that_differs(collector, enroll_device) -> None:
    device, other = enroll_device(), enroll_device()
    for terminal in (device, other):
        assert terminal.ingest(terminal.batch([terminal.rating() for _ in range(4)])).status_code == 200
    clean = evaluator(collector, "integrity", "--recheck")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "rechecked 2 device(s), 8 rating(s) from the raw rows: 0 stored result(s) differed" in clean.stdout

    with collector.engine.begin() as conn:     # a stored result that the raw rows do not give
        conn.execute(update(device_chains).where(device_chains.c.device_id == device.device_id)
                     .values(conflicts=3, gaps=[[2, 2]]))
        conn.execute(device_chains.delete().where(device_chains.c.device_id == other.device_id))
    assert evaluator(collector, "integrity").returncode == 1        # the report reads what is stored
    found = evaluator(collector, "integrity", "--recheck", "--json")
    assert found.returncode == 1
    assert f"{device.device_id}: stored gaps [(2, 2)], conflicts 3; the raw rows say gaps [], conflicts 0 " \
           "(corrected)" in found.stderr
    assert f"{other.device_id}: stored nothing; the raw rows say ratings_held 4, last_seq 4, last_hash " \
           f"{other.last_hash} (corrected)" in found.stderr
    assert "2 stored result(s) differed" in found.stderr
    assert json.loads(found.stdout)["ok"] is True                   # the report after the correction
    again = evaluator(collector, "integrity", "--recheck")
    assert again.returncode == 0 and "0 stored result(s) differed" in again.stdout


def test_the_report_reads_the_stored_chain_and_a_recheck_reads_the_ratings(collector, enroll_device) -> None:
    """A rating edited in the database after its batch was checked shows only to a recheck: the report
    reads no rating."""
    device = enroll_device()
    rows = [device.rating() for _ in range(3)]
    assert device.ingest(device.batch(rows)).status_code == 200
    with collector.engine.begin() as conn:
        conn.execute(update(ratings).where(ratings.c.uuid == rows[1]["uuid"]).values(level=1))
    assert evaluator(collector, "integrity").returncode == 0
    found = evaluator(collector, "integrity", "--recheck")
    assert found.returncode == 1
    assert f"{device.device_id}: stored chain_breaks []; the raw rows say chain_breaks [2] (corrected)" in found.stdout
    assert f"{device.device_id} (" in found.stdout and "PROBLEM" in found.stdout


def test_recheck_reports_its_progress(sqlite_engine: Engine) -> None:
    empty(sqlite_engine)
    ids = play(sqlite_engine, EXAMPLE, check_each_step=False)
    seen: list[tuple[int, int, int]] = []
    done = chain_recheck.recheck(sqlite_engine, lambda *step: seen.append(step))
    assert (done.devices, done.ratings, done.differed) == (2, 16, [])
    assert seen == [(1, 2, seen[0][2]), (2, 2, 16)] and seen[0][2] in (5, 11)
    assert_stored_is_the_truth(sqlite_engine, ids)
