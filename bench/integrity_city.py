"""The cities of bench/integrity_recall.py: the demo city (centre/demo) built through the real path, once with
manipulation of every kind planted and once as its control (`--manipulate none`: the same city and the same
honest but unusual units, nothing planted), each kept between runs.

Each city lives in its own database (PostgreSQL `evaluator_bench_integrity_<key>_<planted|control>` on the
given server, or a SQLite file), made by the demo itself (centre.demo.build, its migrations included), with
a marker table, `bench_integrity_city`, holding the key it was built from and the build's facts; a database
whose marker differs or is missing (an interrupted build) is dropped and built again. The key covers the
parameters and the demo's own code (a hash of centre/demo/*.py): a changed generator builds new cities. The
planted city's ground truth is a JSON-lines file beside the cache, never in the database.
"""
from __future__ import annotations

import hashlib
import json
import sys
import time
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url

from centre.db.engine import migrate
from centre.demo import build
from centre.integrity.model import SignalKind

MARKER = "bench_integrity_city"
ROOT = Path(__file__).resolve().parent.parent
CACHE = Path("/tmp/evaluator-bench-integrity")


@dataclass(frozen=True)
class Params:
    units: int = 500
    counters_per_unit: int = 3
    days: int = 90
    until: str = "2025-11-30"      # Sep 2 – Nov 30, 2025: National Day's week, three firsts of a month
    seed: int = 19
    per_kind: int = 5              # manipulations planted of each kind
    sync_days: int = 7             # the terminals sync weekly: a fifth of the batches, the same rows
    # Citizens an hour at each counter, times this: 2.1–4.8 instead of the demo's 3.5–8, for the two cities of
    # 2 × 2 million ratings to build in about an hour on this shared two-core machine (--quick keeps 1.0).
    pace: float = 0.6

    def key(self) -> str:
        text = json.dumps({**asdict(self), "demo": demo_code_hash()}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def wanted(self) -> dict[SignalKind, int]:
        return dict.fromkeys(SignalKind, self.per_kind)

    def describe(self) -> str:
        return (f"{self.units} units × {self.counters_per_unit} counters, {self.days} days to {self.until}, seed "
                f"{self.seed}, {self.per_kind} of each kind planted, synced every {self.sync_days} day(s), "
                f"pace {self.pace}×")


def demo_code_hash() -> str:
    digest = hashlib.sha256()
    for path in sorted((ROOT / "centre" / "demo").glob("*.py")):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:12]


def note(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class City:
    url: str
    facts: dict[str, Any]
    truth: Path | None             # the planted city's ground truth


def city_url(base: str | None, key: str, planted: bool) -> str:
    """Where a city lives: a SQLite file under CACHE (base None) or a database on the server of `base`."""
    name = f"evaluator_bench_integrity_{key}_{'planted' if planted else 'control'}"
    if base is None:
        CACHE.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{CACHE / (name + '.db')}"
    return make_url(base).set(database=name).render_as_string(hide_password=False)


def truth_path(key: str) -> Path:
    return CACHE / f"evaluator_bench_integrity_{key}.truth.jsonl"


def cached(base: str | None, params: Params, planted: bool, rebuild: bool = False) -> City:
    key = params.key()         # once: the demo's code may be edited while a city is built
    url = city_url(base, key, planted)
    truth = truth_path(key) if planted else None
    found = _marker(url)
    if found is not None and found.get("key") == key and not rebuild and (truth is None or truth.exists()):
        note(f"reusing the {'planted' if planted else 'control'} city built on {found['built_at']} "
             f"({found['build_seconds']:.0f} s to build)")
        migrate(url)                    # a newer schema: the centre's own migrations bring it up
        return City(url, found, truth)
    note(f"building the {'planted' if planted else 'control'} city ({params.describe()}"
         f"{'' if planted else '; here nothing planted'})")
    _drop(url)
    facts = _build(url, params, planted, truth)
    _save_marker(url, key, facts)
    return City(url, facts, truth)


def _build(url: str, params: Params, planted: bool, truth: Path | None) -> dict[str, Any]:
    started = time.monotonic()
    shown = [0.0]

    def progress(line: str) -> None:
        if time.monotonic() - shown[0] >= 30 or line.startswith("registered"):
            note(f"  {line}")
            shown[0] = time.monotonic()

    options = build.Options(units=params.units, counters_per_unit=params.counters_per_unit, days=params.days,
                            seed=params.seed, until=date.fromisoformat(params.until), db_url=url,
                            manipulate=params.wanted() if planted else {}, truth=truth,
                            sync_days=params.sync_days, pace=params.pace)
    built = build.build(options, progress)
    _analyse_tables(url)
    total = built.total
    return {"ratings": total.ratings, "bad": total.bad, "requests": total.solicited, "unrated": total.unrated,
            "suppressed": total.suppressed, "batches": built.batches, "withheld": built.withheld,
            "planted": len(built.scenario.plants) if built.scenario else 0,
            "unusual": len(built.scenario.odd) if built.scenario else 0,
            "first_day": built.days[0].isoformat(), "last_day": built.days[-1].isoformat(),
            "built_at": time.strftime("%Y-%m-%d %H:%M"), "build_seconds": time.monotonic() - started}


def _analyse_tables(url: str) -> None:
    """PostgreSQL: VACUUM ANALYZE after the build, as autovacuum would soon do (the planner's statistics)."""
    if make_url(url).get_backend_name() != "postgresql":
        return
    with psycopg.connect(_libpq(url), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _marker(url: str) -> dict[str, Any] | None:
    parsed = make_url(url)
    try:
        if parsed.get_backend_name() == "sqlite":
            if not Path(parsed.database or "").is_file():
                return None
            import sqlite3
            with sqlite3.connect(f"file:{parsed.database}?mode=ro", uri=True) as conn:
                row = conn.execute(f"SELECT key, facts FROM {MARKER}").fetchone()
        else:
            with psycopg.connect(_libpq(url), connect_timeout=5) as conn:
                row = conn.execute(f"SELECT key, facts FROM {MARKER}").fetchone()
    except Exception:        # no such database or table: not built (or not to the end)
        return None
    return {"key": row[0], **json.loads(row[1])} if row else None


def _drop(url: str) -> None:
    """An empty database at `url` (the demo refuses a populated one)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{parsed.database}{suffix}").unlink(missing_ok=True)
        return
    with psycopg.connect(_libpq(parsed.set(database="postgres").render_as_string(hide_password=False)),
                         autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{parsed.database}"')


def _save_marker(url: str, key: str, facts: dict[str, Any]) -> None:
    engine: Engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"CREATE TABLE IF NOT EXISTS {MARKER} (key TEXT NOT NULL, facts TEXT NOT NULL)")
            conn.exec_driver_sql(f"DELETE FROM {MARKER}")
            conn.exec_driver_sql(f"INSERT INTO {MARKER} VALUES (?, ?)" if engine.dialect.name == "sqlite"
                                 else f"INSERT INTO {MARKER} VALUES (%s, %s)", (key, json.dumps(facts)))
    finally:
        engine.dispose()
