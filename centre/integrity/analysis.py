"""`analyse`: every integrity signal over a span of the units' local days, stored as flags.

    result = analyse(engine, date(2026, 1, 1), date(2026, 3, 31), IntegritySettings(), progress=print_it)

Finds (centre/integrity/runner.py) then stores (centre/integrity/flags.py) in one transaction, so a run that
fails stores nothing. Run it again over the same or an overlapping span and the flags stay one per thing
found; a flag the office reviewed keeps its state. The CLI's `evaluator centre integrity analyse` and the
daily housekeeping call this; so does bench/integrity_recall.py.

A large city is read by worker processes started with `spawn`: a script that calls `analyse` must guard its
own start with `if __name__ == "__main__":` (multiprocessing imports the main module again in each worker).
"""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from centre.integrity import flags
from centre.integrity.frame import Span
from centre.integrity.model import Finding, SignalKind
from centre.integrity.runner import Progress, find
from centre.integrity.settings import DEFAULT_SETTINGS, IntegritySettings


@dataclass(frozen=True)
class AnalysisResult:
    day_from: date
    day_to: date
    units: int
    findings: list[Finding]        # what the signals found in this run, before storing
    flag_ids: list[int]            # the flags they are stored as (a finding the office had judged: none)
    created: int
    updated: int
    reviewed: int                  # findings left alone: the office had already judged those days
    seconds: float

    @property
    def by_kind(self) -> dict[SignalKind, int]:
        """Findings per kind, every kind listed (0 for none)."""
        counted = Counter(found.kind for found in self.findings)
        return {kind: counted.get(kind, 0) for kind in SignalKind}


def analyse(engine: Engine, day_from: date, day_to: date, settings: IntegritySettings = DEFAULT_SETTINGS,
            progress: Progress | None = None, *, now: datetime | None = None) -> AnalysisResult:
    """Run every signal over [day_from, day_to] (the units' local days, both included) and store the findings
    as integrity flags. `progress(done, of, what)` hears of each group of units tested; `now` (tests) is when
    the receipts' grace is counted from."""
    started = time.monotonic()
    span = Span(day_from, day_to)
    found = find(engine, span, settings, progress, now)
    with engine.begin() as conn:
        stored = flags.store(conn, found.findings, (day_from, day_to))
    if progress:
        progress(1, 1, f"{len(found.findings)} findings stored")
    return AnalysisResult(day_from, day_to, found.units, found.findings, stored.ids, stored.created, stored.updated,
                          stored.reviewed, round(time.monotonic() - started, 2))


# The daily run (centre/housekeeping.py): after the city's night, over the four weeks ending yesterday. A day
# alone has no baseline: a burst, a collapse or a silence is judged against the counter's own other days, so
# each night looks at the last four weeks again, and the flags it finds grow rather than repeat.
DAILY_WINDOW_DAYS = 28
DAILY_AFTER = clock_time(2, 0)     # local time: the terminals' evening syncs are in
CITY_ZONE = ZoneInfo("Asia/Shanghai")


def daily_due(now: datetime, done: date | None, zone: ZoneInfo = CITY_ZONE) -> date | None:
    """Yesterday (the city's), when its daily run is due and not `done` yet; else None."""
    local = now.astimezone(zone)
    yesterday = local.date() - timedelta(days=1)
    if local.time() < DAILY_AFTER or done == yesterday:
        return None
    return yesterday


def analyse_daily(engine: Engine, yesterday: date, settings: IntegritySettings = DEFAULT_SETTINGS) -> AnalysisResult:
    """The daily run: the DAILY_WINDOW_DAYS ending with `yesterday`."""
    return analyse(engine, yesterday - timedelta(days=DAILY_WINDOW_DAYS - 1), yesterday, settings)
