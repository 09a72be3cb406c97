"""API tokens on the read routes (issue 15, items 6 and 7), against a real centre on SQLite and PostgreSQL.

No open doors: `/v1/reports/summary` and `/v1/integrity` answer only a live API token, and only within
its scope. Tokens are issued, listed and revoked by `python -m evaluator.cli centre token …`, and the
centre keeps only their hashes.
"""
from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
from sqlalchemy import inspect, select, text
from sqlalchemy.engine import make_url

from centre import tokens
from centre.db.tables import api_tokens, metadata
from centre.enroll import DEFAULT_TIMEZONE
from tests.centre.conftest import REPO, TIMEOUT, Collector, Device

READ_ROUTES = ("/v1/reports/summary", "/v1/integrity", "/v1/indicators", "/v1/units")


def centre(collector: Collector, *args: str) -> subprocess.CompletedProcess[str]:
    """The office's command line, as an office runs it."""
    return subprocess.run([sys.executable, "-m", "evaluator.cli", "centre", *args, "--db", collector.db_url],
                          cwd=REPO, capture_output=True, text=True, timeout=60)


def today() -> str:
    return datetime.now(UTC).astimezone(ZoneInfo(DEFAULT_TIMEZONE)).date().isoformat()


def read(collector: Collector, path: str, headers: dict[str, str] | None = None, **params: str) -> requests.Response:
    return requests.get(collector.url + path, params=params, headers=headers or {}, timeout=TIMEOUT)


def summary(collector: Collector, unit: str, headers: dict[str, str] | None = None) -> requests.Response:
    return read(collector, "/v1/reports/summary", headers, unit=unit, date=today())


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def rated(device: Device, count: int = 2) -> Device:
    assert device.ingest(device.batch([device.rating() for _ in range(count)])).status_code == 200
    return device


