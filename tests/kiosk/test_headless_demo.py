"""The README's demo, as processes: `evaluator panel-sim` and `evaluator run --headless --panel PATH`."""
from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

EVALUATOR = [sys.executable, "-m", "evaluator.cli"]


def test_panel_sim_drives_a_headless_terminal(tmp_path: Path):
    sim = subprocess.Popen([*EVALUATOR, "panel-sim", "--script", "K1 S K3 C A-1@E7 K5", "--wait-terminal",
                            "--delay", "0.4", "--linger", "1"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    device = sim.stdout.readline().strip()
    assert device.startswith("/dev/"), device
    terminal = subprocess.Popen([*EVALUATOR, "run", "--headless", "--panel", device],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        shown, sim_err = sim.communicate(timeout=60)
    finally:
        terminal.send_signal(signal.SIGTERM)
        _out, log = terminal.communicate(timeout=30)
    assert sim.returncode == 0, sim_err
    assert terminal.returncode == 0, log
    assert "light key 1" in shown.lower() or "L1" in shown, shown
    assert "K1 → level 5 counted (seq 1)" in log
    assert "K3 → level 3 counted (seq 2)" in log         # S opened a request: the cooldown is over
    assert "K5 → level 1 counted (seq 3)" in log         # a bad review: no reason step without a screen
    assert "headless terminal stopped" in log

    verify = subprocess.run([*EVALUATOR, "summary", "--json"], capture_output=True, text=True, cwd=tmp_path)
    assert verify.returncode == 0, verify.stderr
    assert '"total": 3' in verify.stdout


def test_headless_without_a_panel_is_a_usage_error(tmp_path: Path):
    done = subprocess.run([*EVALUATOR, "run", "--headless"], capture_output=True, text=True, cwd=tmp_path,
                          timeout=60)
    assert done.returncode == 2 and "panel.port" in done.stderr
