"""Press → committed rating: latency through RatingService and RatingStore on a file database.

Prints p50/p99 for 2,000 presses and, measured in the same run on the same
disk, a raw sqlite3 INSERT + COMMIT of the same row with the same pragmas
(WAL, synchronous=FULL). Goals: p99 ≤ 15 ms; ratio to raw ≤ 2.
Run: `make bench` (or .venv/bin/python bench/press_to_commit.py [--presses N]).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import RawBaseline, interleaved, report
from kiosk.config import Settings
from kiosk.rating.service import PressOutcome, RatingService
from kiosk.store import Identity, RatingStore
from kiosk.store.tables import Channel

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


class ServicePresses:
    """Presses through RatingService into a RatingStore; each meets a ready terminal."""

    def __init__(self, folder: Path):
        settings = Settings.model_validate({"store": {"path": str(folder / "service.db")}})
        self.store = RatingStore(settings.store.path, Identity("bench", "unit", "counter"))
        clock = iter(range(0, 10**12, 60))     # a minute between citizens: no cooldown in the way
        self._scheduler = StepScheduler()
        self._service = RatingService(settings, self.store, self._scheduler, monotonic=lambda: float(next(clock)))
        self._service.start()
        self._presses = 0

    def press_one(self) -> float:
        level = 5 - self._presses % 3           # good levels: no reason step between presses
        self._presses += 1
        start = time.perf_counter()
        outcome = self._service.press(level, Channel.PANEL)
        elapsed = (time.perf_counter() - start) * 1000
        assert outcome is PressOutcome.COUNTED, outcome
        self._scheduler.fire_all()
        return elapsed

    def close(self) -> None:
        assert self.store.count_ratings() == self._presses and self.store.verify().ok
        self.store.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presses", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-press-", dir=Path.cwd()) as tmp:
        raw, service = RawBaseline(Path(tmp)), ServicePresses(Path(tmp))
        raw_ms, service_ms = interleaved(args.presses, raw.commit_one, service.press_one)
        raw.close()
        service.close()
    print(f"{args.presses} presses, file database in {Path.cwd()}, WAL + synchronous=FULL")
    return report([("raw sqlite3 insert", raw_ms), ("press → commit (service)", service_ms)], GOAL_P99_MS, GOAL_RATIO)


if __name__ == "__main__":
    sys.exit(main())
