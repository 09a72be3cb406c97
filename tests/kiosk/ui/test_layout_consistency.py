"""What stays the same from one screen to the next, and what must not be cut or crossed (issue #14):

the header bar's height, the 中文/English button's place and size, one font size for the five English level
names, the gauge's target mark clear of its "Target 80 %" caption, and a staff-table or bad-review cell
shortened only when its row has no room for both texts. Checked from widget geometry in a real offscreen window.
"""
from __future__ import annotations

import pytest

from kiosk.config import Locale
from kiosk.screens.demo import demo_settings
from kiosk.screens.presenter import ScreenName
from tests.kiosk.ui.conftest import pump
from tests.kiosk.ui.test_layouts import SIZES, each_citizen_screen

WITH_HEADER = [ScreenName.RATING, ScreenName.WAITING, ScreenName.REASONS, ScreenName.CALLBACK, ScreenName.THANKS]
WITH_LANGUAGE = [ScreenName.RATING, ScreenName.WAITING, ScreenName.REASONS, ScreenName.CALLBACK]


def window_rect(widget) -> tuple[int, ...]:
    x, y = widget.to_window(widget.x, widget.y)
    return tuple(round(v) for v in (x, y, widget.width, widget.height))


def headers(screen) -> list:
    return [w for w in screen.walk() if type(w).__name__ == "Header"]


@pytest.mark.parametrize("locale", list(Locale), ids=lambda locale: locale.value)
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_header_and_language_button_are_the_same_on_every_screen(window, make_settings, size, locale):
    settings = demo_settings(make_settings())
    header_rects, language_rects = {}, {}
    states = [(name.value, name, None) for name in WITH_HEADER]
    for name, screen in each_citizen_screen(window, settings, size, locale, states):
        found = headers(screen)
        assert len(found) == 1, name
        header_rects[name] = window_rect(found[0])
        if ScreenName(name) in WITH_LANGUAGE:
            language_rects[name] = window_rect(screen.ids.language)
    assert len(set(header_rects.values())) == 1, header_rects
    assert len(set(language_rects.values())) == 1, language_rects
    x, y, w, h = language_rects[ScreenName.RATING.value]
    assert x + w <= size[0] and y >= 0 and x + w > size[0] * 0.9     # in the bottom right corner


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_five_english_level_names_share_one_font_size(window, make_settings, size):
    settings = demo_settings(make_settings())
    states = [(ScreenName.RATING.value, ScreenName.RATING, None)]
    for _name, screen in each_citizen_screen(window, settings, size, Locale.EN, states):
        pump(3)
        sizes = {round(button.ids.label.font_size, 1) for button in screen.ids.levels.children}
        assert len(screen.ids.levels.children) == 5 and len(sizes) == 1, sizes


def caption_box(label) -> tuple[float, float, float, float]:
    """Where a right-aligned label's text is drawn: its texture at the right of the label."""
    width, height = label.texture_size
    return label.right - width, label.center_y - height / 2, label.right, label.center_y + height / 2


@pytest.mark.parametrize("box", [(246, 90), (400, 160), (320, 260), (600, 200), (180, 70)])
def test_the_target_mark_stays_clear_of_its_caption(window, box):
    from kiosk.ui.charts import RateGauge

    gauge = RateGauge(size_hint=(None, None), size=box, rate=0.857, target=0.8, text="85.7 %",
                      target_text="Target 80 %")
    window.add_widget(gauge)
    try:
        pump(3)
        caption = next(w for w in gauge.children if w.text == "Target 80 %")
        caption.texture_update()
        x0, y0, x1, y1 = caption_box(caption)
        bottom, top = gauge.mark_span
        crosses = x0 - 2 <= gauge.target_x <= x1 + 2 and bottom < y1 and top > y0
        assert not crosses, (gauge.target_x, gauge.mark_span, (x0, y0, x1, y1))
    finally:
        window.remove_widget(gauge)


@pytest.mark.parametrize("width", [265, 330, 420, 600])
def test_a_score_line_is_shortened_only_when_its_row_has_no_room(window, width):
    from kivy.core.text import Label as CoreLabel

    from kiosk.ui import kv
    from kiosk.ui.screens import ScoreLine

    kv.load(kv.CITIZEN + kv.STAFF)
    lines = [ScoreLine(left="12:24  Very dissatisfied  Li Ming", right="Unfriendly service"),
             ScoreLine(left="11:16  不满意  张伟", right="服务态度差"),
             ScoreLine(left="Wang Fang", right="5   100.0 %   Bad reviews 0", right_share=2.2)]
    for line in lines:
        line.size_hint_x, line.width = None, width
        window.add_widget(line)
    try:
        pump(4)
        for line in lines:
            left, right = line.ids.left_label, line.ids.right_label
            for label in (left, right):
                label.texture_update()
            needs = sum(CoreLabel(font_size=label.font_size, font_name=label.font_name, bold=label.bold)
                        .get_extents(label.text)[0] + 14 for label in (left, right))
            if needs <= width:
                assert not left.is_shortened and not right.is_shortened, (width, line.left, line.right)
    finally:
        for line in lines:
            window.remove_widget(line)
