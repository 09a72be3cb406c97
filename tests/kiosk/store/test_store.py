"""The device store on real SQLite files: durability settings, chain, append-only."""
from __future__ import annotations

import sqlite3
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from alembic.script import ScriptDirectory

from contract import GENESIS_HASH, rating_hash
from kiosk.store import SCHEMA_COMPATIBLE_FROM, SCHEMA_HEAD, Identity, RatingStore, StorageError
from kiosk.store.schema import _alembic_config
from kiosk.store.tables import Channel, EventKind


def test_durability_pragmas_read_back(store):
    assert store.pragma("journal_mode") == "wal"
    assert store.pragma("synchronous") == 2          # FULL: fsync at every commit
    assert store.pragma("busy_timeout") == 5000
    assert store.pragma("foreign_keys") == 1


def test_schema_is_created_by_alembic_and_reopening_keeps_the_data(settings, store):
    store.append_rating(5, Channel.TOUCH, "open")
    store.close()
    again = RatingStore(settings.store.path, store.identity)
    try:
        assert again.count_ratings() == 1
        with sqlite3.connect(settings.store.path) as raw:
            head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
            assert raw.execute("SELECT version_num FROM alembic_version").fetchone() == (head,)
            assert head != "0001"                                      # upgraded past the first revision
    finally:
        again.close()


def test_schema_head_constant_is_the_newest_migration():
    # A store at SCHEMA_HEAD opens without Alembic: a new migration must move the constant too.
    assert ScriptDirectory.from_config(_alembic_config()).get_current_head() == SCHEMA_HEAD


def test_revisions_are_numbered_in_order():
    # A release tells a newer store from a foreign one by comparing these numbers.
    scripts = ScriptDirectory.from_config(_alembic_config())
    revisions = [script.revision for script in reversed(list(scripts.walk_revisions()))]
    assert revisions == [f"{n:04d}" for n in range(1, len(revisions) + 1)]
    assert SCHEMA_COMPATIBLE_FROM <= SCHEMA_HEAD


def test_a_migrated_store_says_which_schemas_can_use_it(store):
    with sqlite3.connect(store.path) as raw:
        assert raw.execute("PRAGMA user_version").fetchone() == (int(SCHEMA_COMPATIBLE_FROM),)


def future_release_migrates(path, compatible_from: int) -> None:
    """What a later release's migration does at its first start: adds a table and a nullable column,
    moves the revision, and writes which schemas can still use the store."""
    with sqlite3.connect(path) as raw:
        raw.execute("CREATE TABLE future_things (id INTEGER PRIMARY KEY, note TEXT)")
        raw.execute("ALTER TABLE ratings ADD COLUMN future_note TEXT")
        raw.execute("UPDATE alembic_version SET version_num = ?", (f"{int(SCHEMA_HEAD) + 1:04d}",))
        raw.execute(f"PRAGMA user_version = {compatible_from}")
    raw.close()


@pytest.mark.parametrize("migrate", [True, False], ids=["terminal", "read-only tool"])
def test_after_a_rollback_a_store_a_newer_release_keeps_usable_opens_as_it_is(settings, store, migrate, caplog):
    store.append_rating(5, Channel.TOUCH, "open")
    store.close()
    future_release_migrates(store.path, int(SCHEMA_HEAD))
    newer = f"{int(SCHEMA_HEAD) + 1:04d}"
    again = RatingStore(settings.store.path, store.identity, migrate=migrate)
    try:
        if migrate:
            again.append_rating(1, Channel.PANEL, "open")
        assert again.count_ratings() == (2 if migrate else 1)
        assert again.verify().ok
    finally:
        again.close()
    with sqlite3.connect(settings.store.path) as raw:      # used as it is: never downgraded
        assert raw.execute("SELECT version_num FROM alembic_version").fetchone() == (newer,)
        assert raw.execute("PRAGMA user_version").fetchone() == (int(SCHEMA_HEAD),)
    raw.close()
    assert f"schema {newer} is from a newer release" in caplog.text


@pytest.mark.parametrize("compatible_from, says", [
    (int(SCHEMA_HEAD) + 1, f"it needs schema {int(SCHEMA_HEAD) + 1:04d} or later"),
    (0, "it does not say that an older release can use it"),
])
@pytest.mark.parametrize("migrate", [True, False], ids=["terminal", "read-only tool"])
def test_a_store_a_newer_release_made_unusable_here_is_refused_untouched(settings, store, compatible_from, says,
                                                                         migrate):
    store.append_rating(5, Channel.TOUCH, "open")
    store.close()
    future_release_migrates(store.path, compatible_from)
    before = store.path.read_bytes()
    with pytest.raises(StorageError) as refused:
        RatingStore(settings.store.path, store.identity, migrate=migrate)
    newer = f"{int(SCHEMA_HEAD) + 1:04d}"
    assert f"schema {newer} was written by a newer release and {says}" in str(refused.value)
    assert f"this release has schema {SCHEMA_HEAD}" in str(refused.value)
    assert store.path.read_bytes() == before


