"""The centre's schema lives under Alembic migrations (centre/db/migrations): `evaluator centre migrate` creates
or upgrades a database, every command refuses one behind the code or ahead of it, and a database written by
the collector's last release (revision 0001, no version recorded) migrates without losing a row.

Run as an office would, `python -m evaluator.cli centre …` from a folder of its own, on real SQLite files and,
with EVALUATOR_TEST_PG_URL, on real PostgreSQL databases of the test's own (CREATE DATABASE).
"""
from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, Table, create_engine, inspect, select, text

from centre import rollups
from centre.db import schema
from centre.db.engine import open_engine
from centre.db.tables import metadata, rollup_days, rollup_months
from centre.db.tables import ratings as ratings_now
from contract import GENESIS_HASH, iso_utc, rating_hash
from tests.centre import old_schema
from tests.centre.conftest import BACKENDS, free_port, pg_url_or_skip, scratch_pg_database
from tests.centre.test_cli_database import COMMANDS

DAY = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)   # 09:00 in Asia/Shanghai
PLACES = (("dev-a", "u-301", "市民中心", "c-1", "1号窗口"), ("dev-b", "u-301", "市民中心", "c-2", "2号窗口"),
          ("dev-c", "u-402", "东城区政务服务中心", "c-9", "9号窗口"))
BEHIND = f"database schema is at 0001, the code needs {schema.SCHEMA_HEAD}: run `evaluator centre migrate --db "


def centre(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "evaluator.cli", "centre", *args], cwd=folder,
                          capture_output=True, text=True, timeout=60)


@pytest.fixture(params=BACKENDS)
def blank_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database URL with nothing in it yet: a SQLite file not yet made, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'centre' / 'centre.db'}"
        return
    pg_url = pg_url_or_skip()
    with scratch_pg_database(pg_url) as url:
        yield url


def engine_on(url: str) -> Engine:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    return create_engine(url)


def differences(url: str) -> list[Any]:
    """What Alembic's autogenerate would still change to make the database the code's tables (none, if right)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return list(compare_metadata(MigrationContext.configure(conn), metadata))
    finally:
        engine.dispose()


def recorded_version(url: str) -> str | None:
    """The revision in the database's alembic_version; None where it has none."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            if schema.VERSION_TABLE not in inspect(conn).get_table_names():
                return None
            return conn.execute(text(f"SELECT version_num FROM {schema.VERSION_TABLE}")).scalar_one()
    finally:
        engine.dispose()


# -- a database of the collector's last release --------------------------------------------------


def release_rows() -> dict[Table, list[dict[str, Any]]]:
    """Three devices (one revoked) of two units, their codes, chained ratings of every level with reasons,
    events, a call-back, nonces and a conflict: what the released collector held after a few days."""
    rows: dict[Table, list[dict[str, Any]]] = {table: [] for table in old_schema.metadata.sorted_tables}
    for index, (device, unit, unit_name, counter, counter_name) in enumerate(PLACES):
        place = {"unit_id": unit, "unit_name": unit_name, "unit_timezone": "Asia/Shanghai",
                 "counter_id": counter, "counter_name": counter_name}
        enrolled = iso_utc(DAY - timedelta(days=3, hours=index))
        rows[old_schema.enroll_codes].append({"code": f"CODE{index}ABC", **place, "created_at": enrolled,
                                              "expires_at": iso_utc(DAY), "used_at": enrolled, "device_id": device})
        rows[old_schema.devices].append({
            "id": device, "secret": f"{index:064x}", **place, "app_version": "0.1.0", "enrolled_at": enrolled,
            "staff": [{"id": "E1", "name": "张三", "post": "综合窗口", "pin_hash": "pbkdf2$1$ab"}] if index < 2 else [],
            "revoked_at": iso_utc(DAY) if index == 2 else None, "last_seen": iso_utc(DAY) if index < 2 else None,
            "last_heartbeat": {"seq": 6, "verify_ok": True, "queue": {"pending": 0}} if index < 2 else None})
        _device_history(rows, device, unit, counter)
    rows[old_schema.enroll_codes].append({"code": "UNUSED234", "unit_id": "u-402", "unit_name": "东城区政务服务中心",
                                          "unit_timezone": "Asia/Shanghai", "counter_id": "c-10",
                                          "counter_name": "10号窗口", "created_at": iso_utc(DAY),
                                          "expires_at": iso_utc(DAY + timedelta(days=1)), "used_at": None,
                                          "device_id": None})
    rows[old_schema.nonces] += [{"device_id": device, "nonce": f"{device}-nonce-{n}", "seen_at": 1_795_000_000 + n}
                                for device, *_ in PLACES for n in range(3)]
    rows[old_schema.conflicts].append({"device_id": "dev-a", "rating_uuid": "dev-a-0003", "received_at": iso_utc(DAY),
                                       "sent": {"level": 1, "staff_id": None}, "held": {"level": 3, "staff_id": "E1"}})
    return rows


