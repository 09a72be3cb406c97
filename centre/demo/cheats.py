"""Dishonest days at a counter: the twists (centre/demo/day.py's `Twist`) that plant the manipulation kinds
which live in a counter's day, each acting on the days centre/demo/manipulate.py chose for it.

Everything still goes through the simulated terminal as the real one records it (requests, presses, events,
the hash chain); what changes is what the people around it do: stay after closing, press the key themselves,
ask twice for one case, leave when a bad review comes. Each twist draws from its own random stream, so the
counter's honest days, before the manipulation starts, are the same as in a city without it.
"""
from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import ClassVar

from centre.demo import day
from centre.demo.city import TerminalMode
from centre.demo.day import CounterDay
from centre.demo.terminal import EventKind, Suppression

TOP = 5
MARGIN = timedelta(minutes=1)
Spans = list[tuple[datetime, datetime]]


def _s(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


class OnDays(day.Twist):
    """A twist that acts on some days only, drawing from its own random stream."""

    def __init__(self, days: Iterable[date], seed: str) -> None:
        self.days = frozenset(days)
        self.rng = random.Random(seed)

    def on(self, state: CounterDay) -> bool:
        return state.day in self.days


def top(state: CounterDay, at: datetime, case: str | None = None) -> None:
    """A top rating recorded at `at` (no reason step follows a top rating)."""
    state.terminal.rate(at, TOP, state.staff_id, case, day.item_code(state, case))
    state.tally.levels[TOP] += 1


def top_service(state: CounterDay, at: datetime, rng: random.Random) -> None:
    """A service rated top: in solicited mode its request, then the press a few seconds later."""
    if state.unit.behaviour.mode is TerminalMode.OPEN:
        top(state, at)
        return
    case = day.next_case(state)
    day.request(state, at, case)
    top(state, at + _s(rng.uniform(2, 8)), case)


def pressed_in_vain(state: CounterDay, at: datetime, why: Suppression, level: int = TOP) -> None:
    """A press the terminal does not count, and why."""
    state.terminal.record(at, EventKind.SUPPRESSED, level=level, channel=state.unit.behaviour.channel.value,
                          why=why.value)
    state.tally.suppressed += 1


class Scripted(OnDays):
    """Once on each of its days, a window of a shift in which `script` runs instead of the counter's services
    (those that would have fallen in it are not served)."""

    minutes: tuple[float, float] = (20.0, 30.0)

    def __init__(self, days: Iterable[date], seed: str) -> None:
        super().__init__(days, seed)
        self.windows: dict[date, tuple[datetime, datetime]] = {}

    def shifts(self, on: date, spans: Spans) -> Spans:
        if on in self.days and spans:
            self.windows[on] = self.place(spans)
        return spans

    def place(self, spans: Spans) -> tuple[datetime, datetime]:
        """The window: in a random shift long enough, else at the start of the longest."""
        length = timedelta(minutes=self.rng.uniform(*self.minutes))
        roomy = [(start, end) for start, end in spans if end - start >= length + timedelta(minutes=15)]
        if not roomy:
            start, end = max(spans, key=lambda span: span[1] - span[0])
            return start + MARGIN, min(end - MARGIN, start + MARGIN + length)
        start, end = self.rng.choice(roomy)
        room = (end - start - length - timedelta(minutes=15)).total_seconds()
        begin = start + timedelta(minutes=10) + _s(self.rng.uniform(0, room))
        return begin, begin + length

    def arrivals(self, state: CounterDay, start: datetime, end: datetime, times: list[datetime]) -> list[datetime]:
        window = self.windows.get(state.day)
        if window is None or not start <= window[0] < end:
            return times
        begin, finish = window
        kept = [at for at in times if not begin - day.MIN_SERVICE <= at <= finish + MARGIN]
        return sorted([*kept, begin])

    def serve(self, state: CounterDay, at: datetime) -> None:
        window = self.windows.get(state.day)
        if window is not None and at == window[0]:
            self.script(state, *window)
        else:
            day.serve(state, at)

    def script(self, state: CounterDay, begin: datetime, finish: datetime) -> None:
        raise NotImplementedError


class OutOfHours(OnDays):
    """The counter goes on "serving" long after closing time: more than an hour of services, all rated top."""

    EXTRA_MINUTES = (75.0, 150.0)

    def __init__(self, days: Iterable[date], seed: str) -> None:
        super().__init__(days, seed)
        self.closing: dict[date, datetime] = {}

    def shifts(self, on: date, spans: Spans) -> Spans:
        if on not in self.days or not spans:
            return spans
        end = self.closing[on] = spans[-1][1]
        return [*spans, (end, end + timedelta(minutes=self.rng.uniform(*self.EXTRA_MINUTES)))]

    def _after(self, state: CounterDay, at: datetime) -> bool:
        closing = self.closing.get(state.day)
        return closing is not None and at >= closing

    def pressed(self, state: CounterDay, at: datetime, pressed: bool) -> bool:
        return pressed or self._after(state, at)

    def level(self, state: CounterDay, at: datetime, level: int) -> int:
        return TOP if self._after(state, at) else level


class NoStaff(Scripted):
    """The staff member signs out an hour or so before closing and the counter's "services" go on, rated top,
    with nobody signed in."""

    minutes = (45.0, 90.0)

    def place(self, spans: Spans) -> tuple[datetime, datetime]:
        start, end = spans[-1]
        finish = end - timedelta(minutes=3)
        return max(start + MARGIN, finish - timedelta(minutes=self.rng.uniform(*self.minutes))), finish

    def script(self, state: CounterDay, begin: datetime, finish: datetime) -> None:
        day.sign_out(state, begin)
        at = begin + MARGIN
        while at < finish - MARGIN:
            top_service(state, at, self.rng)
            at += timedelta(minutes=self.rng.uniform(2.5, 6))


class TechnicianMode(Scripted):
    """A technician signs in on the screen during opening hours and, in technician mode, rates top a few
    times ("testing the keys")."""

    minutes = (7.0, 9.0)

    def script(self, state: CounterDay, begin: datetime, finish: datetime) -> None:
        state.terminal.record(begin, EventKind.ACCESS_GRANTED, role="technician", user_id=None)
        state.terminal.record(begin + _s(15), EventKind.TECHNICIAN_ACTION, action="opened")
        at = begin + _s(15)
        for _ in range(self.rng.randint(3, 5)):
            at += _s(self.rng.uniform(40, 70))
            if at >= finish - _s(20):
                break
            state.terminal.record(at, EventKind.TECHNICIAN_ACTION, action="test_key")
            top_service(state, at + _s(5), self.rng)


class Unsolicited(OnDays):
    """On a solicited-mode terminal, ratings with no request before them (its records altered): top ones."""

    SHARE = 0.4

    def serve(self, state: CounterDay, at: datetime) -> None:
        if self.on(state) and self.rng.random() < self.SHARE:
            top(state, at + _s(self.rng.uniform(2, 8)))
        else:
            day.serve(state, at)


class MoreRatingsThanCases(OnDays):
    """The counter PC asks again for a case already served, and the second rating is a top one."""

    SHARE = 0.45

    def serve(self, state: CounterDay, at: datetime) -> None:
        day.serve(state, at)
        if self.on(state) and self.rng.random() < self.SHARE:
            again, case = at + _s(self.rng.uniform(50, 70)), day.case_no(state)
            day.request(state, again, case)
            top(state, again + _s(self.rng.uniform(2, 6)), case)


class FastPress(OnDays):
    """One staff member presses the top key themselves, within a second of their own request, for most of
    their services (and for those who would have left without rating)."""

    SHARE = 0.8

    def __init__(self, days: Iterable[date], seed: str, staff_id: str) -> None:
        super().__init__(days, seed)
        self.staff_id = staff_id
        self._fast = False

    def pressed(self, state: CounterDay, at: datetime, pressed: bool) -> bool:
        self._fast = self.on(state) and state.staff_id == self.staff_id and self.rng.random() < self.SHARE
        return pressed or self._fast

    def latency_s(self, state: CounterDay, at: datetime, seconds: float) -> float:
        return self.rng.uniform(0.25, 0.85) if self._fast else seconds

    def level(self, state: CounterDay, at: datetime, level: int) -> int:
        fast, self._fast = self._fast, False
        return TOP if fast else level


class CooldownEdge(Scripted):
    """On an open-mode terminal, someone presses top again and again, each time as soon as the cooldown ends."""

    minutes = (2.0, 2.5)
    COOLDOWN_S = 5.0

    def script(self, state: CounterDay, begin: datetime, finish: datetime) -> None:
        at = begin
        top(state, at)
        for _ in range(self.rng.randint(6, 12)):
            at += _s(self.COOLDOWN_S + self.rng.uniform(0.15, 2.5))
            if at >= finish:
                break
            if self.rng.random() < 0.3:      # a press a moment too soon, which the terminal ignores
                pressed_in_vain(state, at - _s(self.rng.uniform(0.3, 0.9)), Suppression.COOLDOWN)
            top(state, at)


class TopBurst(Scripted):
    """Half an hour or so of "services" a minute apart, each rated top."""

    minutes = (25.0, 40.0)

    def script(self, state: CounterDay, begin: datetime, finish: datetime) -> None:
        at = begin
        while at < finish - _s(10):
            top_service(state, at, self.rng)
            at += _s(self.rng.uniform(55, 85))


class SuppressedSpike(Scripted):
    """For an hour or so someone hammers the top key after each service: presses the terminal does not count."""

    minutes = (40.0, 80.0)

    def script(self, state: CounterDay, begin: datetime, finish: datetime) -> None:
        at = begin
        while at < finish - timedelta(minutes=2):
            day.serve(state, at)
            self._hammer(state, at)
            at += timedelta(minutes=self.rng.uniform(2.5, 4))

    def _hammer(self, state: CounterDay, served: datetime) -> None:
        if state.unit.behaviour.mode is TerminalMode.OPEN:
            # Between the rating and the cooldown's end: the thanks (already rated), then the cooldown. The
            # service's own rating came 0 s after `served`.
            at = served + _s(0.6)
            while at < served + _s(self.COOLDOWN_END_S):
                pressed_in_vain(state, at, Suppression.ALREADY_RATED if at < served + _s(3)
                                else Suppression.COOLDOWN)
                at += _s(self.rng.uniform(0.3, 0.8))
            return
        at = served + _s(self.rng.uniform(50, 60))          # the service is over: nobody asked
        for _ in range(self.rng.randint(6, 15)):
            pressed_in_vain(state, at, Suppression.NOT_REQUESTED)
            at += _s(self.rng.uniform(0.4, 1.5))

    COOLDOWN_END_S = 4.8


class SelectiveSilence(OnDays):
    """At a counter whose PC numbers the cases, the terminal goes quiet on its days: unplugged for the day's
    longest shift, and, for the rest of the day, whenever the citizen would give a bad review. The staff stay
    signed in and the cases go on being called."""

    SKIP_BAD = 0.9

    def __init__(self, days: Iterable[date], seed: str) -> None:
        super().__init__(days, seed)
        self.silent: dict[date, tuple[datetime, datetime]] = {}
        self._level: int | None = None

    def shifts(self, on: date, spans: Spans) -> Spans:
        if on in self.days and spans:
            self.silent[on] = max(spans, key=lambda span: span[1] - span[0])
        return spans

    def serve(self, state: CounterDay, at: datetime) -> None:
        self._level = None
        if self.on(state):
            silent = self.silent.get(state.day)
            if silent is not None and silent[0] <= at < silent[1]:
                day.next_case(state)           # served, never asked to rate
                return
            level = day.draw_level(state)
            if level in day.BAD_LEVELS and self.rng.random() < self.SKIP_BAD:
                day.next_case(state)
                return
            self._level = level
        day.serve(state, at)

    def level(self, state: CounterDay, at: datetime, level: int) -> int:
        chosen, self._level = self._level, None
        return level if chosen is None else chosen


class NoBadReviews(OnDays):
    """A unit where a bad review never gets recorded: whoever would give one ends up with a good level."""

    def level(self, state: CounterDay, at: datetime, level: int) -> int:
        if not self.on(state) or level not in day.BAD_LEVELS:
            return level
        return self.rng.choices((3, 4, 5), state.unit.behaviour.levels[2:])[0]


class UnratedCollapse(OnDays):
    """From a day on, the citizens who would have left without rating are rated top by the staff, and the
    staff "help" some others to the top key too: unrated requests all but vanish while top ratings rise."""

    def __init__(self, days: Iterable[date], seed: str, helped: float) -> None:
        super().__init__(days, seed)
        self.helped = helped
        self._converted = False

    def pressed(self, state: CounterDay, at: datetime, pressed: bool) -> bool:
        self._converted = self.on(state) and not pressed and self.rng.random() < 0.97
        return pressed or self._converted

    def level(self, state: CounterDay, at: datetime, level: int) -> int:
        converted, self._converted = self._converted, False
        if converted or (self.on(state) and level in (3, 4) and self.rng.random() < self.helped):
            return TOP
        return level


class StepAfterRanking(OnDays):
    """From the day after a ranking was published, the unit's levels climb: bad reviews and middling ones
    turn into top ones (coached, pressed for, or deterred)."""

    TURNED: ClassVar[dict[int, float]] = {1: 0.8, 2: 0.8, 3: 0.6, 4: 0.4}

    def level(self, state: CounterDay, at: datetime, level: int) -> int:
        if self.on(state) and self.rng.random() < self.TURNED.get(level, 0.0):
            return TOP
        return level
