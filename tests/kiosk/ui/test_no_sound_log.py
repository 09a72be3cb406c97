"""A terminal without a sound device starts with one WARNING about its voice prompts, and nothing louder.

Runs the real UI (offscreen) in a subprocess whose SDL audio driver cannot open (SDL picks it once per
process), with the log configured as the CLI does, and reads what it logged.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

RUN = """
import logging, sys
logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stdout)
from tests.kiosk.ui.audio_run import main
main(sys.argv[1], ["wait:0.3", "solicit", "wait:0.3"])
"""


def test_no_sound_device_logs_one_warning_and_no_critical(tmp_path: Path):
    config = tmp_path / "config.yaml"
    config.write_text(f"store:\n  path: {tmp_path / 'ratings.sqlite'}\n")
    env = {**os.environ, "SDL_AUDIODRIVER": "no-such-driver"}
    done = subprocess.run([sys.executable, "-c", RUN, str(config)], capture_output=True, text=True, timeout=120,
                          env=env, cwd=Path(__file__).parents[3])
    assert done.returncode == 0, done.stderr[-2000:]
    lines = (done.stdout + done.stderr).splitlines()
    loud = [line for line in lines if line.startswith(("WARNING", "ERROR", "CRITICAL"))]
    assert len(loud) == 1 and loud[0].startswith("WARNING kiosk.devices.sound: voice prompts off"), loud
