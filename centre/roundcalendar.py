"""The model-unit round's calendar (示范点创评): the policy's year of phases, and which years a round may be.

April mobilisation (动员部署), May–June finding problems (查找问题), July–September rectification (整改提升),
October–November application and acceptance (申报验收), December results (结果公布). January to March the
year's round has not opened: the last round's results stand. The rest of the round is centre/modelround.py.
"""
from __future__ import annotations

from calendar import monthrange
from dataclasses import dataclass
from datetime import date
from enum import Enum

from centre.errors import BadInput

FIRST_YEAR = 2000            # no round before the evaluator; a year like 1800 is a typing slip


class Phase(str, Enum):
    NOT_OPEN = "not_open"               # January–March: the year's round has not begun
    MOBILISATION = "mobilisation"       # 动员部署
    FINDING = "finding"                 # 查找问题
    RECTIFICATION = "rectification"     # 整改提升
    ACCEPTANCE = "acceptance"           # 申报验收
    RESULTS = "results"                 # 结果公布


# (first month, last month) of each of the round's phases, both included
PHASE_MONTHS = {Phase.MOBILISATION: (4, 4), Phase.FINDING: (5, 6), Phase.RECTIFICATION: (7, 9),
                Phase.ACCEPTANCE: (10, 11), Phase.RESULTS: (12, 12)}


class When(str, Enum):
    DONE = "done"
    NOW = "now"
    LATER = "later"


@dataclass(frozen=True)
class PhaseSpan:
    phase: Phase
    start: date
    end: date
    when: When


def phase_of(day: date) -> Phase:
    return next((phase for phase, (first, last) in PHASE_MONTHS.items() if first <= day.month <= last),
                Phase.NOT_OPEN)


def timeline(year: int, today: date) -> list[PhaseSpan]:
    """The round's phases with their dates, each done, under way or to come as seen from `today`."""
    spans = []
    for phase, (first, last) in PHASE_MONTHS.items():
        start, end = date(year, first, 1), date(year, last, monthrange(year, last)[1])
        when = When.DONE if end < today else (When.LATER if start > today else When.NOW)
        spans.append(PhaseSpan(phase, start, end, when))
    return spans


def check_year(year: int, today: date) -> int:
    """A round's year: from FIRST_YEAR to next year (the office may set the next round's terms)."""
    if not FIRST_YEAR <= year <= today.year + 1:
        raise BadInput(f"year: a round from {FIRST_YEAR} to {today.year + 1}, got {year}")
    return year


def parse_year(text: str | None, today: date) -> int:
    if text is None or text == "":
        return today.year
    if not (text.isascii() and text.isdigit() and len(text) <= 4):
        raise BadInput(f"year: four digits such as {today.year}, got {text[:20]!r}")
    return check_year(int(text), today)

