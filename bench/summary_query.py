"""Staff scores on a five-year store: today's summary, the staff table and the 30-day trend.

The store holds 2,000,000 ratings spread evenly over five years of local days
(Asia/Shanghai, 08:30–17:30), with a staff roster, reasons on every bad
review, unrated and suppressed events, and all but the last 500 rows synced.
"Today" is the newest day in the store (a full day; the fixture is cached and
may be from an earlier run). Measured in the same run, 200 runs each after a
warm-up, interleaved with a baseline:
- `scoring.summarize_day` for today      vs raw sqlite3 COUNT … GROUP BY level over today's range;
- `scoring.staff_table` for today        vs raw sqlite3 COUNT … GROUP BY staff_id, level over today's range;
- `scoring.trend` over 30 days           vs raw sqlite3 COUNT … GROUP BY level over the whole 30-day range
                                           (counting the same rows without splitting them into days);
- `scores.build_scores` (the whole staff screen, informative) vs the sum of the three baselines.
Goals: p99 ≤ 20 ms for today's summary and the staff table, ≤ 100 ms for the trend, ≤ 120 ms the screen.
Run: .venv/bin/python bench/summary_query.py [--rows N]   (the first run of a size builds its store)
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import interleaved, report
from contract import GENESIS_HASH, iso_utc, rating_hash
from kiosk import BUILD_DATE, __version__
from kiosk.config import Settings
from kiosk.rating import scoring
from kiosk.screens.scores import build_scores
from kiosk.store import _INSERT_RATING, Identity, RatingStore
from kiosk.store.tables import Channel, EventKind, SyncState

GOAL_TODAY_MS, GOAL_TREND_MS, GOAL_SCREEN_MS = 20.0, 100.0, 120.0
FIXTURE_VERSION = 1                       # bump when the generated rows change: the cache key includes it
YEARS, TREND_DAYS, PENDING_TAIL = 5, 30, 500
ZONE = ZoneInfo("Asia/Shanghai")
OPEN_S, HOURS_S = 8 * 3600 + 1800, 9 * 3600   # the hall opens 08:30 local, for nine hours
LEVEL_WEIGHTS = {5: 55, 4: 20, 3: 10, 2: 8, 1: 7}
ROSTER = ("E1001", "E1002", "E1003", "E1004", "E1005", "E1006")
REASONS = ("attitude", "slow", "wait", "unclear", "extra_trips", "environment")
IDENTITY = Identity("bench-dev", "bench-unit", "bench-counter")
_INSERT_SYNCED = _INSERT_RATING.replace(") VALUES (", ", sync_state) VALUES (").replace(":hash)", ":hash, :sync_state)")


def note(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- fixture generation, not measured ---------------------------------------------------


def cached_store(rows: int) -> Path:
    """The generated store for `rows`, built once under /tmp and reused by later runs of that size."""
    path = Path(tempfile.gettempdir()) / f"evaluator-bench-summary-v{FIXTURE_VERSION}-{rows}.db"
    if path.is_file():
        note(f"reusing {path}")
        return path
    partial = path.with_suffix(".partial")
    for leftover in partial.parent.glob(partial.name + "*"):
        leftover.unlink()
    started = time.monotonic()
    RatingStore(partial, IDENTITY).close()              # the schema exactly as the terminal creates it
    fill(partial, rows, last_day=datetime.now(ZONE).date() - timedelta(days=1))
    os.replace(partial, path)                           # only a complete store ever gets the cache name
    note(f"built {path} ({path.stat().st_size / 2**20:.0f} MiB) in {time.monotonic() - started:.0f} s")
    return path


def fill(path: Path, rows: int, last_day: date) -> None:
    """Ratings, reasons and events for five years of days ending at `last_day`, in one transaction.

    The hash chain is real (seq 1 links to the genesis hash, each row to the
    one before), so `evaluator verify` passes on the file; only this fill runs
    with synchronous=OFF.
    """
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("PRAGMA cache_size = -262144")      # 256 MiB: the uuid index is random-access
        conn.execute("BEGIN IMMEDIATE")
        reasons: list[tuple[str, str, str, str]] = []
        events: list[tuple[str, str, int, str, str, str]] = []
        conn.executemany(_INSERT_SYNCED, _ratings(rows, last_day, reasons, events))
        conn.executemany("INSERT INTO rating_reasons (rating_uuid, code, recorded_at, sync_state) "
                         "VALUES (?, ?, ?, ?)", reasons)
        conn.executemany("INSERT INTO events (kind, recorded_at, mono_ns, boot_id, detail, sync_state) "
                         "VALUES (?, ?, ?, ?, ?, ?)", events)
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def _ratings(rows: int, last_day: date, reasons: list, events: list) -> Iterator[dict[str, Any]]:
    """`rows` chained ratings in time order; fills `reasons` and `events` on the way."""
    rng = random.Random(20261125)
    days = round(YEARS * 365.25)
    first_day = last_day - timedelta(days=days - 1)
    levels, weights = list(LEVEL_WEIGHTS), list(LEVEL_WEIGHTS.values())
    prev_hash, seq = GENESIS_HASH, 0
    for d in range(days):
        day = first_day + timedelta(days=d)
        opening = datetime.combine(day, clock_time(0), tzinfo=ZONE).astimezone(UTC) \
            + timedelta(seconds=OPEN_S)
        boot_id, per_day = str(uuid.UUID(int=rng.getrandbits(128))), rows // days + (d < rows % days)
        for i in range(per_day):
            seq += 1
            moment = opening + timedelta(seconds=HOURS_S * (i + rng.random()) / per_day)
            staff_id = rng.choice(ROSTER[: 2 + d % 3]) if rng.random() > 0.05 else None
            row = {"uuid": str(uuid.UUID(int=rng.getrandbits(128), version=4)), "seq": seq,
                   **vars(IDENTITY), "staff_id": staff_id, "case_no": None, "item_code": None,
                   "level": rng.choices(levels, weights)[0], "channel": Channel.PANEL.value, "mode": "open",
                   "recorded_at": iso_utc(moment), "mono_ns": int((moment - opening).total_seconds() * 1e9),
                   "boot_id": boot_id, "clock_suspect": moment < BUILD_DATE, "app_version": __version__,
                   "prev_hash": prev_hash,
                   "sync_state": (SyncState.PENDING if seq > rows - PENDING_TAIL else SyncState.SYNCED).value}
            row["hash"] = prev_hash = rating_hash(row)
            sync = row["sync_state"]
            if row["level"] <= 2:
                for code in rng.sample(REASONS, rng.choice((1, 1, 2))):
                    reasons.append((row["uuid"], code, row["recorded_at"], sync))
            roll = rng.random()
            if roll < 0.05:                                   # a request nobody answered, or a press that did not count
                kind = EventKind.UNRATED if roll < 0.03 else EventKind.SUPPRESSED
                detail = {"case_no": None, "source": "staff_key", "staff_id": staff_id} if kind is EventKind.UNRATED \
                    else {"level": row["level"], "channel": "panel", "why": "cooldown"}
                events.append((kind.value, iso_utc(moment + timedelta(seconds=1)), row["mono_ns"] + 10**9,
                               boot_id, json.dumps(detail, sort_keys=True), sync))
            yield row
        if d % 365 == 364:
            note(f"  generated {seq:,}/{rows:,}")


# -- what is measured -------------------------------------------------------------------


class Screen:
    """The staff scores queries through RatingStore, as the terminal runs them (a store opened at start)."""

    def __init__(self, path: Path, state_dir: Path):
        # Opening migrates: a store cached by an older release gets this release's indexes, as at a terminal's start.
        self.store = RatingStore(path, IDENTITY)
        self.settings = Settings.model_validate({
            "store": {"path": str(path)}, "sync": {"state_dir": str(state_dir)},
            "staff": [{"id": staff_id, "name": f"员工{staff_id[-1]}"} for staff_id in ROSTER]})
        newest = self.store.recent_ratings(1)[0]["recorded_at"]
        self.day = datetime.fromisoformat(newest).astimezone(ZONE).date()
        self.bad = self.settings.bad_levels

    def _timed(self, action: Callable[[], Any]) -> float:
        start = time.perf_counter()
        action()
        return (time.perf_counter() - start) * 1000

    def summary(self) -> float:
        return self._timed(lambda: scoring.summarize_day(self.store, self.day, ZONE, self.bad))

    def staff(self) -> float:
        return self._timed(lambda: scoring.staff_table(self.store, self.day, ZONE, self.bad))

    def trend(self) -> float:
        return self._timed(lambda: scoring.trend(self.store, self.day, TREND_DAYS, ZONE, self.bad))

    def screen(self) -> float:
        return self._timed(lambda: build_scores(self.settings, self.store, self.settings.locale, ROSTER[0],
                                                today=self.day))

    def check(self, raw: RawCounts) -> None:
        """The figures timed are the figures the baseline counts, or the comparison means nothing."""
        summary = scoring.summarize_day(self.store, self.day, ZONE, self.bad)
        points = scoring.trend(self.store, self.day, TREND_DAYS, ZONE, self.bad)
        rows = scoring.staff_table(self.store, self.day, ZONE, self.bad)
        assert summary.total == raw.total(raw.today) > 0, "no ratings on the measured day"
        assert sum(p.total for p in points) == raw.total(raw.month) and len(points) == TREND_DAYS
        assert sum(row.total for row in rows) == summary.total
        note(f"measured day {self.day}: {summary.total} ratings, 好评率 {summary.good_rate:.3f}; "
             f"{raw.total(raw.month):,} ratings in {TREND_DAYS} days")

    def close(self) -> None:
        self.store.close()


class RawCounts:
    """The floor: plain sqlite3 on its own read-only connection, the same ranges counted in one GROUP BY each."""

    def __init__(self, path: Path, day: date):
        self._conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
        self.today = tuple(map(iso_utc, scoring.day_bounds(day, ZONE)))
        first = day - timedelta(days=TREND_DAYS - 1)
        self.month = (iso_utc(scoring.day_bounds(first, ZONE)[0]), self.today[1])

    def _count(self, group: str, bounds: tuple[str, str]) -> list[tuple]:
        return self._conn.execute(f"SELECT {group}, count(*) FROM ratings WHERE recorded_at >= ? AND recorded_at < ? "
                                  f"GROUP BY {group}", bounds).fetchall()

    def total(self, bounds: tuple[str, str]) -> int:
        return sum(row[-1] for row in self._count("level", bounds))

    def _timed(self, group: str, bounds: tuple[str, str]) -> float:
        start = time.perf_counter()
        self._count(group, bounds)
        return (time.perf_counter() - start) * 1000

    def levels_today(self) -> float:
        return self._timed("level", self.today)

    def staff_today(self) -> float:
        return self._timed("staff_id, level", self.today)

    def levels_month(self) -> float:
        return self._timed("level", self.month)

    def all_three(self) -> float:
        return self.levels_today() + self.staff_today() + self.levels_month()

    def close(self) -> None:
        self._conn.close()


def measure(runs: int, baseline: Callable[[], float], measured: Callable[[], float]) -> tuple[list[float], ...]:
    for _ in range(max(5, runs // 10)):               # warm-up: page cache, statement caches
        baseline(), measured()
    return tuple(interleaved(runs, baseline, measured))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000, help="ratings in the store (default 2,000,000)")
    parser.add_argument("--runs", type=int, default=200, help="timed runs of each query (default 200)")
    args = parser.parse_args()
    path = cached_store(args.rows)
    with tempfile.TemporaryDirectory(prefix="bench-scores-") as state_dir:
        screen = Screen(path, Path(state_dir))
        raw = RawCounts(path, screen.day)
        try:
            screen.check(raw)
            cases = [("today's summary", "raw count by level, today", raw.levels_today, "summarize_day",
                      screen.summary, GOAL_TODAY_MS),
                     ("staff table", "raw count by staff, today", raw.staff_today, "staff_table",
                      screen.staff, GOAL_TODAY_MS),
                     (f"{TREND_DAYS}-day trend", f"raw count by level, {TREND_DAYS} d", raw.levels_month, "trend",
                      screen.trend, GOAL_TREND_MS),
                     ("whole staff screen", "the three raw counts", raw.all_three, "build_scores",
                      screen.screen, GOAL_SCREEN_MS)]
            print(f"{args.rows:,} ratings over {YEARS} years in {path} ({path.stat().st_size / 2**20:.0f} MiB), "
                  f"day {screen.day}, {args.runs} runs each after warm-up, interleaved with the baseline")
            failed = 0
            for title, base_name, base, name, measured, goal in cases:
                print(f"\n-- {title}")
                base_ms, measured_ms = measure(args.runs, base, measured)
                failed |= report([(base_name, base_ms), (name, measured_ms)], goal, None)
        finally:
            raw.close()
            screen.close()
    print("\nALL GOALS MET" if not failed else "\nSOME GOALS MISSED")
    return failed


if __name__ == "__main__":
    sys.exit(main())
