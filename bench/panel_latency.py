"""Panel key → committed rating → light: the latency a citizen sees on a button panel.

A virtual panel on a real pty writes ``K<d>``; the terminal's reader thread
decodes it, the service commits the rating (fsync), and the panel reads
``L<d>`` back. p50/p99 over 1,000 presses, with the raw commit cost
(WAL, synchronous=FULL) measured in the same run, interleaved. Goal: p99 ≤ 20 ms.
Run: `make bench` (or .venv/bin/python bench/panel_latency.py [--presses N]).
"""
from __future__ import annotations

import argparse
import queue
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import RawBaseline, interleaved, report
from drivers.simulator import PanelSimulator
from kiosk.config import Settings
from kiosk.devices.panel_link import PanelLink
from kiosk.rating.service import RatingService, ThreadScheduler
from kiosk.store import Identity, RatingStore

GOAL_P99_MS = 20.0
KEYS = (1, 2, 3)           # good levels: no reason step between presses


class PanelRound:
    """One terminal (service + store + panel link) and one virtual panel."""

    def __init__(self, folder: Path):
        self.sim = PanelSimulator()
        settings = Settings.model_validate({
            "store": {"path": str(folder / "panel.db")},
            "panel": {"port": self.sim.device_path, "ping_interval_s": None},
            # The shortest legal timings: each press meets a ready terminal.
            "timings": {"cooldown_s": 0.001, "thanks_s": 0.001}})
        self.store = RatingStore(settings.store.path, Identity("bench", "unit", "counter"))
        self.service = RatingService(settings, self.store, ThreadScheduler())
        self.link = PanelLink(settings, self.service)
        self.service.start()
        self.link.start()
        self._await(("A",))
        self._presses = 0

    def _await(self, frame: tuple, timeout_s: float = 5.0) -> None:
        deadline = time.monotonic() + timeout_s
        while self.sim.received.get(timeout=max(0.001, deadline - time.monotonic())) != frame:
            pass

    def press_one(self) -> float:
        key = KEYS[self._presses % len(KEYS)]
        self._presses += 1
        start = time.perf_counter()
        self.sim.press(key)
        self._await(("L", key))
        elapsed = (time.perf_counter() - start) * 1000
        self._await(("A",))                    # ready for the next citizen
        return elapsed

    def close(self) -> None:
        self.link.stop()
        self.service.stop()
        assert self.store.count_ratings() == self._presses, "a press was not counted"
        self.store.close()
        self.sim.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presses", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-panel-", dir=Path.cwd()) as tmp:
        raw, panel = RawBaseline(Path(tmp)), PanelRound(Path(tmp))
        try:
            raw_ms, panel_ms = interleaved(args.presses, raw.commit_one, panel.press_one)
        except queue.Empty:
            print("the terminal stopped answering the panel", file=sys.stderr)
            return 1
        raw.close()
        panel.close()
    print(f"{args.presses} presses over a pty, file database in {Path.cwd()}")
    return report([("raw sqlite3 commit", raw_ms), ("K<d> → commit → L<d>", panel_ms)], GOAL_P99_MS, None)


if __name__ == "__main__":
    sys.exit(main())
