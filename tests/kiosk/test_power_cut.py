"""Power cuts: `evaluator run --headless` killed with SIGKILL mid-stream, 20 times.

After each restart, every press the panel saw acknowledged (L<d>) is in the
store, in order; the chain verifies and SQLite's integrity check passes.
"""
from __future__ import annotations

import os
import queue
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from drivers.protocol import FrameError
from drivers.simulator import PanelSimulator

KEYS = {1: 5, 2: 4, 3: 3, 4: 2, 5: 1}      # the default panel.keys
ROUNDS = 20
# A line no terminal sends, read as no frame; behind a frame the kill cut short, the two make no frame either.
DRAINED = b"Z drained\n"


def start_terminal(config: Path, log) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "evaluator.cli", "run", "--headless", "--config", str(config)],
                            stdout=log, stderr=log)


def wait_frame(sim: PanelSimulator, wanted, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if sim.received.get(timeout=0.1) == wanted:
                return
        except queue.Empty:
            pass
    raise AssertionError(f"terminal never sent {wanted}")


def drain(sim: PanelSimulator) -> list:
    """Every frame the killed terminal sent, to the last: a line of our own is written behind them on the same
    pty, and the frames before it are all of them (a quiet spell of any length could end too soon)."""
    with open(os.open(sim.device_path, os.O_WRONLY | os.O_NOCTTY), "wb", buffering=0) as pty:
        pty.write(DRAINED)
    frames = []
    while not isinstance(frame := sim.received.get(timeout=10), FrameError):
        frames.append(frame)
    return frames


def stored_levels(db: Path, after_seq: int) -> list[int]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return [level for (level,) in conn.execute("SELECT level FROM ratings WHERE seq > ? ORDER BY seq",
                                                   (after_seq,))]


def test_sigkill_at_random_moments_loses_no_acknowledged_press(tmp_path):
    rng = random.Random(20261125)
    db = tmp_path / "var" / "evaluator.db"
    total_acknowledged = 0
    with PanelSimulator() as sim, open(tmp_path / "terminal.log", "w") as log:
        config = tmp_path / "config.yaml"
        config.write_text(f"panel: {{port: {sim.device_path}, ping_interval_s: null}}\n"
                          "timings: {cooldown_s: 0.01, thanks_s: 0.01}\n", encoding="utf-8")
        seq_before = 0
        for _ in range(ROUNDS):
            terminal = start_terminal(config, log)          # the last round's frames were all drained
            wait_frame(sim, ("A",), timeout_s=30)               # started and listening
            stop = threading.Event()

            def press_stream(stop: threading.Event = stop) -> None:
                key = 0
                while not stop.wait(0.003):
                    sim.press(key % 5 + 1)
                    key += 1

            presser = threading.Thread(target=press_stream)
            presser.start()
            threading.Event().wait(rng.uniform(0.05, 0.6))     # a random moment in the stream
            terminal.send_signal(signal.SIGKILL)
            terminal.wait(timeout=10)
            stop.set()
            presser.join()

            acknowledged = [KEYS[frame[1]] for frame in drain(sim) if frame[0] == "L" and frame[1] != 0]
            stored = stored_levels(db, seq_before)
            assert stored[:len(acknowledged)] == acknowledged
            assert len(stored) - len(acknowledged) in (0, 1)    # at most the one being lit when killed
            total_acknowledged += len(acknowledged)
            seq_before += len(stored)

    assert total_acknowledged > ROUNDS                          # the stream really was cut mid-flow
    verify = subprocess.run([sys.executable, "-m", "evaluator.cli", "verify", "--config", str(config)],
                            capture_output=True, text=True, timeout=60)
    assert verify.returncode == 0, verify.stderr
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
