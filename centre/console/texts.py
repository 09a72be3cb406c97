"""The console's words in Chinese (first) and English, from texts/*.yaml: one file per page, so a page and its
words travel together. A key missing in either language is an error at start-up, never a blank on a page.
"""
from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from functools import cache
from pathlib import Path
from typing import Any

import yaml

FOLDER = Path(__file__).parent / "texts"


class Lang(str, Enum):
    ZH = "zh"
    EN = "en"


DEFAULT_LANG = Lang.ZH
LANG_COOKIE = "console_lang"


@cache
def catalogue() -> dict[str, dict[str, str]]:
    """key → {zh, en}, every file's keys prefixed by its name ("overview.title")."""
    found: dict[str, dict[str, str]] = {}
    for path in sorted(FOLDER.glob("*.yaml")):
        entries: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for key, words in entries.items():
            if not isinstance(words, dict) or {lang.value for lang in Lang} - set(words):
                raise ValueError(f"{path.name}: {key!r} needs both zh and en")
            found[f"{path.stem}.{key}"] = {lang: str(words[lang]) for lang in words}
    return found


def lang_of(value: str | None) -> Lang:
    try:
        return Lang(value) if value else DEFAULT_LANG
    except ValueError:
        return DEFAULT_LANG


def translator(lang: Lang) -> Callable[..., str]:
    """t("overview.title") in `lang`; keyword arguments fill {placeholders}."""
    words = catalogue()

    def t(key: str, **values: Any) -> str:
        text = words[key][lang.value]      # a KeyError names the missing key: the tests load every page
        return text.format(**values) if values else text

    return t
