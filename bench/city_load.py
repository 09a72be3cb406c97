"""Load the city year of bench/city_year.py into a centre database, once, and keep it between runs.

The database is the centre's own, made by its migrations (`centre.db.engine.migrate`). The registry goes in
as the registry keeps it (the shipped sectors by `centre.registry.sectors.ensure_shipped`); the ratings,
reasons and events by COPY on PostgreSQL (psycopg's `cursor.copy`), by executemany on SQLite, unit by unit,
each unit in its own transaction with its rollups: `centre.rollups.maintain`, the ingest's own per-batch
function, is called for each device with the rows just written, so the rollups are exactly those the
centre keeps; and `centre.chains.advance`, the ingest's chain check, with each device's new ratings, so
device_chains is what the integrity report reads after such an ingest (every chain whole). A marker table,
`bench_city`, holds the parameters the city was made from: a database whose marker differs (or lacks one:
an interrupted load) is dropped and loaded again.
"""
from __future__ import annotations

import collections
import json
import multiprocessing
import sys
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Connection, Engine, func, insert, select
from sqlalchemy.engine import make_url

from bench.city_year import (
    DISTRICTS,
    ENROLLED_AT,
    EVENT_COLUMNS,
    RATING_COLUMNS,
    REASON_COLUMNS,
    TIMEZONE,
    Params,
    Rows,
    Unit,
    city,
    unit_year,
)
from centre import chains, rollups
from centre.db.engine import migrate, open_engine
from centre.db.tables import counters, device_placements, devices, districts, staff, units
from centre.db.tables import rollups as rollup_table
from centre.provenance import Placement
from centre.registry import hours
from centre.registry.sectors import ensure_shipped

MARKER = "bench_city"
RECOUNT_UP_TO = 2_000_000           # a city this small has its rollups checked against rollups.recount
DELIVERED_BY = RATING_COLUMNS.index("delivered_by")
ROLLUP_COLUMNS = (*rollups.KEY_COLUMNS, "n")
CountOf = collections.Counter[Any]


