"""A real terminal for end-to-end tests of the centre: `evaluator run --headless` on a panel simulated on a pty
(`evaluator panel-sim`), its own store, and the real uploader (`evaluator sync --once`), each a process."""
from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from evaluator.terminal import open_store
from kiosk.config import Settings
from kiosk.store import StoredRating
from kiosk.store.tables import Channel

EVALUATOR = [sys.executable, "-m", "evaluator.cli"]


def evaluator(config: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*EVALUATOR, *args, "--config", str(config)], capture_output=True, text=True,
                          timeout=timeout, cwd=config.parent)


def pressed_on_the_panel(config: Path, script: str, expect: str) -> str:
    """`evaluator run --headless` takes `script` from a panel simulated on a pty, then stops; its log, which
    must say `expect` (e.g. "K5 → level 1 counted")."""
    sim = subprocess.Popen([*EVALUATOR, "panel-sim", "--script", script, "--wait-terminal", "--delay", "0.3",
                            "--linger", "0.5"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           cwd=config.parent)
    assert sim.stdout is not None
    device = sim.stdout.readline().strip()
    terminal = subprocess.Popen([*EVALUATOR, "run", "--headless", "--panel", device, "--config", str(config)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=config.parent)
    try:
        _shown, sim_err = sim.communicate(timeout=60)
    finally:
        terminal.send_signal(signal.SIGTERM)
        _out, log = terminal.communicate(timeout=30)
    assert sim.returncode == 0 and terminal.returncode == 0, sim_err + log
    assert expect in log, log
    return log


def newest_rating(settings: Settings) -> StoredRating:
    store = open_store(settings, migrate=False)
    try:
        row = store.recent_ratings(1)[0]
    finally:
        store.close()
    return StoredRating(uuid=row["uuid"], seq=row["seq"], level=row["level"], channel=Channel(row["channel"]),
                        mode=row["mode"], staff_id=row["staff_id"], case_no=row["case_no"],
                        recorded_at=row["recorded_at"], clock_suspect=bool(row["clock_suspect"]), hash=row["hash"],
                        item_code=row["item_code"])


def synced(config: Path, accepted: int = 1) -> str:
    """One drain of the terminal's queue by the real uploader; its report."""
    done = evaluator(config, "sync", "--once")
    assert done.returncode == 0 and f"{accepted} accepted" in done.stdout, done.stdout + done.stderr
    return done.stdout
