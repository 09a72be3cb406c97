"""A real collector process on 127.0.0.1, on SQLite and on PostgreSQL, and a signing device to talk to it.

Every test runs once per backend. PostgreSQL needs EVALUATOR_TEST_PG_URL (`make test` sets it from
deploy/postgres.sh); without it those tests skip. Each backend gets one collector process per session
and every test starts from empty tables.
"""
from __future__ import annotations

import gzip
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid as uuid_mod
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from centre import enroll, tokens
from centre.db.engine import open_engine
from centre.db.tables import counters, metadata, ratings, units
from centre.registry import queries
from centre.registry.model import CounterSpec, UnitSpec
from contract import GENESIS_HASH, canonical_json, iso_utc, rating_hash, sign

REPO = Path(__file__).resolve().parents[2]   # the checkout: the servers run from it
START_TIMEOUT_S = 20
STOP_TIMEOUT_S = 20
TIMEOUT = (5, 30)
PG_URL_ENV = "EVALUATOR_TEST_PG_URL"
BACKENDS = ("sqlite", "postgresql")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Collector:
    url: str
    db_url: str
    engine: Engine
    process: subprocess.Popen[str]
    log: list[str] = field(default_factory=list)
    pids: set[int] = field(default_factory=set)      # its serving processes' (`start_centre`): the workers'

    def code(self, unit: str = "unit-1", counter: str = "counter-1", **kwargs: Any) -> str:
        """A code for the unit and counter, registered first (with the names and zone given, if any)."""
        names = {key: kwargs.pop(key) for key in REGISTRY_KWARGS if key in kwargs}
        register(self.engine, unit, counter, **names)
        return enroll.create_code(self.engine, unit, counter, **kwargs)

    def register(self, unit: str, counter: str, **names: str) -> None:
        register(self.engine, unit, counter, **names)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "centre.cli", *args, "--db", self.db_url],
                              cwd=REPO, capture_output=True, text=True, timeout=60)

    def bearer(self, *units: str) -> dict[str, str]:
        """The header of a fresh API token for the read routes: the city's, or only `units`' (centre/tokens.py)."""
        issued = tokens.issue(self.engine, "test-" + uuid_mod.uuid4().hex[:12], list(units))
        return {"Authorization": f"Bearer {issued.token}"}

    def ratings_held(self, device_id: str) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(ratings)
                                .where(ratings.c.device_id == device_id)).scalar_one()


REGISTRY_KWARGS = ("unit_name", "unit_name_en", "counter_name", "counter_name_en", "timezone_name")


def register(engine: Engine, unit: str, counter: str, *, unit_name: str | None = None,
             unit_name_en: str | None = None, counter_name: str | None = None, counter_name_en: str | None = None,
             timezone_name: str | None = None) -> None:
    """Register a unit and counter (an enrollment code names registered ones); names not given stay as held
    (a new one is named by its id)."""
    with engine.begin() as conn:
        held = conn.execute(select(units).where(units.c.id == unit)).mappings().first()
        had = conn.execute(select(counters).where(counters.c.unit_id == unit, counters.c.id == counter)
                           ).mappings().first()
        spec = UnitSpec(id=unit, name=unit_name or (held["name"] if held else unit),
                        name_en=unit_name_en or (held["name_en"] if held else None), district="测试区",
                        district_en=None, sector="education",
                        timezone=timezone_name or (held["timezone"] if held else "Asia/Shanghai"),
                        opening_hours=held["opening_hours"] if held else "")
        place = CounterSpec(unit_id=unit, id=counter, name=counter_name or (had["name"] if had else counter),
                            name_en=counter_name_en or (had["name_en"] if had else None))
        queries.save(conn, [spec], [place])


# -- a centre process: `centre serve` on a free port ---------------------------------------------------------

