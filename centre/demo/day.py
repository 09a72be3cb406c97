"""One counter's day, as its terminal sees it: staff sign in and out around the lunch break, citizens are
served one at a time, each service asked for its one rating (or rated at will on an open terminal), bad
reviews given reasons, requests left unrated, presses that do not count.

The terminal's own rules decide what is recorded (kiosk/rating/service.py): a request's rating, or an
`unrated` event when its window closes; a press while nobody asked, or after the rating, is a `suppressed`
event; the rating credits the request's staff, else whoever is signed in.

A `Twist` may bend a counter's day (centre/demo/manipulate.py plants dishonest ones, centre/demo/honest.py
unusual honest ones): its hooks see each service and may change it. The base class is the plain day, and
draws nothing from the station's random stream, so a city with twists lives its other counters' days alike.
"""
from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from centre.demo import items, workdays
from centre.demo.city import REASON_WEIGHTS, DemoCounter, DemoUnit, TerminalMode
from centre.demo.terminal import EventKind, SimTerminal, Source, Suppression

SOLICIT_WINDOW = timedelta(seconds=15)   # the terminal's default timings.solicit_window_s
REASON_TIMEOUT = timedelta(seconds=30)   # timings.reason_timeout_s
MIN_SERVICE = timedelta(minutes=2)       # one citizen at a time: services at one counter are this far apart
HANDOVER = timedelta(minutes=1)          # a shift's last service ends before it; the staff change within it
BAD_LEVELS = (1, 2)
_CODES, _CODE_WEIGHTS = tuple(REASON_WEIGHTS), tuple(REASON_WEIGHTS.values())


@dataclass
class DayTally:
    """What a day left on the terminals, as the centre will count it."""

    levels: Counter[int] = field(default_factory=Counter)
    reasons: int = 0
    solicited: int = 0
    unrated: int = 0
    suppressed: int = 0
    sign_ins: int = 0

    @property
    def ratings(self) -> int:
        return sum(self.levels.values())

    @property
    def bad(self) -> int:
        return sum(self.levels[level] for level in BAD_LEVELS)

    def add(self, other: DayTally) -> None:
        self.levels.update(other.levels)
        self.reasons += other.reasons
        self.solicited += other.solicited
        self.unrated += other.unrated
        self.suppressed += other.suppressed
        self.sign_ins += other.sign_ins


