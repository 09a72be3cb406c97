"""Press → committed rating: latency through RatingService and RatingStore on a file database.

Prints p50/p99 for 2,000 presses and, measured in the same run on the same
disk, a raw sqlite3 INSERT + COMMIT of the same row with the same pragmas
(WAL, synchronous=FULL). Goals: p99 ≤ 15 ms; ratio to raw ≤ 2.
Run: `make bench` (or .venv/bin/python bench/press_to_commit.py [--presses N]).
"""
from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kiosk.config import Settings  # noqa: E402
from kiosk.models import Channel  # noqa: E402
from kiosk.service import PressOutcome, RatingService  # noqa: E402
from kiosk.store import Identity, RatingStore  # noqa: E402

GOAL_P99_MS, GOAL_RATIO = 15.0, 2.0


class StepScheduler:
    """Timers fire when the bench says so: each press meets a ready terminal, as a real citizen would."""

    def __init__(self) -> None:
        self.pending: list = []

    def call_later(self, _delay_s, callback):
        self.pending.append(callback)
        return self

    def cancel(self) -> None:
        pass

    def fire_all(self) -> None:
        pending, self.pending = self.pending, []
        for callback in pending:
            callback()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def bench_service(folder: Path, presses: int) -> list[float]:
    settings = Settings.model_validate({"store": {"path": str(folder / "service.db")}})
    store = RatingStore(settings.store.path, Identity("bench", "unit", "counter"))
    clock = iter(range(0, 10**9, 60))        # a minute between citizens: no cooldown in the way
    scheduler = StepScheduler()
    service = RatingService(settings, store, scheduler, monotonic=lambda: float(next(clock)))
    service.start()
    latencies = []
    for i in range(presses):
        level = 5 - i % 3                   # good levels: no reason step between presses
        start = time.perf_counter()
        outcome = service.press(level, Channel.PANEL)
        latencies.append((time.perf_counter() - start) * 1000)
        assert outcome is PressOutcome.COUNTED, outcome
        scheduler.fire_all()
    assert store.count_ratings() == presses and store.verify().ok
    store.close()
    return latencies


def bench_raw(folder: Path, presses: int) -> list[float]:
    conn = sqlite3.connect(folder / "raw.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("CREATE TABLE ratings (seq INTEGER PRIMARY KEY, uuid TEXT UNIQUE, device_id TEXT, unit_id TEXT,"
                 " counter_id TEXT, staff_id TEXT, case_no TEXT, level INTEGER, channel TEXT, mode TEXT,"
                 " recorded_at TEXT, mono_ns INTEGER, boot_id TEXT, clock_suspect INTEGER, app_version TEXT,"
                 " prev_hash TEXT, hash TEXT, sync_state TEXT, sync_note TEXT)")
    latencies = []
    for i in range(presses):
        row = (i + 1, f"{i:036d}", "bench", "unit", "counter", None, None, 5, "panel", "open",
               "2026-11-25T02:00:00.000000+00:00", time.monotonic_ns(), "b" * 36, 0, "0.1.0", "0" * 64, "1" * 64,
               "pending", None)
        start = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO ratings VALUES (" + ",".join("?" * len(row)) + ")", row)
        conn.execute("COMMIT")
        latencies.append((time.perf_counter() - start) * 1000)
    conn.close()
    return latencies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presses", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-press-", dir=Path.cwd()) as tmp:
        raw = bench_raw(Path(tmp), args.presses)
        service = bench_service(Path(tmp), args.presses)
    rows = [("raw sqlite3 insert", raw), ("press → commit (service)", service)]
    print(f"{args.presses} presses, file database in {Path.cwd()}, WAL + synchronous=FULL")
    print(f"{'':26} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8}")
    for name, values in rows:
        print(f"{name:26} {percentile(values, 50):8.3f} {percentile(values, 99):8.3f} {statistics.mean(values):8.3f}")
    ratio50 = percentile(service, 50) / percentile(raw, 50)
    ratio99 = percentile(service, 99) / percentile(raw, 99)
    p99 = percentile(service, 99)
    print(f"ratio service/raw: p50 {ratio50:.2f}×, p99 {ratio99:.2f}×  (goal ≤ {GOAL_RATIO}×)")
    print(f"p99 {p99:.2f} ms  (goal ≤ {GOAL_P99_MS} ms)")
    met = p99 <= GOAL_P99_MS and ratio99 <= GOAL_RATIO
    print("goals met" if met else "GOALS MISSED")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