def _device_history(rows: dict[Table, list[dict[str, Any]]], device: str, unit: str, counter: str) -> None:
    last_hash = GENESIS_HASH
    for seq, level in enumerate((5, 4, 3, 2, 1, 5), start=1):
        recorded = DAY + timedelta(minutes=7 * seq)
        fields = {"uuid": f"{device}-{seq:04d}", "seq": seq, "device_id": device, "unit_id": unit,
                  "counter_id": counter, "staff_id": None if seq == 6 else "E1",
                  "case_no": f"SX2026-{seq:05d}" if seq % 2 else None, "level": level,
                  "channel": "button" if seq % 3 == 0 else "touch", "mode": "solicited" if seq < 4 else "open",
                  "recorded_at": iso_utc(recorded), "mono_ns": 10**12 + seq, "boot_id": f"boot-{device}",
                  "clock_suspect": seq == 4, "app_version": "0.1.0", "prev_hash": last_hash}
        fields["hash"] = last_hash = rating_hash(fields)
        corrected = iso_utc(recorded + timedelta(seconds=90)) if seq == 4 else None
        rows[old_schema.ratings].append({
            **fields, "received_at": iso_utc(recorded + timedelta(minutes=1)), "sent_at": iso_utc(recorded),
            "corrected_at": corrected, "counted_at": corrected or iso_utc(recorded), "clock_corrected": seq == 4,
            "conflict": device == "dev-a" and seq == 3})
        if level <= 2:
            rows[old_schema.reasons] += [
                {"device_id": device, "id": seq * 10 + n, "rating_uuid": fields["uuid"], "code": code,
                 "recorded_at": iso_utc(recorded), "received_at": iso_utc(recorded + timedelta(minutes=1))}
                for n, code in enumerate(("wait_long", "attitude")[: 3 - level])]
        if level == 1:
            rows[old_schema.callbacks].append({
                "device_id": device, "id": seq, "rating_uuid": fields["uuid"], "phone": "13800138000",
                "consent_version": "2026-01", "requested_at": iso_utc(recorded),
                "received_at": iso_utc(recorded + timedelta(minutes=1))})
    rows[old_schema.events] += [
        {"device_id": device, "id": n, "kind": kind, "recorded_at": iso_utc(DAY + timedelta(minutes=n)),
         "mono_ns": 10**12 + n, "boot_id": f"boot-{device}", "detail": detail, "received_at": iso_utc(DAY),
         "counted_at": iso_utc(DAY + timedelta(minutes=n))}
        for n, (kind, detail) in enumerate((("boot", {"version": "0.1.0"}), ("unrated", {"case_no": "SX-1"}),
                                            ("suppressed_press", {"key": 3, "why": "冷却中"})), start=1)]


def build_release_database(url: str) -> dict[Table, list[dict[str, Any]]]:
    """The collector's last release's database, as its `create_all` made it, filled; its every row, read back."""
    engine = engine_on(url)
    try:
        old_schema.metadata.create_all(engine)
        with engine.begin() as conn:
            for table, rows in release_rows().items():
                if rows:
                    conn.execute(table.insert(), rows)
        return read_rows(engine)
    finally:
        engine.dispose()


def read_rows(engine: Engine) -> dict[Table, list[dict[str, Any]]]:
    """Every row of every table of the release, its columns only, in primary-key (or full) order."""
    with engine.connect() as conn:
        return {table: [dict(row) for row in conn.execute(
                    select(table).order_by(*(table.primary_key.columns or table.columns))).mappings()]
                for table in old_schema.metadata.sorted_tables}


