"""The staff roster per unit (centre/registry/staff.py): set from a file through the real CLI, members leaving and
coming back (nothing deleted), listed without PIN hashes or photos, sent to every terminal of the unit in its
config, named for reports; and migration 0005 carrying the rosters devices held into the staff table.

A real centre process, the real CLI (`python -m centre.cli`) and real terminals, on SQLite and PostgreSQL.
"""
from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import create_engine, select

from centre.db import schema
from centre.db.engine import open_engine
from centre.db.tables import counters, devices, staff, units
from centre.registry import staff as staff_registry
from contract import SECRET_HASH_PATTERN, check_secret
from kiosk.config import load
from sync.provision import provision
from tests.centre.conftest import BACKENDS, pg_url_or_skip, rewind, scratch_pg_database
from tests.centre.test_migrations import centre
from tests.images import write_png
from tests.sync.test_worker import run_worker_until

UNIT = "dc-hrss"


def roster_file(folder: Path, members: list[dict[str, Any]], name: str = "staff.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(members, allow_unicode=True), encoding="utf-8")
    return path


def set_staff(collector, path: Path, unit: str = UNIT, command: tuple[str, ...] = ("staff", "set")) -> list[str]:
    done = collector.cli(*command, "--unit", unit, "--file", str(path))
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def listed(collector, unit: str = UNIT) -> dict[str, dict[str, Any]]:
    done = collector.cli("staff", "list", "--unit", unit, "--json")
    assert done.returncode == 0, done.stderr
    return {member["id"]: member for member in json.loads(done.stdout)}


def config_staff(device) -> list[dict[str, Any]]:
    answer = device.request("GET", "/v1/config")
    assert answer.status_code == 200, answer.text
    return answer.json()["staff"]


def test_a_roster_reaches_every_terminal_of_the_unit_and_no_other(collector, enroll_device, tmp_path):
    first, second = enroll_device(unit=UNIT, counter="c-1"), enroll_device(unit=UNIT, counter="c-2")
    elsewhere = enroll_device(unit="xc-ga", counter="c-1")
    photo = write_png(tmp_path / "e2.png", 12, 16).read_bytes()
    path = roster_file(tmp_path, [{"id": "E2", "name": "王芳", "post": "综合窗口", "pin": "0246", "photo": "e2.png"},
                                  {"id": "E1", "name": "李明", "name_en": "Li Ming"}])
    lines = set_staff(collector, path)
    assert lines == [f"added staff {UNIT}/E2 (王芳)", f"added staff {UNIT}/E1 (李明)",
                     f"unit {UNIT}: 2 member(s) on the roster; 2 change(s), 2 device(s) take it at their next "
                     "config pull"]
    for device in (first, second):   # by 工号, the same at every counter of the unit
        sent = config_staff(device)
        assert [member["id"] for member in sent] == ["E1", "E2"]
        assert sent[0] == {"id": "E1", "name": "李明", "name_en": "Li Ming", "post": ""}
        assert sent[1]["photo"] == base64.b64encode(photo).decode() and "pin" not in sent[1]
        assert re.match(SECRET_HASH_PATTERN, sent[1]["pin_hash"]) and check_secret("0246", sent[1]["pin_hash"])
    assert config_staff(elsewhere) == []


def test_members_leave_and_come_back_and_the_same_file_changes_nothing(collector, enroll_device, tmp_path):
    device = enroll_device(unit=UNIT)
    both = [{"id": "E1", "name": "李明", "pin": 2468}, {"id": "E2", "name": "王芳"}]
    set_staff(collector, roster_file(tmp_path, both))
    etag = device.request("GET", "/v1/config").headers["ETag"]
    again = set_staff(collector, roster_file(tmp_path, both), command=("roster",))   # the earlier name
    assert again == [f"unit {UNIT}: 2 member(s) on the roster; no change"]           # the PIN hashed once only
    assert device.request("GET", "/v1/config", headers={"If-None-Match": etag}).status_code == 304

    assert set_staff(collector, roster_file(tmp_path, both[:1]))[:1] == [f"left staff {UNIT}/E2 (王芳)"]
    assert [member["id"] for member in config_staff(device)] == ["E1"]
    left = listed(collector)
    assert left["E2"]["left_at"] and left["E1"]["left_at"] is None and left["E1"]["pin_set"]
    with collector.engine.connect() as conn:   # a report of past days still names who left
        assert staff_registry.names(conn, UNIT) == {"E1": "李明", "E2": "王芳"}

    back = [{"id": "E1", "name": "李明", "pin": "1357"}, {"id": "E2", "name": "王芳芳", "post": "咨询"}]
    assert set_staff(collector, roster_file(tmp_path, back))[:2] == [
        f"updated staff {UNIT}/E1: PIN changed",
        f"returned staff {UNIT}/E2 (王芳芳): name '王芳' → '王芳芳', post '' → '咨询'"]
    assert [(member["id"], member["name"]) for member in config_staff(device)] == [("E1", "李明"), ("E2", "王芳芳")]
    returned = listed(collector)["E2"]
    assert returned["left_at"] is None and returned["added_at"] == left["E2"]["added_at"]   # the same member


def test_the_list_shows_whether_a_pin_and_photo_are_set_never_either(collector, tmp_path):
    collector.register(UNIT, "c-1")
    write_png(tmp_path / "e1.png", 20, 20)
    set_staff(collector, roster_file(tmp_path, [{"id": "E1", "name": "李明", "pin": "2468", "photo": "e1.png",
                                                 "post": "综合窗口", "post_en": "General"},
                                                {"id": "E2", "name": "王芳"}]))
    done = collector.cli("staff", "list", "--unit", UNIT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["E1  李明  [综合窗口 / General]  PIN set  photo  on the roster",
                                        "E2  王芳  [no post]  no PIN  no photo  on the roster"]
    as_json = collector.cli("staff", "list", "--unit", UNIT, "--json").stdout
    with collector.engine.connect() as conn:
        held = conn.execute(select(staff.c.pin_hash, staff.c.photo).where(staff.c.id == "E1")).one()
    for secret in (held.pin_hash, held.pin_hash.split("$")[-1], held.photo[:40], "scrypt"):
        assert secret not in done.stdout and secret not in as_json
    assert json.loads(as_json)[0]["pin_set"] is True and json.loads(as_json)[0]["photo"] is True


def test_an_unknown_unit_is_named_and_nothing_is_stored(collector, tmp_path):
    collector.register(UNIT, "c-1")
    path = roster_file(tmp_path, [{"id": "E1", "name": "李明"}])
    for command in (("staff", "set", "--file", str(path)), ("roster", "--file", str(path)), ("staff", "list")):
        done = collector.cli(*command, "--unit", "nowhere")
        assert done.returncode == 2 and done.stdout == "", command
        assert "error: unknown unit 'nowhere': register it first" in done.stderr, done.stderr
    with collector.engine.connect() as conn:
        assert conn.execute(select(staff)).all() == []


def test_a_bad_file_names_every_bad_entry_and_changes_nothing(collector, tmp_path):
    collector.register(UNIT, "c-1")
    set_staff(collector, roster_file(tmp_path, [{"id": "E1", "name": "李明"}]))
    bad = roster_file(tmp_path, [{"id": "E1", "name": "李明明"}, {"id": "E2", "name": "王芳", "pin": "12"},
                                 {"id": "E3"}, {"id": "E1", "name": "又一个"},
                                 {"id": "E4", "name": "张伟", "photo": "no.png"}], "bad.yaml")
    done = collector.cli("staff", "set", "--unit", UNIT, "--file", str(bad))
    assert done.returncode == 2 and done.stdout == ""
    assert f"{bad}: 4 problem(s), the roster is unchanged" in done.stderr
    for words in ("entry 2: staff 'E2': pin must be 4–16 digits", "entry 3: staff 'E3': name: Field required",
                  "entry 4: staff 'E1' again (also entry 1)", "entry 5: staff 'E4': photo"):
        assert words in done.stderr, (words, done.stderr)
    assert {member: row["name"] for member, row in listed(collector).items()} == {"E1": "李明"}


def test_roster_for_one_counter_is_refused_with_the_reason(collector, tmp_path):
    collector.register(UNIT, "c-1")
    done = collector.cli("roster", "--unit", UNIT, "--counter", "c-1", "--file",
                         str(roster_file(tmp_path, [{"id": "E1", "name": "李明"}])))
    assert done.returncode == 2 and "--counter c-1: a roster is the unit's" in done.stderr
    assert listed(collector) == {}


def test_a_real_terminal_takes_the_roster_and_drops_a_member_who_left(collector, tmp_path):
    config = tmp_path / "terminal" / "config.yaml"
    config.parent.mkdir()
    config.write_text("sync: {batch_size: 500, connect_timeout_s: 0.5, read_timeout_s: 0.5, backoff_base_s: 0.01, "
                      "backoff_cap_s: 0.05, interval_s: 0.05, bad_review_poll_s: 0.05}\n", encoding="utf-8")
    provision(load(config), collector.url, collector.code(UNIT, "c-3"), config)
    settings = load(config)
    set_staff(collector, roster_file(tmp_path, [{"id": "E1", "name": "李明", "pin": "2468"},
                                                {"id": "E2", "name": "王芳"}]))
    run_worker_until(settings, config, lambda _w: [member.id for member in load(config).staff] == ["E1", "E2"])
    set_staff(collector, roster_file(tmp_path, [{"id": "E1", "name": "李明", "pin": "2468"}]))
    run_worker_until(settings, config, lambda _w: [member.id for member in load(config).staff] == ["E1"])
    assert "2468" not in (settings.sync.state_dir / "centre.yaml").read_text(encoding="utf-8")


# -- migration 0005: the rosters devices held become the units' -----------------------------------------------

T = "2026-03-0{}T08:00:00.000000+00:00"


@pytest.fixture(params=BACKENDS)
def blank_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'centre.db'}"
        return
    with scratch_pg_database(pg_url_or_skip()) as url:
        yield url


def device_row(device: str, unit: str, counter: str, enrolled: int, members: list[dict[str, Any]],
               revoked: int | None = None) -> dict[str, Any]:
    return {"id": device, "secret": "s" * 40, "unit_id": unit, "unit_name": unit, "unit_timezone": "Asia/Shanghai",
            "counter_id": counter, "counter_name": counter, "staff": members, "enrolled_at": T.format(enrolled),
            "revoked_at": None if revoked is None else T.format(revoked)}


def build_0004_database(url: str) -> None:
    """Devices holding rosters, as `evaluator centre roster` left them before 0005: the database at 0004."""
    zhang = {"id": "E1", "name": "张三", "post": "综合窗口", "pin_hash": "scrypt$16384$8$1$c2FsdA==$ZGlnZXN0"}
    engine = open_engine(url)
    with engine.begin() as conn:
        conn.execute(units.insert(), [{"id": unit, "name": unit, "timezone": "Asia/Shanghai", "opening_hours": ""}
                                      for unit in ("u-301", "u-402")])
        conn.execute(counters.insert(), [{"unit_id": unit, "id": counter, "name": counter}
                                         for unit, counter in (("u-301", "c-1"), ("u-301", "c-2"), ("u-402", "c-9"))])
        conn.execute(devices.insert(), [
            device_row("dev-a", "u-301", "c-1", 1, [zhang, {"id": "E2", "name": "李四", "photo": "iVBORw0KGgo="}]),
            device_row("dev-b", "u-301", "c-2", 2, [{**zhang, "name": "张三丰"}, {"id": "E3", "name": "王五"}]),
            device_row("dev-c", "u-301", "c-2", 3, [{**zhang, "name": "旧名"}, {"id": "E9", "name": "赵六"}],
                       revoked=4),
            device_row("dev-d", "u-402", "c-9", 1, [])])
        rewind(conn, "0004")
    engine.dispose()


def test_migration_0005_makes_the_rosters_devices_held_their_units(blank_url: str, tmp_path: Path) -> None:
    build_0004_database(blank_url)
    done = centre(tmp_path, "migrate", "--db", blank_url)
    assert done.returncode == 0 and done.stdout == f"database schema 0004 → {schema.SCHEMA_HEAD}\n", done.stderr
    engine = create_engine(blank_url)
    try:
        with engine.connect() as conn:
            rows = {(row["unit_id"], row["id"]): row for row in conn.execute(select(staff)).mappings()}
            sent = staff_registry.roster(conn, "u-301")
    finally:
        engine.dispose()
    assert set(rows) == {("u-301", "E1"), ("u-301", "E2"), ("u-301", "E3"), ("u-301", "E9")}
    # the live device enrolled last wins over the earlier one, and over a revoked one enrolled later still
    assert rows[("u-301", "E1")]["name"] == "张三丰" and rows[("u-301", "E1")]["pin_hash"].startswith("scrypt$")
    assert rows[("u-301", "E2")]["photo"] == "iVBORw0KGgo=" and rows[("u-301", "E2")]["post"] == ""
    assert rows[("u-301", "E9")]["left_at"] == T.format(4)      # only the revoked device had them: left
    assert all(row["left_at"] is None for key, row in rows.items() if key[1] != "E9")
    assert [member["id"] for member in sent] == ["E1", "E2", "E3"]   # both counters' rosters, united
    listing = centre(tmp_path, "staff", "list", "--unit", "u-301", "--db", blank_url)
    assert listing.returncode == 0 and "E9  赵六  [no post]  no PIN  no photo  left 2026-03-04" in listing.stdout
