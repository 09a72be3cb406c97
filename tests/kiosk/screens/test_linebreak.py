"""The line breaker, without Kivy: kinsoku rules, numbers with their units, Latin words whole."""
from __future__ import annotations

import pytest

from kiosk.screens.linebreak import NO_END, NO_START, break_lines, unbreakable


def ems(text: str) -> float:
    """A stand-in for a font: a Chinese character 1 em wide, anything else half of one."""
    return sum(1.0 if ord(ch) >= 0x2E80 else 0.5 for ch in text)


CONSENT = ("我同意留下电话号码，由本服务中心工作人员就本次评价回电联系我。号码仅用于此次回电，与评价分开保存，"
           "送达服务中心后即从本机删除，最长在本机保留 7 天。")


@pytest.mark.parametrize("width", [4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 17])
def test_no_line_starts_with_closing_punctuation_and_7_days_stay_together(width):
    lines = break_lines(CONSENT, width, ems)
    assert "".join(lines).replace(" ", "") == CONSENT.replace(" ", "")
    assert all(ems(line) <= width for line in lines)
    assert not [line for line in lines if line[0] in NO_START or line[-1] in NO_END]
    assert any("7 天" in line for line in lines)


def test_a_comma_that_would_start_a_line_takes_the_character_before_it_along():
    assert break_lines("一二三四，五六", 4, ems) == ["一二三", "四，五六"]
    assert break_lines("一二三（四五）", 4, ems) == ["一二三", "（四五）"]     # no line ends with "（"


@pytest.mark.parametrize(("text", "kept"), [("宽 15 mm", "15 mm"), ("满意率 80 % 以上", "80 %"), ("保留7天", "7天")])
def test_a_number_keeps_its_unit(text, kept):
    for width in range(3, 10):
        assert any(kept in line for line in break_lines(text, width, ems)), width


def test_latin_words_stay_whole_and_spaces_at_a_break_go():
    lines = break_lines("Keep the number for 7 days at most.", 6, ems)
    assert lines == ["Keep the", "number for", "7 days at", "most."]
    assert break_lines("第一行\n第二行", 10, ems) == ["第一行", "第二行"]     # the text's own line breaks kept


def test_a_piece_wider_than_the_line_is_cut_and_reported():
    assert break_lines("Verylongword", 3, ems) == ["Verylo", "ngword"]
    assert "Verylongword" in unbreakable("短 Verylongword，")[1]
