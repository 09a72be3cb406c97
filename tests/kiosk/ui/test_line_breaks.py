"""Chinese line breaking as drawn: on the call-back, waiting and attract screens, at every size and in both
languages, no wrapped line starts with closing punctuation or ends with an opening bracket, and the
retention days ("7 天", "7 days") are never split, whether the text comes from the catalog or config.yaml.

Read from the lines Kivy actually laid out (its core label's lines), in a real offscreen window.
"""
from __future__ import annotations

import pytest

from kiosk.config import Locale
from kiosk.screens.demo import demo_settings
from kiosk.screens.linebreak import NO_END, NO_START
from kiosk.screens.presenter import ScreenName
from tests.kiosk.ui.test_layouts import SIZES, each_citizen_screen, visible

# A consent text as a unit might write it in config.yaml: short clauses, so that at some width a "，" or "。"
# falls where a line would break, and the retention days in the middle.
CLAUSES_ZH = ("我同意留下电话号码，由本中心工作人员回电，号码只用于此次回电，与评价分开保存，"
              "最长在本机保留 {days} 天，期满即删除，送达中心后也即删除（不再保留），谢谢。")
CLAUSES_EN = ("I agree to leave my number, for a call-back only; it is kept apart from my rating, for "
              "{days} days at most, then erased (or once it reaches the centre).")
STATES = [(name.value, name, None) for name in (ScreenName.CALLBACK, ScreenName.WAITING, ScreenName.ATTRACT)]


def drawn_lines(label) -> list[str]:
    """The lines of `label` as Kivy laid them out for drawing."""
    label.texture_update()
    return ["".join(word.text for word in line.words) for line in label._label._cached_lines]


def wrapped_labels(screen):
    from kiosk.ui.widgets import FitLabel

    return [w for w in screen.walk() if isinstance(w, FitLabel) and w.text and visible(w, screen)]


def break_problems(lines: list[str], text: str) -> list[str]:
    """What breaks the rules in `lines`, drawn from `text` (whose own "\\n"s are not wraps)."""
    found = [f"starts with {line[0]!r}: {line!r}" for line in lines if line and line[0] in NO_START]
    found += [f"ends with {line[-1]!r}: {line!r}" for line in lines if line and line[-1] in NO_END]
    found += [f"a number parted from its unit: {a!r} / {b!r}" for a, b in zip(lines, lines[1:], strict=False)
              if a and b and a[-1].isdigit() and not b[0].isdigit() and f"{a}\n{b}" not in text]
    return found


@pytest.mark.parametrize("consent", ["default", "clauses"])
@pytest.mark.parametrize("locale", list(Locale), ids=lambda locale: locale.value)
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_no_line_starts_with_closing_punctuation_and_the_days_stay_whole(window, make_settings, size, locale,
                                                                          consent):
    callback = {"consent_zh": CLAUSES_ZH, "consent_en": CLAUSES_EN} if consent == "clauses" else {}
    settings = demo_settings(make_settings(citizen={"callback": callback}))
    days = locale.pick("7 天", "7 days")
    found: dict[str, list[str]] = {}
    checked = 0
    for name, screen in each_citizen_screen(window, settings, size, locale, STATES):
        for label in wrapped_labels(screen):
            lines = drawn_lines(label)
            checked += len(lines) > 1
            if issues := break_problems(lines, label.text):
                found[f"{name} {label.text[:12]!r}"] = issues
        consent_lines = drawn_lines(screen.ids.consent.ids.consent_text) if name == "callback" else [days]
        assert any(days in line for line in consent_lines), (name, consent_lines)
    assert found == {}
    assert checked >= 2           # wrapped text was among the labels checked: the consent, the QR caption …