class Twist:
    """A counter's day as it is: each hook returns what it is given. Subclasses bend it."""

    def shifts(self, day: date, spans: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
        """The periods the counter works on `day` (its hall's opening periods, split for a change of staff)."""
        return spans

    def load(self, day: date, load: float) -> float:
        """How busy `day` is at this counter, relative to an ordinary midweek day."""
        return load

    def arrivals(self, state: CounterDay, start: datetime, end: datetime, times: list[datetime]) -> list[datetime]:
        """The services of a shift, in order."""
        return times

    def serve(self, state: CounterDay, at: datetime) -> None:
        serve(state, at)

    def pressed(self, state: CounterDay, at: datetime, pressed: bool) -> bool:
        """Whether a request ends with the citizen's press (False: it is left unrated)."""
        return pressed

    def latency_s(self, state: CounterDay, at: datetime, seconds: float) -> float:
        """Seconds from the request at `at` to the press."""
        return seconds

    def level(self, state: CounterDay, at: datetime, level: int) -> int:
        """The level pressed at `at`."""
        return level


PLAIN = Twist()


@dataclass
class CounterDay:
    """The day at one counter in progress: who is signed in, what has been recorded."""

    unit: DemoUnit
    counter: DemoCounter
    day: date
    terminal: SimTerminal
    rng: random.Random
    twist: Twist = PLAIN
    staff_id: str | None = None
    cases: int = 0
    tally: DayTally = field(default_factory=DayTally)


def simulate(unit: DemoUnit, counter: DemoCounter, day: date, terminal: SimTerminal,
             rng: random.Random, twist: Twist = PLAIN) -> tuple[DayTally, datetime | None]:
    """Record the counter's day on its terminal; the tally and when the hall closed (None: closed all day)."""
    zone = ZoneInfo(unit.spec.timezone)
    spans = twist.shifts(day, _shifts(workdays.periods(unit.spec.opening_hours, day, zone), day, zone))
    if not spans:
        return DayTally(), None
    state = CounterDay(unit, counter, day, terminal, rng, twist)
    terminal.boot(spans[0][0] - timedelta(minutes=rng.uniform(15, 40)))
    rate = unit.behaviour.services_per_hour * twist.load(day, workdays.load(day))
    for shift, (start, end) in enumerate(spans):
        signed_in, signed_out = _duty_times(rng, spans, shift)
        sign_in(state, signed_in, _on_duty(state, shift))
        for at in twist.arrivals(state, start, end, _arrivals(rng, start, end, rate)):
            twist.serve(state, at)
        sign_out(state, signed_out)
    return state.tally, spans[-1][1]


def _duty_times(rng: random.Random, spans: list[tuple[datetime, datetime]], shift: int) -> tuple[datetime, datetime]:
    """When the shift's staff member signs in and out: a little before opening and after closing, or, where
    two shifts meet (a hall open through lunch), a handover in the minute before the change."""
    start, end = spans[shift]
    handed_over = shift > 0 and spans[shift - 1][1] == start
    hands_over = shift + 1 < len(spans) and spans[shift + 1][0] == end
    signed_in = start - (HANDOVER / 2 if handed_over else timedelta(minutes=rng.uniform(1, 10)))
    signed_out = end - HANDOVER if hands_over else end + timedelta(minutes=rng.uniform(1, 15))
    return signed_in, signed_out


def _shifts(spans: list[tuple[datetime, datetime]], day: date, zone: ZoneInfo) -> list[tuple[datetime, datetime]]:
    """The opening periods, a long one without a lunch break split at noon: staff change over there too."""
    if len(spans) == 1 and spans[0][0] < workdays.noon(day, zone) < spans[0][1] - timedelta(hours=1):
        middle = workdays.noon(day, zone)
        return [(spans[0][0], middle), (middle, spans[0][1])]
    return spans


def _on_duty(state: CounterDay, shift: int) -> str:
    """The counter's first regular in the morning; after lunch mostly the second, sometimes the supervisor."""
    first, second, supervisor = state.counter.regulars
    if shift == 0:
        return first
    return state.rng.choices((first, second, supervisor), (0.3, 0.6, 0.1))[0]


def _arrivals(rng: random.Random, start: datetime, end: datetime, per_hour: float) -> list[datetime]:
    """Service times in [start, end): busiest a third of the way in, one citizen at a time."""
    length = (end - start).total_seconds()
    expected = per_hour * length / 3600
    count = max(0, round(rng.gauss(expected, math.sqrt(expected))))
    times = sorted(start + timedelta(seconds=rng.triangular(0, length, length / 3)) for _ in range(count))
    kept: list[datetime] = []
    for at in times:
        at = max(at, kept[-1] + MIN_SERVICE) if kept else at
        if at < end - MIN_SERVICE:      # its request, press and reasons done before the shift ends
            kept.append(at)
    return kept


def sign_in(state: CounterDay, at: datetime, staff_id: str) -> None:
    state.terminal.record(at, EventKind.STAFF_SIGN_IN, staff_id=staff_id, source=Source.COUNTER.value)
    state.staff_id = staff_id
    state.tally.sign_ins += 1


def sign_out(state: CounterDay, at: datetime) -> None:
    if state.staff_id is None:       # signed out already (a twist may have done it)
        return
    state.terminal.record(at, EventKind.STAFF_SIGN_OUT, staff_id=state.staff_id, source=Source.COUNTER.value)
    state.staff_id = None


def serve(state: CounterDay, at: datetime) -> None:
    """One citizen served at `at`: the request, then the press or the unrated (open mode: the press)."""
    behaviour, rng = state.unit.behaviour, state.rng
    if behaviour.mode is TerminalMode.OPEN:
        # Pressed again after the thanks (3 s) but within the cooldown (5 s): ignored.
        press(state, at, None, Suppression.COOLDOWN if rng.random() < 0.04 else None)
        return
    if rng.random() < 0.015:      # pressed before anyone asked
        suppressed(state, at - timedelta(seconds=rng.uniform(5, 20)), Suppression.NOT_REQUESTED)
    case_no = next_case(state)
    source = request(state, at, case_no)
    if not state.twist.pressed(state, at, rng.random() < behaviour.press_share):
        state.terminal.record(at + SOLICIT_WINDOW, EventKind.UNRATED, case_no=case_no,
                              item_code=item_code(state, case_no), staff_id=state.staff_id, source=source)
        state.tally.unrated += 1
        return
    # Sometimes a second press while the thanks or the reasons show: one service, one rating.
    again = Suppression.ALREADY_RATED if rng.random() < 0.03 else None
    press(state, at + timedelta(seconds=state.twist.latency_s(state, at, rng.uniform(2, 12))), case_no, again)


def next_case(state: CounterDay) -> str | None:
    """The next service's case number, where the counter PC sends them (it counts every service)."""
    state.cases += 1
    return case_no(state)


def case_no(state: CounterDay) -> str | None:
    """The case number of the service at hand (None where no counter PC sends them)."""
    if not state.unit.behaviour.counter_pc:
        return None
    return f"{state.day:%y%m%d}-{state.counter.spec.id}-{state.cases:04d}"


def item_code(state: CounterDay, case: str | None) -> str | None:
    """The service item (事项编码) of the case at hand, which the counter PC sends with its number."""
    return items.item_code(state.unit.spec.sector, case)


def request(state: CounterDay, at: datetime, case: str | None) -> str:
    """A rating request: the counter PC's (with the case number, its item and the staff id) or the staff's key;
    its source."""
    counter_pc = state.unit.behaviour.counter_pc
    source: str = (Source.COUNTER if counter_pc else Source.PANEL).value
    state.terminal.record(at, EventKind.SOLICITED, case_no=case, item_code=item_code(state, case),
                          staff_id=state.staff_id if counter_pc else None, source=source)
    state.tally.solicited += 1
    return source


def press(state: CounterDay, at: datetime, case_no: str | None, again: Suppression | None) -> None:
    """A press that counts: the rating, a second press (`again`: why it does not count), the reason step."""
    level, rng = state.twist.level(state, at, draw_level(state)), state.rng
    uuid = state.terminal.rate(at, level, state.staff_id, case_no, item_code(state, case_no))
    state.tally.levels[level] += 1
    if again is Suppression.COOLDOWN:
        suppressed(state, at + timedelta(seconds=rng.uniform(3.2, 4.8)), again)
    elif again is not None:
        suppressed(state, at + timedelta(seconds=rng.uniform(1, 3)), again)
    if level not in BAD_LEVELS:
        return
    if rng.random() < 0.85:
        codes = sorted(set(rng.choices(_CODES, _CODE_WEIGHTS, k=rng.choice((1, 1, 2, 3)))))
        state.terminal.add_reasons(at + timedelta(seconds=rng.uniform(5, 25)), uuid, codes)
        state.tally.reasons += len(codes)
    elif rng.random() < 0.5:      # walked away from the reason step: it closes by itself
        state.terminal.record(at + REASON_TIMEOUT, EventKind.REASONS_TIMEOUT, rating_uuid=uuid, kept=0)


def draw_level(state: CounterDay) -> int:
    """A level from the unit's mix, bad reviews likelier or rarer with the staff member serving."""
    weights = list(state.unit.behaviour.levels)
    factor = state.unit.bad_factor.get(state.staff_id or "", 1.0)
    for index in range(len(BAD_LEVELS)):
        weights[index] *= factor
    return state.rng.choices(range(1, 6), weights)[0]


def suppressed(state: CounterDay, at: datetime, why: Suppression) -> None:
    level = state.rng.choice((1, 2, 3, 4, 5))
    state.terminal.record(at, EventKind.SUPPRESSED, level=level, channel=state.unit.behaviour.channel.value,
                         why=why.value)
    state.tally.suppressed += 1