def test_a_checkpoint_held_back_by_a_reader_does_not_hold_the_store_for_the_busy_timeout(settings):
    # A minute's busy timeout: a checkpoint that waited it out would hold every press for a minute.
    store = RatingStore(settings.store.path, Identity("d", "u", "c"), busy_timeout_ms=60_000)
    wal = settings.store.path.with_name(settings.store.path.name + "-wal")
    reader = sqlite3.connect(settings.store.path, isolation_level=None)   # as the uploader reads
    try:
        store.append_rating(5, Channel.TOUCH, "open")
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM ratings").fetchone()           # holds a snapshot of the WAL
        store.append_rating(4, Channel.TOUCH, "open")
        started = time.monotonic()
        store.checkpoint()
        assert time.monotonic() - started < 10
        assert wal.stat().st_size > 0                                       # held back: the next one finishes
        assert store.pragma("busy_timeout") == 60_000                       # presses still wait as configured
        reader.execute("COMMIT")
        store.append_rating(3, Channel.TOUCH, "open")
        store.checkpoint()
        assert wal.stat().st_size == 0 and store.count_ratings() == 3
    finally:
        reader.close()
        store.close()


def test_the_tables_in_code_are_the_schema_the_migrations_build(store):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import create_engine

    from kiosk.store.tables import metadata

    engine = create_engine(f"sqlite:///{store.path}")
    try:
        with engine.connect() as conn:
            differences = compare_metadata(MigrationContext.configure(conn), metadata)
    finally:
        engine.dispose()
    assert differences == []