# -- the revisions ---------------------------------------------------------------------------------


def scripts() -> ScriptDirectory:
    return ScriptDirectory(str(schema.MIGRATIONS))


def test_schema_head_is_the_newest_revision_and_revisions_are_numbered_in_order() -> None:
    # A database at SCHEMA_HEAD opens without Alembic; the numbers tell a newer release's database from a foreign one.
    revisions = [script.revision for script in reversed(list(scripts().walk_revisions()))]
    assert revisions == [f"{n:04d}" for n in range(1, len(revisions) + 1)]
    assert scripts().get_current_head() == schema.SCHEMA_HEAD
    assert revisions[0] == schema.BASELINE
    assert set(old_schema.metadata.tables) == schema.BASELINE_TABLES


# -- the collector's release, migrated --------------------------------------------------------------


def test_the_collectors_database_migrates_without_losing_a_row(blank_url: str, tmp_path: Path) -> None:
    before = build_release_database(blank_url)
    assert all(before[table] for table in old_schema.metadata.sorted_tables)   # every table holds rows
    done = centre(tmp_path, "migrate", "--db", blank_url)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"database schema 0001 → {schema.SCHEMA_HEAD}\n"
    engine = create_engine(blank_url)
    try:
        after = read_rows(engine)
        for table in old_schema.metadata.sorted_tables:   # column by column, row by row, primary keys included
            assert after[table] == before[table], table.name
        with engine.connect() as conn:
            added = conn.execute(select(ratings_now).order_by(ratings_now.c.pk)).mappings().all()
            counted = rollups.stored(conn)
            summed = (rollups.stored(conn, rollup_days), rollups.stored(conn, rollup_months))
    finally:
        engine.dispose()
    assert counted and summed == rollups.coarse(counted)   # 0004's rollups, and 0008's day and month sums of them
    assert [row["pk"] for row in added] == [row["pk"] for row in before[old_schema.ratings]]
    for row in added:
        assert (row["delivered_by"], row["placed_unit_id"], row["placed_counter_id"]) == \
            (row["device_id"], row["unit_id"], row["counter_id"])
        assert row["before_enrollment"] is False and row["placement_differs"] is False
    assert differences(blank_url) == []
    assert recorded_version(blank_url) == schema.SCHEMA_HEAD


def test_the_migrated_data_is_the_centres_to_use(blank_url: str, tmp_path: Path) -> None:
    build_release_database(blank_url)
    assert centre(tmp_path, "migrate", "--db", blank_url).returncode == 0
    done = centre(tmp_path, "integrity", "--json", "--db", blank_url)
    report = {item["device_id"]: item for item in json.loads(done.stdout)["devices"]}
    assert {device: (item["ratings_held"], item["gaps"], item["chain_breaks"]) for device, item in report.items()} \
        == {"dev-a": (6, [], []), "dev-b": (6, [], []), "dev-c": (6, [], [])}
    summary = centre(tmp_path, "summary", "--unit", "u-301", "--date", "2026-11-25", "--json", "--db", blank_url)
    assert summary.returncode == 0, summary.stderr
    assert sum(json.loads(summary.stdout)["by_level"].values()) >= 10   # both counters' ratings count for the unit
    assert centre(tmp_path, "counter", "add", "--unit", "u-402", "--id", "c-11", "--name", "11号窗口",
                  "--db", blank_url).returncode == 0   # the migration registered u-402 with its counters c-9, c-10
    added = centre(tmp_path, "enroll-code", "--unit", "u-402", "--counter", "c-11", "--unit-name-en", "Dongcheng",
                   "--db", blank_url)
    assert added.returncode == 0, added.stderr


# -- new databases ------------------------------------------------------------------------------------


def test_migrate_creates_a_new_database_at_head_and_then_has_nothing_to_do(blank_url: str, tmp_path: Path) -> None:
    done = centre(tmp_path, "migrate", "--db", blank_url)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"database schema none (a new database) → {schema.SCHEMA_HEAD}\n"
    assert differences(blank_url) == []
    again = centre(tmp_path, "migrate", "--db", blank_url)
    assert (again.returncode, again.stdout) == (0, f"database schema is at {schema.SCHEMA_HEAD}: up to date\n")
    assert centre(tmp_path, "integrity", "--db", blank_url).stdout == "no devices enrolled\n"


