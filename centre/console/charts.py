"""ECharts options built in Python (a template only places them): the trend with the 80 % line, the level
distribution, the channel mix. Each is a plain dict the page hands to console.js as JSON."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

TARGET = 0.80
GOOD_COLOUR, BAD_COLOUR, LINE_COLOUR = "#2f7d32", "#c62828", "#1565c0"
LEVEL_COLOURS = ("#c62828", "#ef6c00", "#f9a825", "#7cb342", "#2e7d32")   # 非常不满意 … 非常满意


def _percent(rate: float | None) -> float | None:
    return None if rate is None else round(rate * 100, 2)


def trend(labels: Sequence[str], rates: Sequence[float | None], counts: Sequence[int],
          t: Callable[..., str], target: float = TARGET) -> dict[str, Any]:
    """Satisfaction per bucket (a line, gaps where nothing was rated) over the ratings (bars), with the
    target drawn: the line is honest only where the bars are tall, so both are shown."""
    return {
        "animation": False,
        "tooltip": {"trigger": "axis"},
        "legend": {"data": [t("base.good_rate"), t("base.rated")], "top": 0},
        "grid": {"left": 48, "right": 56, "top": 32, "bottom": 32},
        "xAxis": {"type": "category", "data": list(labels)},
        "yAxis": [{"type": "value", "min": 0, "max": 100, "axisLabel": {"formatter": "{value}%"}},
                  {"type": "value", "splitLine": {"show": False}}],
        "series": [
            {"name": t("base.good_rate"), "type": "line", "data": [_percent(r) for r in rates],
             "connectNulls": False, "itemStyle": {"color": LINE_COLOUR},
             "markLine": {"silent": True, "symbol": "none", "lineStyle": {"color": BAD_COLOUR, "type": "dashed"},
                          "label": {"formatter": t("base.target_line"), "position": "insideStartTop"},
                          "data": [{"yAxis": round(target * 100, 2)}]}},
            {"name": t("base.rated"), "type": "bar", "yAxisIndex": 1, "data": list(counts),
             "itemStyle": {"color": "#b0bec5"}},
        ],
    }


def levels(by_level: dict[str, int], t: Callable[..., str]) -> dict[str, Any]:
    """The five levels as bars, coloured from bad to good."""
    keys = sorted(by_level)
    return {
        "animation": False,
        "tooltip": {"trigger": "axis"},
        "grid": {"left": 110, "right": 24, "top": 8, "bottom": 24},
        "xAxis": {"type": "value"},
        "yAxis": {"type": "category", "data": [t(f"base.level_{k}") for k in keys]},
        "series": [{"type": "bar", "data": [{"value": by_level[k], "itemStyle": {"color": LEVEL_COLOURS[int(k) - 1]}}
                                            for k in keys]}],
    }


def shares(named: dict[str, int]) -> dict[str, Any]:
    """A part-of-whole (the channel mix): a ring with the counts in its labels."""
    return {
        "animation": False,
        "tooltip": {"trigger": "item", "formatter": "{b}: {c} ({d}%)"},
        "series": [{"type": "pie", "radius": ["40%", "70%"], "label": {"formatter": "{b}\n{c}"},
                    "data": [{"name": name, "value": value} for name, value in named.items()]}],
    }
