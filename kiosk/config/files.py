"""Reading a config file: YAML to a mapping of settings, and paths written relative to the file's folder."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from kiosk.config.errors import ConfigError


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader refusing a key written twice in one mapping, at any depth: PyYAML keeps the last silently,
    so a technician who adds `panel:` again below an old one would lose the first without a word.
    Keys merged in with `<<` may be overridden, as YAML means them to be."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _value in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping", node.start_mark,
                    f"duplicated key {key!r} (first on line {seen[key]})", key_node.start_mark)
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def read_yaml(source: Path) -> dict[str, Any]:
    """The settings mapping in `source`; an empty file is no settings. Every failure is a `ConfigError`."""
    try:
        text = source.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(source), [("", "file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(source), [("", f"cannot read: {exc}")]) from None
    try:
        raw = yaml.load(text, Loader=_UniqueKeyLoader)   # a SafeLoader: no Python objects
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