RUNNING = "Uvicorn running on"                       # the listening socket is bound (by the parent, with workers)
APP_STARTED = "Application startup complete"         # once per worker
WORKER_STARTED = re.compile(r"Started server process \[(\d+)\]")
PORT_TAKEN = "address already in use"
PORT_ATTEMPTS = 3


@contextmanager
def start_centre(db_url: str, *options: str, workers: int = 1, env: Mapping[str, str] | None = None,
                 on_line: Callable[[str], None] | None = None, strict: bool = False) -> Iterator[Collector]:
    """`centre serve` on `db_url` with `options` and `workers`, yielded once it listens, each worker has said
    its application started and /healthz answers; stopped afterwards (the parent stops its workers; if it has
    not within STOP_TIMEOUT_S, it and the workers it started are killed, by their pids).

    Its stderr is read to the end all along, so the pipe never fills and blocks the server: every line goes to
    `collector.log`, and to `on_line` as it comes. `strict`: the test fails if the log holds a traceback or a
    500 answer. The port is a free one the OS picked (bound to port 0, then given to the server, which the
    CLI needs as a number); taken in between by a test running beside this one (pytest-xdist), the start is
    tried again on another.
    """
    engine = open_engine(db_url)        # the schema made here, once, before any worker looks at it
    try:
        collector = _launch(db_url, engine, options, workers, env, on_line)
        try:
            yield collector
        finally:
            _stop(collector)
    finally:
        engine.dispose()
    if strict:
        errors = [line for line in collector.log if "Traceback" in line or '" 500' in line]
        assert not errors, "".join(collector.log)


def _launch(db_url: str, engine: Engine, options: tuple[str, ...], workers: int, env: Mapping[str, str] | None,
            on_line: Callable[[str], None] | None) -> Collector:
    for _ in range(PORT_ATTEMPTS):
        collector = _spawn(db_url, engine, options, workers, env, on_line)
        if collector.process.poll() is None and _started(collector.log, workers):
            answer = requests.get(collector.url + "/healthz", timeout=TIMEOUT)
            assert answer.status_code == 200, answer.text
            return collector
        _stop(collector)
        if not any(PORT_TAKEN in line.lower() for line in collector.log):
            break
    raise AssertionError("centre did not start:\n" + "".join(collector.log))


