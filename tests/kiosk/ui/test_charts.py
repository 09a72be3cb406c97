"""The staff-scores charts in a real offscreen Kivy window: the geometry they drew, read from the widgets."""
from __future__ import annotations

import pytest

from tests.kiosk.ui.conftest import pump

GREEN, RED = (0.1, 0.5, 0.2, 1), (0.7, 0.1, 0.1, 1)


@pytest.fixture
def place(window):
    """Put a chart in the window at a known size; take it out afterwards."""
    placed = []

    def put(chart, size=(600, 300), pos=(20, 30)):
        chart.size_hint = (None, None)
        chart.size, chart.pos = size, pos
        window.add_widget(chart)
        placed.append(chart)
        pump()
        return chart

    yield put
    for chart in placed:
        window.remove_widget(chart)


def labels(chart):
    from kivy.uix.label import Label

    return [child for child in reversed(chart.children) if isinstance(child, Label)]


def test_level_bars_are_proportional_to_counts_best_level_on_top(place):
    from kiosk.ui.charts import LevelBars

    counts = [10, 5, 0, 2, 1]
    bars = place(LevelBars(entries=[(f"L{5 - i}", GREEN if i < 3 else RED, n) for i, n in enumerate(counts)]))
    widths = [rect[2] for rect in bars.bar_rects]
    full = 600 * (1 - bars.label_share - bars.count_share)
    assert widths == pytest.approx([full * n / 10 for n in counts])
    assert [rect[0] for rect in bars.bar_rects] == pytest.approx([20 + 600 * bars.label_share] * 5)
    tops = [rect[1] for rect in bars.bar_rects]
    assert tops == sorted(tops, reverse=True) and tops[0] > 30 + 300 * 0.75 and tops[-1] < 30 + 300 * 0.2
    assert [label.text for label in labels(bars)] == ["L5", "10", "L4", "5", "L3", "0", "L2", "2", "L1", "1"]


def test_level_bars_follow_a_resize_and_reuse_their_labels(place):
    from kiosk.ui.charts import LevelBars

    bars = place(LevelBars(entries=[("a", GREEN, 4), ("b", RED, 2)]))
    before = labels(bars)
    for n in range(40):                           # a refresh every few seconds, all day
        bars.entries = [("a", GREEN, 4 + n), ("b", RED, 2)]
        pump(1)
    bars.width = 900
    pump()
    assert labels(bars) == before                 # the same Label widgets, re-texted: no texture per refresh
    assert bars.bar_rects[0][2] == pytest.approx(900 * (1 - bars.label_share - bars.count_share))
    assert bars.bar_rects[1][2] == pytest.approx(bars.bar_rects[0][2] * 2 / 43)
    assert labels(bars)[1].text == "43"


def test_all_zero_counts_draw_no_bars_and_no_error(place):
    from kiosk.ui.charts import LevelBars

    bars = place(LevelBars(entries=[("a", GREEN, 0), ("b", RED, 0)]))
    assert [rect[2] for rect in bars.bar_rects] == [0, 0]


def test_rate_gauge_fills_in_proportion_and_marks_the_target(place):
    from kiosk.ui.charts import RateGauge

    gauge = place(RateGauge(rate=0.923, target=0.8, text="92.3 %", target_text="目标 80 %", meets=True))
    x, _y, width, _h = gauge.track_rect
    assert width == pytest.approx(600)
    assert gauge.fill_rect[2] == pytest.approx(0.923 * width)
    assert gauge.target_x == pytest.approx(x + 0.8 * width)
    assert labels(gauge)[0].text == "92.3 %"

    gauge.rate, gauge.text, gauge.meets = 0.5, "50.0 %", False
    pump()
    assert gauge.fill_rect[2] == pytest.approx(0.5 * width) and labels(gauge)[0].text == "50.0 %"
    gauge.rate, gauge.text, gauge.meets = None, "—", None     # nothing rated yet: an empty track, not 0 %
    pump()
    assert gauge.fill_rect[2] == 0 and labels(gauge)[0].text == "—"


def test_trend_draws_gaps_for_days_without_ratings(place):
    from kiosk.ui.charts import TrendChart

    rates = [0.9] * 30
    for i in (0, 7, 8, 15, 28):                  # runs: 1–6, 9–14, 16–27, 29 (a lone last day)
        rates[i] = None
    chart = place(TrendChart(rates=rates, target=0.8, floor=0.5, first_text="10-28", last_text="11-26"))
    assert chart.gaps == [0, 7, 8, 15, 28]
    assert [len(points) // 2 for points in chart.segments] == [6, 6, 12]
    assert len(chart.dots) == 25                 # the lone day 29 shows as a dot, without a line
    x0, y0, width, height = chart.plot_rect
    xs = [x for x, _y in chart.dots]
    assert xs[0] == pytest.approx(x0 + width / 29) and xs[-1] == pytest.approx(x0 + width)
    assert chart.target_y == pytest.approx(y0 + height * (0.8 - 0.5) / 0.5)
    assert all(y == pytest.approx(y0 + height * 0.8) for _x, y in chart.dots)


def test_trend_heights_follow_the_rates_and_a_new_series_replaces_the_old(place):
    from kiosk.ui.charts import TrendChart

    chart = place(TrendChart(rates=[1.0, 0.5, 0.0]))
    _x0, y0, _w, height = chart.plot_rect
    assert [y for _x, y in chart.dots] == pytest.approx([y0 + height, y0 + height / 2, y0])
    assert len(chart.segments) == 1
    chart.rates = [None] * 30
    pump()
    assert chart.segments == [] and chart.dots == [] and len(chart.gaps) == 30
