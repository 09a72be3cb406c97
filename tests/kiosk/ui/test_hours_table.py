"""The opening hours as a table on the waiting and attract screens, at every size and in both languages: every
session line starts at the same x, right of the widest days, and every days text stays on one line.

Read from the lines Kivy laid out for drawing, in a real offscreen window.
"""
from __future__ import annotations

import pytest

from kiosk.config import Locale
from kiosk.screens.demo import demo_settings
from kiosk.screens.presenter import ScreenName
from tests.kiosk.ui.test_layouts import SIZES, each_citizen_screen

STATES = [(name.value, name, None) for name in (ScreenName.WAITING, ScreenName.ATTRACT)]
# The default week (two sessions on weekdays) and an irregular one: long days, one and two sessions.
WEEKS = {
    "default": None,
    "irregular": [{"days": ["mon", "wed", "thu", "fri"], "open": "08:30", "close": "12:00"},
                  {"days": ["mon", "wed", "thu", "fri"], "open": "13:00", "close": "17:00"},
                  {"days": ["tue"], "open": "08:30", "close": "20:00"},
                  {"days": ["sat"], "open": "09:00", "close": "12:00"}],
}


def drawn_lines(label) -> list[tuple[float, float, str]]:
    """(x where the line starts, its width, its text) in window coordinates, for each line Kivy drew."""
    label.texture_update()
    x0 = label.to_window(label.x, label.y)[0] + (label.width - label.texture_size[0]) / 2   # texture centred
    return [(x0 + line.x, line.w, "".join(word.text for word in line.words)) for line in label._label._cached_lines]


@pytest.mark.parametrize("week", list(WEEKS))
@pytest.mark.parametrize("locale", list(Locale), ids=lambda locale: locale.value)
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_sessions_line_up_in_their_own_column(window, make_settings, size, locale, week):
    from kiosk.ui.widgets import HoursRow

    unit = {"opening_hours": WEEKS[week]} if WEEKS[week] else {}
    settings = demo_settings(make_settings(unit=unit))
    for name, screen in each_citizen_screen(window, settings, size, locale, STATES):
        rows = [w for w in screen.ids.hours_table.children if isinstance(w, HoursRow)]
        assert len(rows) >= 2, name
        days = [drawn_lines(row.ids.days) for row in rows]
        sessions = [drawn_lines(row.ids.sessions) for row in rows]
        assert all(len(lines) == 1 and lines[0][2] == row.days for lines, row in zip(days, rows, strict=True)), days
        assert [len(lines) for lines in sessions] == [row.sessions.count("\n") + 1 for row in rows]
        assert max(len(lines) for lines in sessions) == 2, name      # a second session was among them
        starts = {round(x, 1) for lines in sessions for x, _w, _text in lines}
        assert len(starts) == 1, (name, starts)                      # one column, whatever the row
        days_end = max(x + w for lines in days for x, w, _text in lines)
        assert starts.pop() > days_end + 1, name                     # right of every days text