def _spawn(db_url: str, engine: Engine, options: tuple[str, ...], workers: int, env: Mapping[str, str] | None,
           on_line: Callable[[str], None] | None) -> Collector:
    """The server started on a free port, once it has started or ended (or START_TIMEOUT_S passed)."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "centre.cli", "serve", "--db", db_url, "--host", "127.0.0.1", "--port", str(port),
         "--workers", str(workers), *options],
        cwd=REPO, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env={**os.environ, **(env or {})})
    collector = Collector(url=f"http://127.0.0.1:{port}", db_url=db_url, engine=engine, process=process)
    lines = threading.Condition()
    threading.Thread(target=_drain, args=(collector, lines, on_line), daemon=True).start()
    with lines:
        lines.wait_for(lambda: process.poll() is not None or _started(collector.log, workers), START_TIMEOUT_S)
    return collector


def _drain(collector: Collector, lines: threading.Condition, on_line: Callable[[str], None] | None) -> None:
    assert collector.process.stderr is not None
    for line in collector.process.stderr:
        with lines:
            collector.log.append(line)
            if found := WORKER_STARTED.search(line):
                collector.pids.add(int(found[1]))
            lines.notify_all()
        if on_line is not None:
            on_line(line)
    collector.process.wait()            # ended: wake the start-up wait at once, not at its timeout
    with lines:
        lines.notify_all()


def _started(log: list[str], workers: int) -> bool:
    return any(RUNNING in line for line in log) and sum(APP_STARTED in line for line in log) >= workers


def _stop(collector: Collector) -> None:
    process = collector.process
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        for pid in collector.pids - {process.pid}:     # the workers this server started, by their id
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        process.wait(timeout=STOP_TIMEOUT_S)


@contextmanager
def scratch_pg_database(url: str) -> Iterator[str]:
    """A database of this session's own on the server of `url`, dropped afterwards.

    Two runs sharing one server (two engineers, CI jobs) then never see, or wipe, each other's rows.
    """
    base = make_url(url)
    name = f"evaluator_test_{os.getpid()}_{uuid_mod.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    problem = None
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except DBAPIError as exc:   # unreachable server, bad password, no CREATEDB
        problem = str(exc.orig).strip()
    if problem:
        admin.dispose()
        pytest.fail(f"{PG_URL_ENV}={base!r} is set but unusable (the role needs CREATEDB): {problem}",
                    pytrace=False)
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        _drop(admin, name)
        admin.dispose()


def _drop(admin: Engine, name: str) -> None:
    """DROP … WITH (FORCE) ends the database's sessions, but an autovacuum worker busy in it (after a test that
    wrote much) belongs to the superuser, whom the test role may not signal: wait for it, then drop again."""
    for attempt in range(30):
        try:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            return
        except DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", None) != "42501" or attempt == 29:   # insufficient_privilege
                raise
            time.sleep(1)


def pg_url_or_skip(why: str = "no PostgreSQL server to test against") -> str:
    """The test server's URL ($EVALUATOR_TEST_PG_URL: `make test` starts one with deploy/postgres.sh); without
    one the test is skipped, saying `why` it needs it."""
    url = os.environ.get(PG_URL_ENV)
    if not url:
        pytest.skip(f"{PG_URL_ENV} is not set: {why}")
    return url


@pytest.fixture(scope="module")
def pg_engine() -> Iterator[Engine]:
    """An engine on a PostgreSQL database of the module's own, at the code's schema (skips without a server)."""
    url = pg_url_or_skip()
    with scratch_pg_database(url) as scratch:
        engine = open_engine(scratch)
        yield engine
        engine.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('collector') / 'collector.db'}"
        return
    with scratch_pg_database(pg_url_or_skip()) as url:
        yield url


@pytest.fixture(scope="session")
def collector_process(db_url: str) -> Iterator[Collector]:
    """One server per backend and session: starting it costs about a second, emptying it milliseconds."""
    with start_centre(db_url) as collector:
        yield collector


@pytest.fixture
def collector(collector_process: Collector) -> Collector:
    """The session's collector with every table emptied, so no test sees another's rows."""
    with collector_process.engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):   # children before the parents they refer to
            conn.execute(table.delete())
    return collector_process


@dataclass
class Device:
    """A terminal's side of the protocol, built only from contract."""

    collector: Collector
    device_id: str
    secret: str
    config: dict[str, Any]
    unit_id: str
    counter_id: str
    seq: int = 0
    last_hash: str = GENESIS_HASH

    def request(self, method: str, path: str, payload: Any = None, *, gzipped: bool = False,
                body: bytes | None = None, now: datetime | None = None, nonce: str | None = None,
                headers: dict[str, str] | None = None, signer: str | None = None) -> requests.Response:
        if body is None:
            body = b"" if payload is None else canonical_json(payload)
            if gzipped:
                body = gzip.compress(body)
        signed = sign(self.secret, method, path, signer or self.device_id, body, now=now, nonce=nonce)
        extra = {"Content-Type": "application/json"} if body else {}
        if gzipped:
            extra["Content-Encoding"] = "gzip"
        return requests.request(method, self.collector.url + path, data=body, timeout=TIMEOUT,
                                headers={**signed, **extra, **(headers or {})})

    def rating(self, level: int = 5, *, recorded_at: datetime | None = None, staff_id: str | None = "s-1",
               clock_suspect: bool = False, **override: Any) -> dict[str, Any]:
        """The next rating of this device's chain, hashed like the terminal's store does."""
        self.seq += 1
        fields = {
            "uuid": str(uuid_mod.uuid4()), "seq": self.seq, "device_id": self.device_id,
            "unit_id": self.unit_id, "counter_id": self.counter_id, "staff_id": staff_id, "case_no": None,
            "level": level, "channel": "touch", "mode": "open",
            "recorded_at": iso_utc(recorded_at or datetime.now(UTC)),
            "mono_ns": 1_000_000 * self.seq, "boot_id": "boot-1", "clock_suspect": clock_suspect,
            "app_version": "0.1.0", "prev_hash": self.last_hash, **override}
        fields["hash"] = rating_hash(fields)
        self.last_hash = fields["hash"]
        return fields

    def batch(self, ratings_: list[dict[str, Any]], *, sent_at: datetime | None = None,
              reasons: list[dict[str, Any]] | None = None, events: list[dict[str, Any]] | None = None,
              device_id: str | None = None) -> dict[str, Any]:
        return {"protocol": 1, "device_id": device_id or self.device_id,
                "sent_at": iso_utc(sent_at or datetime.now(UTC)),
                "ratings": ratings_, "reasons": reasons or [], "events": events or []}

    def ingest(self, batch: dict[str, Any], **kwargs: Any) -> requests.Response:
        return self.request("POST", "/v1/ingest", batch, **kwargs)


