"""The names a terminal shows, in both languages, travel with the enrollment code (until the registry has them)."""
from __future__ import annotations

import sqlite3

import requests
from sqlalchemy import inspect

from centre.db.engine import migrate, open_engine
from centre.db.schema import SCHEMA_HEAD
from tests.centre.conftest import TIMEOUT


def test_english_names_given_with_the_code_reach_the_terminal_and_its_config_pulls(collector):
    collector.register("u-en", "c-1")
    made = collector.cli("enroll-code", "--unit", "u-en", "--counter", "c-1", "--unit-name", "东城政务中心",
                         "--unit-name-en", "Dongcheng Service Centre", "--counter-name", "1号窗口",
                         "--counter-name-en", "Counter 1")
    assert made.returncode == 0, made.stderr
    answer = requests.post(collector.url + "/v1/enroll", json={"code": made.stdout.strip(), "app_version": "0"},
                           timeout=TIMEOUT)
    assert answer.status_code == 200, answer.text
    config = answer.json()["config"]
    assert config["unit"] == {"id": "u-en", "name": "东城政务中心", "name_en": "Dongcheng Service Centre",
                              "timezone": "Asia/Shanghai"}
    assert config["counter"] == {"id": "c-1", "name": "1号窗口", "name_en": "Counter 1"}


def test_names_a_terminal_cannot_show_are_refused_before_a_code_exists(collector):
    collector.register("u", "c")
    for args in (("--unit-name-en", "x" * 81), ("--counter-name", "窗" * 41), ("--unit-name", "  ")):
        done = collector.cli("enroll-code", "--unit", "u", "--counter", "c", *args)
        assert done.returncode == 2, (args, done.stderr)
        assert done.stderr.startswith("error: ") and "Traceback" not in done.stderr and not done.stdout


def test_a_centre_installed_before_english_names_gets_their_columns(tmp_path):
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:     # the two tables as the previous release made them
        conn.execute("CREATE TABLE enroll_codes (code VARCHAR(64) PRIMARY KEY, unit_id VARCHAR NOT NULL, "
                     "unit_name VARCHAR NOT NULL, unit_timezone VARCHAR NOT NULL, counter_id VARCHAR NOT NULL, "
                     "counter_name VARCHAR NOT NULL, created_at VARCHAR(32) NOT NULL, "
                     "expires_at VARCHAR(32) NOT NULL, used_at VARCHAR(32), device_id VARCHAR)")
        conn.execute("INSERT INTO enroll_codes VALUES ('OLDCODE234', 'u', 'U', 'Asia/Shanghai', 'c', 'C', "
                     "'2026-01-01T00:00:00.000000+00:00', '2099-01-01T00:00:00.000000+00:00', NULL, NULL)")
    conn.close()
    assert migrate(f"sqlite:///{path}") == ("0001", SCHEMA_HEAD)   # `evaluator centre migrate` (test_migrations.py)
    engine = open_engine(f"sqlite:///{path}")
    try:
        columns = {column["name"] for column in inspect(engine).get_columns("enroll_codes")}
        assert {"unit_name_en", "counter_name_en"} <= columns
        assert {"unit_name_en", "counter_name_en"} <= {c["name"] for c in inspect(engine).get_columns("devices")}
    finally:
        engine.dispose()
    engine = open_engine(f"sqlite:///{path}")          # opening again changes nothing
    engine.dispose()
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT code, unit_name_en FROM enroll_codes").fetchall() == [("OLDCODE234", None)]
    conn.close()
