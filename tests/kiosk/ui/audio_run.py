"""Runs the real terminal UI (offscreen) through a few steps, with whatever audio driver the environment names.

SDL picks its audio driver once per process, when the mixer opens, so the
playback tests run this in a subprocess with SDL_AUDIODRIVER=disk (the mixed
output goes to SDL_DISKAUDIOFILE) or with a driver that cannot open.

    python -m tests.kiosk.ui.audio_run CONFIG STEP…

Steps: `wait:S` (run frames for S seconds), `solicit`, `press:L` (a press of
level L, as the screen's button does), `lang` (the citizen's language button).
Prints one JSON line: ratings stored, whether a player was made, its loaded files.
"""
from __future__ import annotations

import json
import sys
import time


def main(config_path: str, steps: list[str]) -> int:
    from kiosk import config
    from kiosk.ui.boot import prepare_kivy

    settings = config.load(config_path)
    prepare_kivy(settings, offscreen=True)
    from kivy.base import EventLoop

    from kiosk.rating.service import RatingService
    from kiosk.store import Identity, RatingStore
    from kiosk.ui.app import EvaluatorApp, KivyScheduler

    EventLoop.ensure_window()
    store = RatingStore(settings.store.path, Identity(settings.device.id, settings.unit.id, settings.counter.id))
    service = RatingService(settings, store, KivyScheduler())
    app = EvaluatorApp(settings, service)
    root = app.build()
    EventLoop.window.add_widget(root)
    service.start()
    for step in steps:
        name, _, arg = step.partition(":")
        if name == "wait":
            deadline = time.monotonic() + float(arg)
            while time.monotonic() < deadline:
                EventLoop.idle()
        elif name == "solicit":
            app.ui.solicit()
        elif name == "press":
            app.ui.press(int(arg))
        elif name == "lang":
            app.ui.switch_language()
        else:
            raise SystemExit(f"unknown step {step!r}")
    prompts = app.ui.prompts
    print(json.dumps({"ratings": store.count_ratings(), "player": prompts is not None,
                      "loaded": sorted(str(path) for path in prompts._loaded) if prompts else []}))
    app.on_stop()
    store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