def test_serve_runs_the_migrations_on_a_new_database(blank_url: str) -> None:
    open_engine(blank_url).dispose()     # what `serve` does before it listens
    assert recorded_version(blank_url) == schema.SCHEMA_HEAD
    assert differences(blank_url) == []
    open_engine(blank_url, create=False).dispose()


def test_two_first_starts_at_once_take_turns(blank_url: str, tmp_path: Path) -> None:
    runs = [subprocess.Popen([sys.executable, "-m", "evaluator.cli", "centre", "migrate", "--db", blank_url],
                             cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(3)]
    outputs = [run.communicate(timeout=60) for run in runs]
    assert [run.returncode for run in runs] == [0, 0, 0], outputs
    assert sorted(out for out, _ in outputs)[-1].startswith("database schema none (a new database) →")
    assert differences(blank_url) == []


# -- databases the code cannot use as they are --------------------------------------------------------


def serve(folder: Path, url: str) -> subprocess.CompletedProcess[str]:
    return centre(folder, "serve", "--db", url, "--port", str(free_port()))


def test_serve_refuses_a_database_behind_the_code_and_says_what_to_run(blank_url: str, tmp_path: Path) -> None:
    before = build_release_database(blank_url)
    done = serve(tmp_path, blank_url)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(f"error: {BEHIND}") and "Uvicorn running" not in done.stderr
    engine = create_engine(blank_url)
    try:
        assert read_rows(engine) == before
    finally:
        engine.dispose()
    assert recorded_version(blank_url) is None and "api_tokens" not in inspect_tables(blank_url)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_refuses_a_database_behind_the_code(tmp_path: Path, command: str) -> None:
    url = f"sqlite:///{tmp_path / 'release.db'}"
    build_release_database(url)
    roster = tmp_path / "staff.yaml"
    roster.write_text("- {id: s-1, name: 张三}\n", encoding="utf-8")
    args = [str(roster) if arg == "ROSTER" else arg for arg in COMMANDS[command]]
    done = centre(tmp_path, *args, "--db", url)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr == f"error: {BEHIND}{url}`\n" and done.stdout == ""
    assert recorded_version(url) is None


def test_a_database_of_a_newer_release_is_refused_by_every_command(blank_url: str, tmp_path: Path) -> None:
    assert centre(tmp_path, "migrate", "--db", blank_url).returncode == 0
    newer = f"{int(schema.SCHEMA_HEAD) + 1:04d}"
    engine = create_engine(blank_url)
    with engine.begin() as conn:
        conn.execute(text(f"UPDATE {schema.VERSION_TABLE} SET version_num = :newer"), {"newer": newer})
    engine.dispose()
    for args in (["migrate"], ["integrity"], ["token", "list"], ["serve", "--port", str(free_port())]):
        done = centre(tmp_path, *args, "--db", blank_url)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert done.stderr.startswith(f"error: database schema is at {newer}, newer than this release's "
                                      f"{schema.SCHEMA_HEAD}: a newer release of the centre wrote it"), args
    assert recorded_version(blank_url) == newer


def test_a_database_that_cannot_be_upgraded_is_left_as_it_was(blank_url: str, tmp_path: Path) -> None:
    """A database an unreleased build made with today's tables and no version: its 0002 cannot add the
    columns it already has, and the failure rolls the whole upgrade back."""
    engine = engine_on(blank_url)
    try:
        metadata.create_all(engine)
        tables = inspect_tables(blank_url)
        done = centre(tmp_path, "migrate", "--db", blank_url)
        assert done.returncode == 2, done.stdout + done.stderr
        assert f"from schema 0001 to {schema.SCHEMA_HEAD} (nothing was changed)" in done.stderr
        assert "Traceback" not in done.stderr
        assert inspect_tables(blank_url) == tables and recorded_version(blank_url) is None
    finally:
        engine.dispose()


def inspect_tables(url: str) -> dict[str, list[str]]:
    engine = create_engine(url)
    try:
        found = inspect(engine)
        return {name: [column["name"] for column in found.get_columns(name)] for name in found.get_table_names()}
    finally:
        engine.dispose()
