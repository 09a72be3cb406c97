"""Honest but unusual units: what a city has that looks odd and is not a manipulation, planted beside the
dishonest ones (centre/demo/manipulate.py) so that a signal that flags them shows as a false alarm.

- very good: citizens almost never give a bad review (a few in a thousand), honestly;
- tiny: a hall a few citizens a day come to;
- busy holiday: a business hall open every day, crowded on the public holidays of the span (on two Sundays
  when the span holds none);
- broken panel: a counter whose key panel fails for an hour on some days: the link drops and comes back, a
  bouncing key sends presses the terminal does not count, until a technician reconnects it;
- late opening: a hall open from mid-morning into the evening (延时服务), its hours registered as such.
"""
from __future__ import annotations

import random
from dataclasses import replace
from datetime import date, datetime, timedelta
from enum import Enum
from zoneinfo import ZoneInfo

from centre.demo import day, workdays
from centre.demo.cheats import Scripted, pressed_in_vain
from centre.demo.city import Channel, DemoUnit, TerminalMode
from centre.demo.day import CounterDay
from centre.demo.terminal import EventKind, Suppression

LATE_HOURS = "mon-sat 10:30-20:00"
BUSY_LOAD = 2.2              # a crowded holiday: twice a Monday's citizens
PANEL_PORT = "/dev/evaluator-panel"


class Unusual(str, Enum):
    VERY_GOOD = "very_good"
    TINY = "tiny"
    BUSY_HOLIDAY = "busy_holiday"
    BROKEN_PANEL = "broken_panel"
    LATE_OPENING = "late_opening"


HOW = {
    Unusual.VERY_GOOD: "citizens give a bad review a few times in a thousand",
    Unusual.TINY: "well under one citizen an hour at each counter",
    Unusual.BUSY_HOLIDAY: f"open every day; {BUSY_LOAD}× a midweek day's citizens on its busy days",
    Unusual.BROKEN_PANEL: "the key panel drops out for up to an hour on some days: a bouncing key's presses "
                          "do not count; a technician reconnects it",
    Unusual.LATE_OPENING: f"open {LATE_HOURS} (registered so)",
}


def eligible(kind: Unusual, unit: DemoUnit) -> bool:
    if kind is Unusual.BUSY_HOLIDAY:
        return "sun" in unit.spec.opening_hours
    if kind is Unusual.BROKEN_PANEL:
        return unit.behaviour.channel is Channel.PANEL
    return True


def reshaped(kind: Unusual, unit: DemoUnit, rng: random.Random) -> DemoUnit:
    """The unit as planned, made unusual where its plan is what differs."""
    behaviour = unit.behaviour
    if kind is Unusual.VERY_GOOD:
        bad, top = rng.uniform(0.003, 0.008), rng.uniform(0.8, 0.92)
        levels = (bad * 0.3, bad * 0.7, (1 - bad) * (1 - top) * 0.3, (1 - bad) * (1 - top) * 0.7, (1 - bad) * top)
        return replace(unit, behaviour=replace(behaviour, good_target=1 - bad, levels=levels))
    if kind is Unusual.TINY:
        return replace(unit, behaviour=replace(behaviour, services_per_hour=rng.uniform(0.3, 0.7)))
    if kind is Unusual.LATE_OPENING:
        return replace(unit, spec=replace(unit.spec, opening_hours=LATE_HOURS))
    return unit


def busy_days(unit: DemoUnit, days: list[date]) -> list[date]:
    """The span's public holidays the unit opens on; two Sundays when it holds none."""
    zone = ZoneInfo(unit.spec.timezone)
    open_days = [on for on in days if workdays.periods(unit.spec.opening_hours, on, zone)]
    # A Sunday runs as a Sunday too: the holidays are the other days that do.
    holidays = [on for on in open_days if workdays.schedule_day(on) == workdays.HOLIDAY and on.weekday() != 6]
    return holidays or [on for on in open_days if on.weekday() == 6][:2]


class BusyHoliday(day.Twist):
    def __init__(self, days: list[date]) -> None:
        self.days = frozenset(days)

    def load(self, on: date, load: float) -> float:
        return BUSY_LOAD if on in self.days else load


class BrokenPanel(Scripted):
    """An hour of a failing key panel: its link drops and returns, its bouncing key sends extra presses, which
    the terminal records as suppressed (already rated, or nobody asked); then a technician reconnects it."""

    minutes = (30.0, 60.0)

    def script(self, state: CounterDay, begin: datetime, finish: datetime) -> None:
        rng, at = self.rng, begin
        self._link(state, at, connected=False)
        while at < finish - timedelta(minutes=5):
            self._link(state, at + timedelta(seconds=rng.uniform(20, 60)), connected=True)
            served = at + timedelta(seconds=rng.uniform(70, 90))
            day.serve(state, served)
            self._bounce(state, served + timedelta(seconds=50))
            at = served + timedelta(minutes=rng.uniform(2, 5))
            self._link(state, at, connected=False)
        self._repair(state, finish - timedelta(minutes=2))

    def _link(self, state: CounterDay, at: datetime, connected: bool) -> None:
        kind = EventKind.PANEL_CONNECTED if connected else EventKind.PANEL_DISCONNECTED
        state.terminal.record(at, kind, role="panel", port=PANEL_PORT)

    def _bounce(self, state: CounterDay, at: datetime) -> None:
        why = Suppression.COOLDOWN if state.unit.behaviour.mode is TerminalMode.OPEN else Suppression.NOT_REQUESTED
        level = self.rng.randint(1, 5)
        for _ in range(self.rng.randint(4, 14)):
            pressed_in_vain(state, at, why, level)
            at += timedelta(seconds=self.rng.uniform(0.2, 0.6))

    def _repair(self, state: CounterDay, at: datetime) -> None:
        terminal = state.terminal
        terminal.record(at, EventKind.ACCESS_GRANTED, role="technician", user_id=None)
        terminal.record(at + timedelta(seconds=20), EventKind.TECHNICIAN_ACTION, action="opened")
        terminal.record(at + timedelta(seconds=40), EventKind.TECHNICIAN_ACTION, action="reconnect_panel")
        self._link(state, at + timedelta(seconds=45), connected=True)
        terminal.record(at + timedelta(seconds=70), EventKind.TECHNICIAN_ACTION, action="test_key")