def note(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- the cached database ----------------------------------------------------------------------


def _marker(engine_url: str) -> dict[str, Any] | None:
    """The marker row of the database at `engine_url` (None: no database, no marker, or an interrupted load)."""
    url = make_url(engine_url)
    try:
        if url.get_backend_name() == "sqlite":
            if not Path(url.database or "").is_file():
                return None
            import sqlite3
            with sqlite3.connect(f"file:{url.database}?mode=ro", uri=True) as conn:
                row = conn.execute(f"SELECT key, facts FROM {MARKER}").fetchone()
        else:
            with psycopg.connect(_libpq(engine_url), connect_timeout=5) as conn:
                row = conn.execute(f"SELECT key, facts FROM {MARKER}").fetchone()
    except Exception:       # no such database or table: not loaded
        return None
    return {"key": row[0], **json.loads(row[1])} if row else None


def _libpq(engine_url: str) -> str:
    return make_url(engine_url).set(drivername="postgresql").render_as_string(hide_password=False)


def _drop(engine_url: str) -> None:
    url = make_url(engine_url)
    if url.get_backend_name() == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{url.database}{suffix}").unlink(missing_ok=True)
        return
    admin = _libpq(engine_url.rsplit("/", 1)[0] + "/postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{url.database}"')


def cached_city(engine_url: str, params: Params, jobs: int, reload: bool = False) -> tuple[Engine, dict[str, Any]]:
    """An engine on the loaded city, loading it first when the cached one is missing or another city's."""
    found = _marker(engine_url)
    if found is not None and found["key"] == params.key() and not reload:
        note(f"reusing the city loaded on {found['loaded_at']} ({found['load_seconds']:.0f} s to load)")
        migrate(engine_url)                     # a newer schema: the centre's own migrations bring it up
        return open_engine(engine_url, create=False), found
    note(f"loading the city ({params.key()}) into {make_url(engine_url).render_as_string()}")
    _drop(engine_url)
    migrate(engine_url)
    engine = open_engine(engine_url, create=False)
    facts = load(engine, params, jobs)
    _save_marker(engine, params, facts)
    return engine, facts


def _save_marker(engine: Engine, params: Params, facts: dict[str, Any]) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE TABLE IF NOT EXISTS {MARKER} (key TEXT NOT NULL, facts TEXT NOT NULL)")
        conn.exec_driver_sql(f"DELETE FROM {MARKER}")
        conn.exec_driver_sql(f"INSERT INTO {MARKER} VALUES (?, ?)" if engine.dialect.name == "sqlite"
                             else f"INSERT INTO {MARKER} VALUES (%s, %s)", (params.key(), json.dumps(facts)))


# -- the load ---------------------------------------------------------------------------------


def load(engine: Engine, params: Params, jobs: int) -> dict[str, Any]:
    started = time.perf_counter()
    the_city = city(params)
    with engine.begin() as conn:
        registry(conn, the_city)
    progress = Progress(params.ratings)
    engine.dispose()        # no connection of this process's may be inherited by the workers it forks
    with multiprocessing.get_context("fork").Pool(max(1, jobs)) as pool:
        for unit, rows in zip(the_city, _generated(pool, params, the_city)):
            with engine.begin() as conn:
                load_unit(conn, unit, rows, progress)
            progress.step(len(rows.ratings), len(rows.reasons), len(rows.events))
    note(f"loaded in {time.perf_counter() - started:.0f} s; analysing")
    analyse(engine)
    with engine.connect() as conn:
        held = conn.execute(select(func.count()).select_from(rollup_table)).scalar()
        if params.ratings <= RECOUNT_UP_TO:
            note("checking the rollups against rollups.recount (the rebuild's truth)")
            if rollups.stored(conn) != rollups.recount(conn):
                raise AssertionError("the rollups written differ from rollups.recount")
    return {**progress.facts(), "rollup_rows": held, "loaded_at": time.strftime("%Y-%m-%d %H:%M"),
            "load_seconds": time.perf_counter() - started}


def load_unit(conn: Connection, unit: Unit, rows: Rows, progress: Progress) -> None:
    """One unit's year as the ingest would leave it: each device's first rating as its first batch (its
    chain counted from its raw rows), then the rest as one more (checked against the stored tail), with
    the reasons and events; the rollups of all of it, counted by rollups.maintain."""
    began = time.perf_counter()
    by_device: dict[str, list[tuple[Any, ...]]] = {}
    for values in rows.ratings:
        by_device.setdefault(values[DELIVERED_BY], []).append(values)
    write(conn, "ratings", RATING_COLUMNS, [values[0] for values in by_device.values()])
    for device, values in by_device.items():
        chains.advance(conn, device, [dict(zip(RATING_COLUMNS, values[0]))])
    write(conn, "ratings", RATING_COLUMNS, [each for values in by_device.values() for each in values[1:]])
    write(conn, "reasons", REASON_COLUMNS, rows.reasons)
    write(conn, "events", EVENT_COLUMNS, rows.events)
    progress.add("writing", began)
    for device, values in by_device.items():
        chains.advance(conn, device, [dict(zip(RATING_COLUMNS, each)) for each in values[1:]])
    progress.add("chains", began)
    with maintained() as deltas:
        for counter in unit.counters:
            device = counter.device_id
            rollups.maintain(conn, device, Placement(unit.id, counter.id), rows.new_ratings[device],
                             rows.new_reasons[device], rows.new_events[device])
    write(conn, "rollups", ROLLUP_COLUMNS, [(*key, n) for key, n in deltas.items() if n])
    days, months = rollups.coarse(deltas)      # what rollups.add keeps beside them: one unit's keys, each once
    write(conn, "rollup_days", (*rollups.DAY_COLUMNS, "n"), [(*key, n) for key, n in days.items() if n])
    write(conn, "rollup_months", (*rollups.MONTH_COLUMNS, "n"), [(*key, n) for key, n in months.items() if n])
    progress.add("rollups", began)


@contextmanager
def maintained() -> Iterator[CountOf]:
    """rollups.maintain as it is, but for its last step: the counts it would `add` (an upsert per key) are
    collected, for one COPY. The same rows either way, here: the table starts empty and every key carries its
    device's counter, so no key is added twice (a PRIMARY KEY violation would say otherwise), and a quick
    city is checked against rollups.recount. An upsert per key took ~0.3 ms: hours for a city."""
    deltas: CountOf = collections.Counter()
    add = rollups.add
    rollups.add = lambda _conn, more: deltas.update(more)   # type: ignore[assignment]
    try:
        yield deltas
    finally:
        rollups.add = add


def _generated(pool: Any, params: Params, the_city: list[Unit], ahead: int = 4) -> Iterator[Rows]:
    """Each unit's rows in order, generated by the pool at most `ahead` units before they are written (an
    unbounded imap would hold the whole city in memory while the writes lag)."""
    pending: deque[Any] = deque()
    for unit in the_city:
        pending.append(pool.apply_async(unit_year, (params, unit)))
        if len(pending) >= ahead:
            yield pending.popleft().get()
    while pending:
        yield pending.popleft().get()


class Progress:
    """Rows written, rows/s and the time left, on stderr every few seconds; the seconds of each step."""

    def __init__(self, total: int) -> None:
        self.total, self.done, self.reasons, self.events = total, 0, 0, 0
        self.started = self.shown = self.mark = time.perf_counter()
        self.seconds = {"writing": 0.0, "chains": 0.0, "rollups": 0.0}

    def add(self, step: str, began: float) -> None:
        """The time since the unit `began` or since the last step, whichever is later, to `step`."""
        now = time.perf_counter()
        self.seconds[step] += now - max(began, self.mark)
        self.mark = now

    def step(self, ratings: int, reasons: int, events: int) -> None:
        self.done, self.reasons, self.events = self.done + ratings, self.reasons + reasons, self.events + events
        now = time.perf_counter()
        if now - self.shown >= 10 or self.done == self.total:
            rate = self.done / (now - self.started)
            note(f"  {self.done:,}/{self.total:,} ratings ({self.done / self.total:.0%}), {rate:,.0f}/s, "
                 f"ETA {(self.total - self.done) / rate / 60:.1f} min; so far "
                 + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in self.seconds.items()))
            self.shown = now

    def facts(self) -> dict[str, Any]:
        return {"ratings": self.done, "reasons": self.reasons, "events": self.events,
                "rows_seconds": time.perf_counter() - self.started,
                **{f"{name}_seconds": seconds for name, seconds in self.seconds.items()}}


def registry(conn: Connection, the_city: list[Unit]) -> None:
    """Districts, the shipped sectors, units, counters, the staff roster, devices and their placements."""
    ensure_shipped(conn)
    conn.execute(insert(districts), [{"id": i + 1, "name": name, "name_en": english}
                                     for i, (name, english) in enumerate(DISTRICTS)])
    conn.execute(insert(units), [
        {"id": unit.id, "name": unit.name, "name_en": f"Service point {unit.index + 1:04d}",
         "district_id": unit.district + 1, "sector_code": unit.sector, "timezone": TIMEZONE,
         "opening_hours": hours.normalise(unit.hours), "address": None} for unit in the_city])
    conn.execute(insert(counters), [{"unit_id": unit.id, "id": counter.id, "name": f"{counter.id[1:]}号窗口",
                                     "name_en": f"Counter {counter.id[1:]}"}
                                    for unit in the_city for counter in unit.counters])
    conn.execute(insert(staff), [{"unit_id": unit.id, "id": member, "name": f"员工{member[-3:]}", "post": "窗口",
                                  "added_at": ENROLLED_AT} for unit in the_city for counter in unit.counters
                                 for member in counter.staff])
    conn.execute(insert(devices), [
        {"id": counter.device_id, "secret": "bench", "unit_id": unit.id, "unit_name": unit.name,
         "unit_timezone": TIMEZONE, "counter_id": counter.id, "counter_name": f"{counter.id[1:]}号窗口",
         "staff": [], "app_version": "0.9.0", "enrolled_at": ENROLLED_AT, "revoked_at": None,
         "last_heartbeat": {"last_seq": counter.ratings, "verify_ok": True}, "last_seen": "2026-01-01T00:00:00+00:00"}
        for unit in the_city for counter in unit.counters])
    conn.execute(insert(device_placements), [
        {"device_id": counter.device_id, "unit_id": unit.id, "counter_id": counter.id, "from_at": ENROLLED_AT,
         "until_at": None} for unit in the_city for counter in unit.counters])


def write(conn: Connection, table: str, columns: tuple[str, ...], values: list[tuple[Any, ...]]) -> None:
    """Rows into a table: COPY on PostgreSQL, executemany on SQLite."""
    if not values:
        return
    if conn.dialect.name == "postgresql":
        with conn.connection.driver_connection.cursor() as cursor, \
                cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for value in values:
                copy.write_row(value)
    else:
        conn.exec_driver_sql(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                             values)


def analyse(engine: Engine) -> None:
    """PostgreSQL: VACUUM ANALYZE, what autovacuum does after a load of this size anyway (statistics for the
    planner, the visibility map for index-only scans). SQLite: nothing; the centre never runs ANALYZE."""
    if engine.dialect.name != "postgresql":
        return
    with psycopg.connect(_libpq(engine.url.render_as_string(hide_password=False)), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
