"""config.yaml → validated, frozen `Settings`: finding the file, the centre's overlay, paths, prompt files.

Every field carries its unit in its name (``_s`` seconds, ``_ms``
milliseconds, ``_px`` pixels) and a description. A bad file never yields a
traceback: `load` raises `ConfigError`, whose lines each name the file and the
dotted field, and the CLI turns it into exit code 2.

Secrets (device keys, PIN hashes from the centre) never live here: unknown
keys are refused, so a secret pasted into config.yaml is an error, not a leak.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from kiosk.config.devices import SoundSettings, sound_file_problem
from kiosk.config.errors import ConfigError, describe
from kiosk.config.files import absolute, read_yaml
from kiosk.config.provisioning import with_provisioning
from kiosk.config.settings import Settings

DEFAULT_PATHS = (Path("config.yaml"), Path("/etc/evaluator/config.yaml"))


def find_config(explicit: str | os.PathLike[str] | None) -> Path | None:
    """The file to read: the one asked for, else the first default that exists."""
    if explicit is not None:
        return Path(explicit)
    return next((path for path in DEFAULT_PATHS if path.is_file()), None)


def load(path: str | os.PathLike[str] | None = None, centre: dict[str, Any] | None = None) -> Settings:
    """Read and validate settings; no file at all means the embedded defaults.

    Relative paths inside the file are taken from the file's own folder, so a
    terminal behaves the same whatever directory systemd starts it in.
    `centre`: validate with this in place of the provisioned centre.yaml (a
    config pulled from the centre is checked before it replaces the file).
    """
    source = find_config(path)
    raw = read_yaml(source) if source is not None else {}
    base = source.resolve().parent if source is not None else Path.cwd()
    raw, overlay = with_provisioning(raw, base, centre)
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as exc:
        problems = [describe(error) for error in exc.errors()]
        raise ConfigError(" with ".join(str(part) for part in (source or "defaults", overlay) if part),
                          problems) from None
    settings = _resolve_paths(settings, base)
    problems = _sound_file_problems(settings.sound)
    if problems:
        raise ConfigError(str(source or "defaults"), problems)
    return settings


def _resolve_paths(settings: Settings, base: Path) -> Settings:
    """`settings` with every path setting taken from `base`, the config file's folder."""
    store = settings.store
    ui = settings.ui
    return settings.model_copy(update={
        "store": store.model_copy(update={"path": absolute(store.path, base)}),
        "sync": settings.sync.model_copy(update={"state_dir": absolute(settings.sync.state_dir, base)}),
        "ui": ui.model_copy(update={"font": absolute(ui.font, base) if ui.font else None}),
        "access": settings.access.model_copy(update={"export_dir": absolute(settings.access.export_dir, base)}),
        "sound": settings.sound.model_copy(update={name: absolute(path, base)
                                                   for name, path in settings.sound.files.items()}),
        "staff": tuple(member.model_copy(update={"photo": absolute(member.photo, base)}) if member.photo else member
                       for member in settings.staff),
    })


def _sound_file_problems(sound: SoundSettings) -> list[tuple[str, str]]:
    """Each configured prompt must be a WAV or OGG file (what Kivy's SDL2 mixer plays), checked by its header.

    Only when sound is on: a technician who turns prompts off must not be stopped by a stale path.
    """
    if not sound.enabled:
        return []
    problems = []
    for name, path in sound.files.items():
        problem = sound_file_problem(path)
        if problem is not None:
            problems.append((f"sound.{name}", f"{path}: {problem}"))
    return problems

