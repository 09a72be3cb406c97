"""Kivy set-up that must happen before the first `import kivy.core.window`.

Kivy reads its environment and Config when the window module is imported, so
the terminal's settings (size, kiosk behaviour, font) are applied here, once,
and nothing else in the package imports Kivy at module level before it.
"""
from __future__ import annotations

import logging
import os
import tempfile
from configparser import RawConfigParser
from pathlib import Path

from kiosk.config import InputMode, Settings
from kiosk.devices.input_watch import Touchscreen, touchscreens
from kiosk.screens.texts import all_texts
from kiosk.ui.fonts import find_font

log = logging.getLogger(__name__)


def prepare_kivy(settings: Settings, size: tuple[int, int] | None = None, offscreen: bool = False) -> Path:
    """Configure Kivy for this terminal and register the CJK font; returns the font used.

    Raises `kiosk.ui.fonts.FontError` before any window opens when no font can
    draw the configured text.
    """
    font = find_font(settings.ui.font, all_texts(settings))
    os.environ.setdefault("KIVY_NO_ARGS", "1")        # our CLI owns argv
    os.environ.setdefault("KIVY_NO_FILELOG", "1")     # journald keeps the log, not ~/.kivy/logs
    os.environ.setdefault("KIVY_NO_CONFIG", "1")      # settings come from config.yaml only
    os.environ.setdefault("KIVY_LOG_MODE", "PYTHON")  # one log format: the CLI configures logging
    os.environ.setdefault("KIVY_HOME", tempfile.mkdtemp(prefix="evaluator-kivy-"))
    if offscreen:
        os.environ.setdefault("SDL_VIDEODRIVER", "offscreen")

    from kivy.config import Config

    ui = settings.ui
    width, height = size or (ui.width_px, ui.height_px)
    kiosk = ui.kiosk and not offscreen
    Config.set("graphics", "width", str(width))
    Config.set("graphics", "height", str(height))
    Config.set("graphics", "resizable", "0" if kiosk else "1")
    Config.set("graphics", "fullscreen", "auto" if ui.fullscreen and not offscreen else "0")
    Config.set("graphics", "borderless", "1" if kiosk else "0")
    Config.set("graphics", "show_cursor", "0" if kiosk else "1")
    Config.set("graphics", "allow_screensaver", "0")  # a blanked evaluator looks broken
    Config.set("kivy", "exit_on_escape", "0" if kiosk else "1")
    Config.set("kivy", "keyboard_mode", "system")
    _input_providers(Config, ui.input)

    from kivy.core.text import DEFAULT_FONT, LabelBase

    LabelBase.register(DEFAULT_FONT, str(font))
    return font


def _input_providers(config: RawConfigParser, mode: InputMode, screens: list[Touchscreen] | None = None) -> None:
    """Exactly one provider per touch device: Kivy's default mouse + probesysfs pair counts each touch twice
    on a console, where no desktop turns touches into pointer events (and under a desktop, the reverse).

    On the console each touchscreen found now gets its own: mtdev for a multitouch screen, hidinput for a
    single-touch one. Kivy's probesysfs would pick multitouch screens only (a resistive panel would get
    no input at all) and, on a Raspberry Pi, every input device, keyboards included. A screen plugged in
    later restarts the terminal (kiosk.devices.input_watch), which then finds it here."""
    for name in list(config.options("input")) if config.has_section("input") else []:
        config.remove_option("input", name)
    if not config.has_section("input"):
        config.add_section("input")
    if mode is InputMode.TOUCHSCREEN:
        screens = touchscreens() if screens is None else screens
        for screen in screens:
            config.set("input", f"touch_{screen.event}",
                       f"{'mtdev' if screen.multitouch else 'hidinput'},{screen.node}")
        if not screens:
            log.warning("no touchscreen found; the terminal restarts when one is plugged in")
    else:
        config.set("input", "mouse", "mouse,disable_multitouch")