def test_a_current_store_opens_without_importing_alembic(settings, store):
    import subprocess
    import sys

    store.close()
    code = ("import sys; from pathlib import Path; from kiosk.store import Identity, RatingStore; "
            f"RatingStore(Path({str(settings.store.path)!r}), Identity('d', 'u', 'c')).close(); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_rows_form_a_gapless_hash_chain(store):
    stored = [store.append_rating(level, Channel.PANEL, "open", staff_id="E1", case_no=f"C-{level}")
              for level in (5, 4, 1, 3)]
    rows = list(reversed(store.recent_ratings(10)))
    assert [row["seq"] for row in rows] == [1, 2, 3, 4]
    assert rows[0]["prev_hash"] == GENESIS_HASH
    for before, after in zip(rows, rows[1:]):
        assert after["prev_hash"] == before["hash"]
    for row in rows:
        fields = {**row, "clock_suspect": bool(row["clock_suspect"])}
        assert rating_hash(fields) == row["hash"]
    assert [s.hash for s in stored] == [row["hash"] for row in rows]
    assert rows[2]["level"] == 1 and rows[2]["case_no"] == "C-1" and rows[2]["device_id"] == store.identity.device_id
    assert store.verify().ok and store.verify().checked == 4


def test_rating_records_times_boot_and_clock_trust(tmp_path):
    past = datetime(1970, 1, 1, 0, 0, 5, tzinfo=UTC)   # a board without an RTC, just booted
    store = RatingStore(tmp_path / "e.db", Identity("d", "u", "c"), clock=lambda: past)
    try:
        rating = store.append_rating(3, Channel.KEYBOARD, "open")
        row = store.recent_ratings(1)[0]
    finally:
        store.close()
    assert rating.clock_suspect and row["clock_suspect"]
    assert row["recorded_at"] == "1970-01-01T00:00:05.000000+00:00"
    assert row["mono_ns"] > 0 and len(row["boot_id"]) == 36


def test_fresh_clock_is_trusted(store):
    assert not store.append_rating(3, Channel.TOUCH, "open").clock_suspect


@pytest.mark.parametrize("statement", [
    "UPDATE ratings SET level = 5 WHERE seq = 1",
    "UPDATE ratings SET staff_id = 'E9' WHERE seq = 1",
    "DELETE FROM ratings WHERE seq = 1",
    "UPDATE events SET kind = 'started' WHERE id = 1",
    "DELETE FROM events",
    "DELETE FROM rating_reasons",
    "UPDATE rating_reasons SET code = 'slow'",
])
def test_no_program_can_edit_or_delete_a_rating(store, statement):
    rating = store.append_rating(1, Channel.TOUCH, "open")
    store.add_reasons(rating.uuid, ["attitude"])
    store.record_event(EventKind.SUPPRESSED, level=2)
    with sqlite3.connect(store.path) as raw, pytest.raises(sqlite3.IntegrityError, match="append-only"):
        raw.execute(statement)


def test_only_the_sync_state_may_change(store):
    store.append_rating(4, Channel.TOUCH, "open")
    with sqlite3.connect(store.path) as raw:
        raw.execute("UPDATE ratings SET sync_state = 'synced' WHERE seq = 1")
    assert store.recent_ratings(1)[0]["sync_state"] == "synced"
    assert store.verify().ok


def _tamper(store, *statements: str) -> None:
    with sqlite3.connect(store.path) as raw:       # a person with sqlite3 and root on the device
        raw.execute("DROP TRIGGER ratings_no_update")
        raw.execute("DROP TRIGGER ratings_no_delete")
        for statement in statements:
            raw.execute(statement)


@pytest.mark.parametrize("statements, seq, words", [
    (["UPDATE ratings SET level = 5 WHERE seq = 3"], 3, "altered"),
    (["DELETE FROM ratings WHERE seq = 2"], 2, "missing"),
    (["DELETE FROM ratings WHERE seq = 4", "UPDATE ratings SET seq = 4 WHERE seq = 5"], 4, "does not link"),
])
def test_verify_names_the_first_broken_seq(store, statements, seq, words):
    for level in (5, 4, 3, 2, 1):
        store.append_rating(level, Channel.TOUCH, "open")
    _tamper(store, *statements)
    result = store.verify()
    assert not result.ok
    assert result.first_broken_seq == seq and words in result.problem


def test_day_counts_include_reasons_unrated_and_suppressed(store):
    bad = store.append_rating(1, Channel.TOUCH, "open")
    store.append_rating(5, Channel.TOUCH, "open")
    store.add_reasons(bad.uuid, ["slow", "wait"])
    store.record_event(EventKind.UNRATED, case_no="A")
    store.record_event(EventKind.SUPPRESSED, level=5, channel="touch", why="cooldown")
    now = datetime.now(UTC)
    counts = store.day_counts(now - timedelta(hours=1), now + timedelta(hours=1))
    assert counts.by_level == {1: 1, 5: 1}
    assert counts.reasons == {"slow": 1, "wait": 1}
    assert (counts.unrated, counts.suppressed) == (1, 1)
    empty = store.day_counts(now + timedelta(hours=1), now + timedelta(hours=2))
    assert empty.by_level == {} and empty.unrated == 0


def test_a_file_that_is_not_a_database_is_a_storage_error(tmp_path):
    path = tmp_path / "e.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StorageError, match="not a database"):
        RatingStore(path, Identity("d", "u", "c"))


def test_levels_outside_one_to_five_are_refused(store):
    with pytest.raises(ValueError):
        store.append_rating(6, Channel.TOUCH, "open")
    assert store.count_ratings() == 0


def test_rating_ids_are_uuid7_led_by_the_press_time(tmp_path):
    moments = iter([datetime(2026, 11, 25, 2, 0, 0, 1000, tzinfo=UTC) + timedelta(seconds=s)
                    for s in (0, 7, 20)])
    store = RatingStore(tmp_path / "ids.db", Identity("d", "u", "c"), clock=lambda: next(moments))
    try:
        stored = [store.append_rating(level, Channel.PANEL, "open") for level in (5, 4, 3)]
    finally:
        store.close()
    ids = [uuid.UUID(rating.uuid) for rating in stored]
    assert all(found.version == 7 and found.variant == uuid.RFC_4122 for found in ids)
    assert [found.int >> 80 for found in ids] == [int(datetime.fromisoformat(rating.recorded_at).timestamp() * 1000)
                                                  for rating in stored]
    assert sorted(rating.uuid for rating in stored) == [rating.uuid for rating in stored]   # index order = time order
    assert len({found.int & ((1 << 74) - 1) for found in ids}) == 3


def test_integrity_check_does_not_wait_for_the_stores_lock(store):
    # The check reads the whole file (seconds on years of ratings); a press waiting for it behind the
    # store's lock would freeze the screen that made the press.
    import queue
    import threading

    store.append_rating(5, Channel.TOUCH, "open")
    inside, release, found = threading.Event(), threading.Event(), queue.Queue()

    def write_transaction() -> None:
        with store.transaction(write=True):
            inside.set()
            release.wait(30)

    holder = threading.Thread(target=write_transaction)
    holder.start()
    try:
        assert inside.wait(5)
        threading.Thread(target=lambda: found.put(store.integrity_check()), daemon=True).start()
        assert found.get(timeout=10) == "ok"
    finally:
        release.set()
        holder.join()