@pytest.fixture
def enroll_device(collector: Collector) -> Callable[..., Device]:
    """Enroll a fresh device (its own unit unless told) through the real endpoint."""

    def make(unit: str | None = None, counter: str = "counter-1", **kwargs: Any) -> Device:
        unit = unit or "unit-" + uuid_mod.uuid4().hex[:8]
        code = collector.code(unit, counter, **kwargs)
        answer = requests.post(collector.url + "/v1/enroll", json={"code": code, "app_version": "0.1.0"},
                               timeout=TIMEOUT)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        return Device(collector, body["device_id"], body["secret"], body["config"], unit, counter)

    return make


def ago(**kwargs: float) -> datetime:
    return datetime.now(UTC) - timedelta(**kwargs)


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


# The tables each revision adds (centre/db/migrations/versions), for tests that take a database back to an
# earlier revision to migrate it again: a new migration's tables go here too.
TABLES_ADDED = {
    "0004": ("rollups",),
    "0005": ("staff",),
    "0006": ("device_chains",),
    "0007": ("console_users", "console_sessions", "audit_log", "model_rounds", "model_applications",
             "model_checks", "model_titles"),
    "0008": ("rollup_days", "rollup_months"),
    "0009": ("cases", "case_events", "case_files", "rating_exclusions", "calendar_days", "unit_duty",
             "alert_deliveries"),
    "0011": ("centre_keys", "web_ratings", "complaints", "citizen_contacts", "receipt_misses", "public_digests",
             "public_limits"),
    "0012": ("integrity_flags", "integrity_reviews"),
    "0013": ("province_records", "province_pushes", "province_progress", "housekeeping_marks"),
}
# A revision's columns added to tables it found: dropped by `rewind` too.
COLUMNS_ADDED = {
    "0013": (("ratings", "item_code"), ("units", "credit_code"), ("units", "region_code")),
}


def rewind(conn: Any, revision: str) -> None:
    """Make a database at the code's head look as `revision` left it: the later revisions' tables dropped
    (dependents first), the version set back. The rows of the tables it keeps stay as they are."""
    later = {name for added, names in TABLES_ADDED.items() if added > revision for name in names}
    for table in reversed(metadata.sorted_tables):
        if table.name in later:
            conn.execute(text(f"DROP TABLE {table.name}"))
    for added, columns in COLUMNS_ADDED.items():
        for table_name, column in columns if added > revision else ():
            conn.execute(text(f"ALTER TABLE {table_name} DROP COLUMN {column}"))
    conn.execute(text(f"UPDATE alembic_version SET version_num = '{revision}'"))
