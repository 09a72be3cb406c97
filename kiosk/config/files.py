"""Reading a config file: YAML to a mapping of settings, and paths written relative to the file's folder."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from kiosk.config.errors import ConfigError


def read_yaml(source: Path) -> dict[str, Any]:
    """The settings mapping in `source`; an empty file is no settings. Every failure is a `ConfigError`."""
    try:
        text = source.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(source), [("", "file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(source), [("", f"cannot read: {exc}")]) from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(str(source), [("", f"not valid YAML: {where}{problem}")]) from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(str(source), [("", f"must be a mapping of settings, got {type(raw).__name__}")])
    return raw


def absolute(path: Path, base: Path) -> Path:
    """`path` with ~ expanded, taken from `base` when relative."""
    path = path.expanduser()
    return path if path.is_absolute() else base / path
