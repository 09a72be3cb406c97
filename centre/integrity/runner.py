"""Every signal over a span: the units read in groups (in worker processes when the city is large), then the
signals that compare units with each other or read the stored tables directly. Stores nothing:
centre/integrity/analysis.py stores what this finds.

Each group of units is read once (centre/integrity/reading.py) and every per-unit signal runs on it while it is
in memory, with the cyclic garbage collector paused (centre/cycles.py). On PostgreSQL or a SQLite file,
groups go to `settings.workers` processes (spawned: a forked copy of a process holding open connections shares
their sockets); each opens its own engine once.
"""
from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime
from functools import partial

from sqlalchemy import Engine, select

from centre.cases.workdays import WorkingCalendar, load_calendar
from centre.cycles import no_cycle_collection
from centre.db.engine import open_engine
from centre.db.tables import model_rounds
from centre.integrity.data import Timeline, UnitData, UnitRow, timelines, unit_rows
from centre.integrity.frame import Span
from centre.integrity.model import Finding
from centre.integrity.reading import read_group
from centre.integrity.settings import IntegritySettings
from centre.integrity.signals import devices, distribution, hours, records, services, silence, timing
from centre.roundcalendar import PHASE_MONTHS

Progress = Callable[[int, int, str], None]      # (done, of, what): the CLI prints it to stderr
UnitSignal = Callable[[UnitData, IntegritySettings], list[Finding]]

PER_UNIT: tuple[UnitSignal, ...] = (
    hours.out_of_hours, hours.no_staff, hours.technician_mode, services.unsolicited,
    services.more_ratings_than_cases, timing.fast_press, timing.cooldown_edge, timing.top_burst,
    distribution.unrated_collapse, devices.suppressed_spike, silence.selective_silence, devices.clock_jump)
GROUPS_PER_WORKER = 10         # groups per worker: the last group's worker runs alone; keep it short
MAX_GROUP = 24                 # units a worker holds at once (read READ_UNITS at a time: reading.py)


@dataclass(frozen=True)
class Found:
    findings: list[Finding]
    units: int


def ranking_days(engine: Engine, span: Span) -> list[date]:
    """The days a ranking was published within the span. The centre records no publication date of its own:
    the console ranks any month at any time, and the policy's practice is a monthly notice (月度通报), so the
    first day of each month stands for one; the model-unit round's phases (centre/roundcalendar.py) all begin
    on a month's first day; and the day the office confirmed a round's list is its results' publication."""
    found = set(distribution.first_days(span.day_from, span.day_to))
    found |= {date(year, first, 1) for year in range(span.day_from.year, span.day_to.year + 1)
              for first, _ in PHASE_MONTHS.values() if span.day_from <= date(year, first, 1) <= span.day_to}
    with engine.connect() as conn:
        for confirmed_at in conn.execute(select(model_rounds.c.confirmed_at).where(
                model_rounds.c.confirmed_at.isnot(None))).scalars():
            day = datetime.fromisoformat(confirmed_at).date()
            if span.day_from <= day <= span.day_to:
                found.add(day)
    return sorted(found)


def find(engine: Engine, span: Span, settings: IntegritySettings, progress: Progress | None = None,
         now: datetime | None = None) -> Found:
    with engine.connect() as conn:
        rows = unit_rows(conn)
        lines = timelines(conn)
        calendar = load_calendar(conn)
    published = ranking_days(engine, span)
    groups = _groups(rows, settings)
    context = _Context(span, settings, lines, calendar, published)
    findings: list[Finding] = []
    tallies: list[distribution.UnitTally] = []
    for done, (found, counted) in enumerate(_each_group(engine, groups, context), start=1):
        findings.extend(found)
        tallies.extend(counted)
        if progress:
            progress(done, len(groups), "groups of units read and tested")
    findings.extend(distribution.no_bad_reviews(tallies, settings))
    where = records.places(lines, rows)
    with engine.connect() as conn:
        findings.extend(records.chain_problem(conn, span, settings, where))
        findings.extend(records.receipt_missing(conn, span, settings, where, now))
    return Found(sorted(findings, key=lambda f: (f.kind.value, f.unit_id, f.fingerprint)), len(rows))


@dataclass(frozen=True)
class _Context:
    span: Span
    settings: IntegritySettings
    lines: dict[str, Timeline]
    calendar: WorkingCalendar
    published: list[date]


def _groups(rows: list[UnitRow], settings: IntegritySettings) -> list[list[UnitRow]]:
    size = max(1, min(MAX_GROUP, len(rows) // (settings.workers * GROUPS_PER_WORKER) or 1))
    return [rows[start:start + size] for start in range(0, len(rows), size)]


def _each_group(engine: Engine, groups: list[list[UnitRow]], context: _Context):  # type: ignore[no-untyped-def]
    """(findings, tallies) per group, in the groups' order."""
    units = sum(len(group) for group in groups)
    parallel = (context.settings.workers > 1 and units >= context.settings.parallel_min_units
                and not _in_memory(engine))
    if not parallel:
        for group in groups:
            yield _tested(engine, group, context)
        return
    url = engine.url.render_as_string(hide_password=False)
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(context.settings.workers, mp_context=spawn, initializer=_start_worker,
                             initargs=(url, context)) as pool:
        yield from pool.map(_worker_group, groups)


def _in_memory(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite" and engine.url.database in (None, "", ":memory:")


def _tested(engine: Engine, group: Sequence[UnitRow],
            context: _Context) -> tuple[list[Finding], list[distribution.UnitTally]]:
    signals: list[UnitSignal] = [*PER_UNIT,
                                 partial(distribution.step_after_ranking, published=context.published),
                                 partial(devices.counter_change, lines=context.lines)]
    findings: list[Finding] = []
    with no_cycle_collection():
        with engine.connect() as conn:
            units = read_group(conn, group, context.span, context.lines, context.calendar, context.settings)
        for unit in units:
            for signal in signals:
                findings.extend(signal(unit, context.settings))
        tallies = [distribution.tally(unit) for unit in units]
        del units            # freed now, by reference counting: the collector, back on, need not walk them
    return findings, tallies


_WORKER: dict[str, object] = {}


def _start_worker(url: str, context: _Context) -> None:
    _WORKER["engine"] = open_engine(url, create=False)
    _WORKER["context"] = context


def _worker_group(group: list[UnitRow]) -> tuple[list[Finding], list[distribution.UnitTally]]:
    engine, context = _WORKER["engine"], _WORKER["context"]
    assert isinstance(engine, Engine) and isinstance(context, _Context)
    return _tested(engine, group, context)
