"""The screens' .kv rules, loaded once per process (Builder rules are global).

The citizen's rules load before the first frame; the staff screens' only when one is first opened.
"""
from __future__ import annotations

from pathlib import Path

from kivy.lang import Builder

KV_DIR = Path(__file__).parent
CITIZEN = ("widgets.kv", "rating.kv", "waiting.kv", "reasons.kv", "callback.kv", "thanks.kv", "out_of_service.kv")
STAFF = ("sign_in.kv", "scores.kv", "technician.kv", "provision.kv")


def load(names: tuple[str, ...]) -> None:
    for name in names:
        path = str(KV_DIR / name)
        if path not in Builder.files:
            Builder.load_file(path)