def test_a_read_without_a_token_is_refused_with_the_bearer_challenge(enroll_device: Any, collector: Collector) -> None:
    unit = rated(enroll_device()).unit_id
    for path in READ_ROUTES:
        params = {"unit": unit, "date": today()} if "summary" in path else {}
        for headers in ({}, {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer"}):
            answer = read(collector, path, headers, **params)
            assert answer.status_code == 401, (path, headers, answer.text)
            assert answer.headers["WWW-Authenticate"] == "Bearer"
            assert answer.json() == {"detail": "an API token is required: Authorization: Bearer <token>"}
        answer = read(collector, path, bearer("evc_" + "x" * 43), **params)
        assert answer.status_code == 401 and answer.json() == {"detail": "unknown API token"}
        assert answer.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    # Refused before the query is even read: an anonymous caller learns nothing, not even what is valid.
    assert read(collector, "/v1/reports/summary", unit="x" * 500).status_code == 401


def test_a_revoked_token_is_refused(enroll_device: Any, collector: Collector) -> None:
    unit = rated(enroll_device()).unit_id
    issued = tokens.issue(collector.engine, "data-platform")
    assert summary(collector, unit, bearer(issued.token)).status_code == 200
    info, changed = tokens.revoke(collector.engine, "data-platform")
    assert changed and info.revoked_at
    for answer in (summary(collector, unit, bearer(issued.token)),
                   read(collector, "/v1/integrity", bearer(issued.token))):
        assert answer.status_code == 401 and answer.json() == {"detail": "API token revoked"}
        assert answer.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert tokens.revoke(collector.engine, info.id) == (info, False)


def test_a_unit_token_reads_its_units_only(enroll_device: Any, collector: Collector) -> None:
    mine, also_mine, other = rated(enroll_device()), rated(enroll_device()), rated(enroll_device())
    headers = collector.bearer(mine.unit_id, also_mine.unit_id)
    for device in (mine, also_mine):
        answer = summary(collector, device.unit_id, headers)
        assert answer.status_code == 200 and answer.json()["total"] == 2
    for unit in (other.unit_id, "no-such-unit"):     # 403 either way: a token learns nothing outside its scope
        answer = summary(collector, unit, headers)
        assert answer.status_code == 403, answer.text
        assert answer.json()["detail"] == (f"this API token may read unit: {mine.unit_id}, {also_mine.unit_id}, "
                                           f"not unit {unit!r}")
    report = read(collector, "/v1/integrity", headers)
    assert report.status_code == 200
    assert {item["device_id"] for item in report.json()["devices"]} == {mine.device_id, also_mine.device_id}


def test_a_city_token_reads_every_unit(enroll_device: Any, collector: Collector) -> None:
    devices = [rated(enroll_device()), rated(enroll_device(), 3)]
    headers = collector.bearer()
    assert [summary(collector, device.unit_id, headers).json()["total"] for device in devices] == [2, 3]
    assert summary(collector, "no-such-unit", headers).status_code == 404
    report = read(collector, "/v1/integrity", headers).json()
    assert report["ok"] is True
    assert {item["device_id"] for item in report["devices"]} == {device.device_id for device in devices}


def test_a_use_is_recorded_as_last_used(enroll_device: Any, collector: Collector) -> None:
    issued = tokens.issue(collector.engine, "bi")
    assert tokens.list_tokens(collector.engine)[0].last_used_at is None
    before = datetime.now(UTC).isoformat(timespec="microseconds")
    assert read(collector, "/v1/integrity", bearer(issued.token)).status_code == 200
    used = tokens.list_tokens(collector.engine)[0].last_used_at
    assert used is not None and used >= before
    # Within a minute a use writes nothing: a read costs one SELECT, not a write beside the ingest.
    assert read(collector, "/v1/integrity", bearer(issued.token)).status_code == 200
    assert tokens.list_tokens(collector.engine)[0].last_used_at == used


def test_the_token_itself_is_nowhere_in_the_database(collector: Collector) -> None:
    collector.register("u-1", "c-1")       # a unit token names registered units
    issued = [tokens.issue(collector.engine, "city"), tokens.issue(collector.engine, "unit", ["u-1"])]
    assert read(collector, "/v1/integrity", bearer(issued[0].token)).status_code == 200   # a use writes too
    with collector.engine.connect() as conn:
        rows = conn.execute(select(api_tokens)).mappings().all()
        everything = [str(dict(row)) for table in metadata.sorted_tables
                      for row in conn.execute(select(table)).mappings()]
        assert set(inspect(conn).get_table_names()) >= {"api_tokens"}
    assert {row["token_hash"] for row in rows} == {tokens.hash_token(item.token) for item in issued}
    for item in issued:
        assert item.token.startswith("evc_") and len(item.token) == 4 + 43     # 32 random bytes, base64url
        secret = item.token.removeprefix("evc_")
        assert not any(secret in text_ for text_ in everything)
    if collector.engine.dialect.name == "sqlite":   # the file itself, and its write-ahead log
        with collector.engine.connect() as conn:
            conn.execute(text("PRAGMA wal_checkpoint(FULL)"))
        path = Path(make_url(collector.db_url).database or "")
        stored = b"".join(part.read_bytes() for part in (path, path.with_name(path.name + "-wal")) if part.exists())
        for item in issued:
            assert item.token.removeprefix("evc_").encode() not in stored


def test_the_openapi_document_declares_the_bearer_scheme_on_the_read_routes(collector: Collector) -> None:
    document = requests.get(collector.url + "/openapi.json", timeout=TIMEOUT).json()
    assert document["components"]["securitySchemes"]["ApiToken"]["type"] == "http"
    assert document["components"]["securitySchemes"]["ApiToken"]["scheme"] == "bearer"
    for path in READ_ROUTES:
        operation = document["paths"][path]["get"]
        assert operation["security"] == [{"ApiToken": []}], path
        assert "401" in operation["responses"], path
    assert "403" in document["paths"]["/v1/reports/summary"]["get"]["responses"]
    for path, methods in document["paths"].items():      # device routes are signed with device keys instead
        for method, operation in methods.items():
            if path not in READ_ROUTES:
                assert "security" not in operation, (method, path)


def test_the_cli_adds_lists_and_revokes_a_token(enroll_device: Any, collector: Collector) -> None:
    device = rated(enroll_device())
    added = centre(collector, "token", "add", "--name", "district-bi", "--unit", device.unit_id)
    assert added.returncode == 0, added.stderr
    token = added.stdout.strip()
    assert token.startswith("evc_") and "\n" not in token
    assert "shown this once" in added.stderr and token not in added.stderr
    assert summary(collector, device.unit_id, bearer(token)).status_code == 200

    again = centre(collector, "token", "add", "--name", "district-bi")
    assert again.returncode == 2 and "exists already" in again.stderr and again.stdout == ""
    city = centre(collector, "token", "add", "--name", "city-platform")
    assert city.returncode == 0, city.stderr

    listed = centre(collector, "token", "list")
    assert listed.returncode == 0 and token not in listed.stdout and city.stdout.strip() not in listed.stdout
    lines = listed.stdout.splitlines()
    assert len(lines) == 2
    assert "district-bi" in lines[0] and f"[unit: {device.unit_id}]" in lines[0] and "revoked —" in lines[0]
    assert "last used —" not in lines[0] and "city-platform" in lines[1] and "[city]" in lines[1]
    assert "last used —" in lines[1]

    token_id = tokens.list_tokens(collector.engine)[1].id
    for name_or_id, said in (("district-bi", "revoked"), (token_id, "revoked"), ("district-bi", "was already revoked")):
        done = centre(collector, "token", "revoke", name_or_id)
        assert done.returncode == 0 and done.stdout.strip().endswith(said), done.stdout + done.stderr
    assert summary(collector, device.unit_id, bearer(token)).status_code == 401
    assert read(collector, "/v1/integrity", bearer(city.stdout.strip())).status_code == 401

    missing = centre(collector, "token", "revoke", "nobody")
    assert missing.returncode == 2 and missing.stderr == "error: no token named or numbered 'nobody'\n"
    as_json = centre(collector, "token", "list", "--json")
    listed_json = json.loads(as_json.stdout)
    assert [(item["name"], item["scope"], item["revoked_at"] is not None) for item in listed_json] == [
        ("district-bi", {"kind": "unit", "ids": [device.unit_id]}, True),
        ("city-platform", {"kind": "city", "ids": []}, True)]
    assert token not in as_json.stdout


@pytest.mark.parametrize("name", ["", "   ", "x" * 101, "tab\there"])
def test_a_bad_token_name_is_refused(collector: Collector, name: str) -> None:
    done = centre(collector, "token", "add", "--name", name)
    assert done.returncode == 2 and done.stderr.startswith("error: token name must be"), done.stderr
    assert tokens.list_tokens(collector.engine) == []
