"""The citizen pages' words in Chinese (first) and English, from texts/*.yaml: one file per page, keys prefixed
by the file's name ("questionnaire.title"). A key missing in either language is an error when the catalogue is
first read (the tests open every page), never a blank on a page. The same shape as the console's catalogue,
kept apart because the citizen side is a face of its own."""
from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from functools import cache
from pathlib import Path
from typing import Any

import yaml

FOLDER = Path(__file__).parent / "texts"
LANG_COOKIE = "public_lang"


class Lang(str, Enum):
    ZH = "zh"
    EN = "en"


DEFAULT_LANG = Lang.ZH


@cache
def catalogue() -> dict[str, dict[str, str]]:
    """key → {zh, en}."""
    found: dict[str, dict[str, str]] = {}
    for path in sorted(FOLDER.glob("*.yaml")):
        entries: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for key, words in entries.items():
            if not isinstance(words, dict) or {lang.value for lang in Lang} - set(words):
                raise ValueError(f"{path.name}: {key!r} needs both zh and en")
            found[f"{path.stem}.{key}"] = {lang: str(words[lang]) for lang in words}
    return found


def lang_of(value: str | None) -> Lang | None:
    """The language `value` names, None for anything else."""
    try:
        return Lang(value) if value else None
    except ValueError:
        return None


def from_accept_language(header: str | None) -> Lang:
    """The first of zh and en in the browser's Accept-Language by preference (q), Chinese when neither is."""
    ranked: list[tuple[float, int, Lang]] = []
    for index, part in enumerate((header or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        lang = lang_of(tag.strip().lower().split("-")[0])
        if lang is not None and quality > 0:
            ranked.append((-quality, index, lang))
    return min(ranked)[2] if ranked else DEFAULT_LANG


def translator(lang: Lang) -> Callable[..., str]:
    """t("questionnaire.title") in `lang`; keyword arguments fill {placeholders}."""
    words = catalogue()

    def t(key: str, **values: Any) -> str:
        text = words[key][lang.value]      # a KeyError names the missing key
        return text.format(**values) if values else text

    return t
