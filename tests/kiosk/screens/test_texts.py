"""The screens' text catalog: every key the code asks for exists, and the font check reads all of it."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from kiosk.config import Locale, Settings, Weekday
from kiosk.screens import texts
from kiosk.screens.callback_form import Message
from kiosk.screens.texts import CATALOG, Voice, all_texts, say

SCREENS = Path(texts.__file__).parent


def test_a_key_names_its_section_and_placeholders_are_filled() -> None:
    assert say("thanks.title", Locale.ZH) == "感谢您的评价！"
    assert say("thanks.title", Locale.EN) == "Thank you for your rating!"
    assert say("sign_in.wrong", Locale.EN, n=2) == "Wrong PIN: 2 tries left"
    assert Voice("sign_in")("wrong", Locale.ZH, n=2) == say("sign_in.wrong", Locale.ZH, n=2)


def test_an_unknown_section_or_key_fails_loudly() -> None:
    with pytest.raises(KeyError):
        Voice("nowhere")
    with pytest.raises(KeyError):
        say("thanks.nothing", Locale.ZH)


def test_enum_members_find_the_text_of_their_value() -> None:
    callback, hours = Voice("callback"), Voice("hours")
    for message in Message:
        assert callback(message, Locale.EN, n=3) == say(f"callback.{message.value}", Locale.EN, n=3)
    assert [hours(day, Locale.ZH) for day in Weekday] == ["周一", "周二", "周三", "周四", "周五", "周六", "周日"]


def test_every_pair_has_both_languages() -> None:
    for section, table in CATALOG.items():
        for name, (zh, en) in table.items():
            assert zh.strip() and en.strip(), f"{section}.{name}"


def test_the_font_check_reads_every_text_of_the_catalog(settings: Settings) -> None:
    needed = set(all_texts(settings))
    for section, table in CATALOG.items():
        for name, pair in table.items():
            assert set("".join(pair)) <= needed, f"{section}.{name}"


def _keys_asked_for(path: Path) -> tuple[str | None, list[str]]:
    """The section a module speaks for (`say = Voice(...)`), or None when it uses full keys, and every
    literal key its `say(...)` calls ask for (both branches of a conditional included)."""
    tree = ast.parse(path.read_text())
    section = None
    for statement in tree.body:
        if isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Call) \
                and getattr(statement.value.func, "id", "") == "Voice" \
                and getattr(statement.targets[0], "id", "") == "say":
            section = ast.literal_eval(statement.value.args[0])
    asked = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "say" and node.args:
            first = node.args[0]
            for choice in (first.body, first.orelse) if isinstance(first, ast.IfExp) else (first,):
                if isinstance(choice, ast.Constant) and isinstance(choice.value, str):
                    asked.append(choice.value)
    return section, asked


@pytest.mark.parametrize("path", sorted(SCREENS.glob("*.py")), ids=lambda path: path.name)
def test_every_literal_key_the_screens_ask_for_is_in_the_catalog(path: Path) -> None:
    section, asked = _keys_asked_for(path)
    for key in asked:
        full = f"{section}.{key}" if section else key
        name_of_section, _, name = full.partition(".")
        assert name in CATALOG.get(name_of_section, {}), f"{path.name} asks for {full!r}"
