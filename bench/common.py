"""Shared pieces of the benchmarks: percentiles, the raw-SQLite baseline, the report."""
from __future__ import annotations

import sqlite3
import statistics
import time
from collections.abc import Callable
from pathlib import Path


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


class RawBaseline:
    """INSERT + COMMIT of a rating-sized row with the store's pragmas (WAL, synchronous=FULL): the floor."""

    def __init__(self, folder: Path):
        self._conn = sqlite3.connect(folder / "raw.db", isolation_level=None)
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute("PRAGMA synchronous = FULL")
        self._conn.execute(
            "CREATE TABLE ratings (seq INTEGER PRIMARY KEY, uuid TEXT UNIQUE, device_id TEXT, unit_id TEXT,"
            " counter_id TEXT, staff_id TEXT, case_no TEXT, level INTEGER, channel TEXT, mode TEXT,"
            " recorded_at TEXT, mono_ns INTEGER, boot_id TEXT, clock_suspect INTEGER, app_version TEXT,"
            " prev_hash TEXT, hash TEXT, sync_state TEXT, sync_note TEXT)")
        self._seq = 0

    def commit_one(self) -> float:
        """Milliseconds for one commit."""
        self._seq += 1
        row = (self._seq, f"{self._seq:036d}", "bench", "unit", "counter", None, None, 5, "panel", "open",
               "2026-11-25T02:00:00.000000+00:00", time.monotonic_ns(), "b" * 36, 0, "0.1.0", "0" * 64, "1" * 64,
               "pending", None)
        start = time.perf_counter()
        self._conn.execute("BEGIN IMMEDIATE")
        self._conn.execute("INSERT INTO ratings VALUES (" + ",".join("?" * len(row)) + ")", row)
        self._conn.execute("COMMIT")
        return (time.perf_counter() - start) * 1000

    def close(self) -> None:
        self._conn.close()


def interleaved(count: int, *measures: Callable[[], float], chunk: int = 50) -> list[list[float]]:
    """Run the measures in alternating chunks, so background noise falls on each alike."""
    results: list[list[float]] = [[] for _ in measures]
    while len(results[0]) < count:
        for values, measure in zip(results, measures):
            values.extend(measure() for _ in range(min(chunk, count - len(values))))
    return results


def report(rows: list[tuple[str, list[float]]], goal_p99_ms: float, goal_ratio: float | None) -> int:
    """Print p50/p99/mean per row; the last row is judged against the goals and the first row."""
    print(f"{'':30} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8}")
    for name, values in rows:
        print(f"{name:30} {percentile(values, 50):8.3f} {percentile(values, 99):8.3f} {statistics.mean(values):8.3f}")
    (_, base), (_, measured) = rows[0], rows[-1]
    p99 = percentile(measured, 99)
    met = p99 <= goal_p99_ms
    print(f"ratio to {rows[0][0]}: p50 {percentile(measured, 50) / percentile(base, 50):.2f}×, "
          f"p99 {p99 / percentile(base, 99):.2f}×" + (f"  (goal ≤ {goal_ratio}×)" if goal_ratio else ""))
    if goal_ratio is not None:
        met = met and p99 / percentile(base, 99) <= goal_ratio
    print(f"p99 {p99:.2f} ms  (goal ≤ {goal_p99_ms} ms)")
    print("goals met" if met else "GOALS MISSED")
    return 0 if met else 1


class LoopbackServer:
    """A server process of a bench on a free loopback port, started from `argv(port)` in the repository, its
    output in `log_path(port)`; ready once its /healthz answers 200. The centre benches' servers are these."""

    def __init__(self, argv: Callable[[int], list[str]], log_path: Callable[[int], Path], start_timeout_s: float,
                 poll_s: float = 0.1) -> None:
        import socket
        import subprocess
        import sys

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port: int = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log_path(port)
        self._log = open(self.log_path, "w")
        self.process = subprocess.Popen([sys.executable, *argv(port)], stdout=self._log, stderr=subprocess.STDOUT,
                                        cwd=Path(__file__).resolve().parent.parent)
        deadline = time.monotonic() + start_timeout_s
        while not self._healthy():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise SystemExit(f"the centre did not start:\n{self.log_path.read_text()[-3000:]}")
            time.sleep(poll_s)

    def _healthy(self) -> bool:
        import requests

        try:
            return requests.get(self.url + "/healthz", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def close(self) -> None:
        import subprocess

        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log.close()
