"""Ratings against the services behind them: a solicited-mode rating needs a request before it, and where the
counter PC sends case numbers a counter cannot have more ratings than cases called."""
from __future__ import annotations

from bisect import bisect_right
from collections import Counter, defaultdict
from itertools import chain, compress, repeat
from operator import and_, attrgetter, eq, gt, itemgetter, le, ne, not_, rshift, sub, truth

from centre.integrity.data import BOOT_BITS, Device, Event, Press, UnitData, case_numbers
from centre.integrity.model import Finding, SignalKind
from centre.integrity.settings import IntegritySettings
from centre.integrity.signals.common import DAY, finding, in_span, on_span

SOLICITED = "solicited"
PAIRS = "pairs"
MONO, KIND, ID, MODE = attrgetter("mono_ns"), attrgetter("kind"), attrgetter("id"), attrgetter("mode")
FIRST = itemgetter(0)


def pairs(device: Device, settings: IntegritySettings) -> tuple[list[tuple[Press, Event]], list[Press]]:
    """The device's solicited-mode ratings with the request each answers, and those that answer none.

    On each boot, in monotonic order: a request stays open until a rating answers it, an `unrated` event
    closes it, a newer request replaces it, or `request_window_max_s` passes; a rating answers the open
    request, if any. Worked out once per device (fast_press reads the same pairs).
    """
    memo = device.memo.get(PAIRS)
    if memo is not None:
        return memo  # type: ignore[no-any-return]
    window_ns = int(settings.request_window_max_s * 1e9)
    clocked = device.clocked
    chosen = list(map(eq, map(MODE, clocked.presses), repeat(SOLICITED)))
    asked, clock = list(compress(clocked.presses, chosen)), list(compress(clocked.clock, chosen))
    if not clocked.requests:
        return _pairs_memo(device, [], asked)
    # the requests at or before each rating (bisection): the last of them is the one open if it is of the
    # rating's boot, unless an earlier rating took it (a rating closes the request it follows, answered or
    # not); all in C
    counts = list(map(bisect_right, repeat(clocked.request_clock), clock))
    ours = map(gt, counts, map(clocked.earlier.__getitem__, map(rshift, clock, repeat(BOOT_BITS))))
    opened = list(map(clocked.requests.__getitem__, map(sub, counts, repeat(1))))
    answers = list(map(and_, map(and_, map(and_, ours, map(ne, counts, [0, *counts[:-1]])),
                                 map(eq, map(KIND, opened), repeat(SOLICITED))),
                       map(le, map(sub, map(MONO, asked), map(MONO, opened)), repeat(window_ns))))
    return _pairs_memo(device, list(zip(compress(asked, answers), compress(opened, answers), strict=True)),
                       list(compress(asked, map(not_, answers))))


def _pairs_memo(device: Device, matched: list[tuple[Press, Event]],
                unmatched: list[Press]) -> tuple[list[tuple[Press, Event]], list[Press]]:
    device.memo[PAIRS] = (matched, unmatched)
    return matched, unmatched


def unsolicited(unit: UnitData, settings: IntegritySettings) -> list[Finding]:
    """Solicited-mode ratings that follow no open request on their device's boot (see `pairs`).

    The terminal stores a solicited-mode rating only inside a request's window, so in honest records every
    one pairs with a request; one that does not means records were added, removed or altered. Test: a count,
    at least `unsolicited_min_ratings` per counter.
    """
    found = []
    for counter_id, devices in sorted(unit.counters().items()):
        alone = [item for device in devices for item in in_span(unit, pairs(device, settings)[1])]
        if len(alone) >= settings.unsolicited_min_ratings:
            solicited = sum(1 for device in devices for press in device.presses if press.mode == SOLICITED)
            found.append(finding(
                SignalKind.UNSOLICITED, unit, (day for day, _ in alone), len(alone),
                settings.unsolicited_min_ratings,
                {"test": "count of solicited-mode ratings with no request before them",
                 "solicited_mode_ratings": solicited, "without_request": len(alone),
                 "request_window_max_s": settings.request_window_max_s},
                counter_id=counter_id, rating_uuids=[press.uuid for _, press in alone]))
    return found


def more_ratings_than_cases(unit: UnitData, settings: IntegritySettings) -> list[Finding]:
    """More ratings in a day than distinct cases the counter PC called, at counters whose requests carry case
    numbers (at least `cases_min_share` of them).

    Per local day: excess = ratings − distinct case numbers of the day's requests, when positive; summed over
    the span. Test: the excess reaches `cases_min_excess`. The evidence: the ratings answering no request,
    a request without a case number, or a case already rated that day.
    """
    found = []
    last = unit.frame.day_count
    for counter_id, devices in sorted(unit.counters().items()):
        requests = list(chain.from_iterable(on_span(device.kind(SOLICITED), last) for device in devices))
        numbers = case_numbers(requests)
        if not requests or sum(map(truth, numbers)) < settings.cases_min_share * len(requests):
            continue
        # distinct case numbers per day, ratings per day: counted in C
        cases = Counter(map(FIRST, set(compress(zip(map(DAY, requests), numbers, strict=True), numbers))))
        rated = Counter(map(DAY, chain.from_iterable(device.rated for device in devices)))
        excess = {day: count - cases[day] for day, count in rated.items() if count > cases[day]}
        total = sum(excess.values())
        if total >= settings.cases_min_excess:
            found.append(finding(
                SignalKind.MORE_RATINGS_THAN_CASES, unit, excess, total, settings.cases_min_excess,
                {"test": "ratings beyond distinct cases called, per day, summed", "fires": "at_least",
                 "days_over": len(excess), "ratings": sum(rated.values()),
                 "cases": sum(count for day, count in cases.items() if day in rated)},
                counter_id=counter_id, rating_uuids=_beyond(devices, requests, numbers, excess, settings)))
    return found


def _beyond(devices: list[Device], requests: list[Event], numbers: list[str | None], excess: dict[int, int],
            settings: IntegritySettings) -> list[str]:
    """The evidence: on each day over, the ratings that answer no numbered request or a case already rated."""
    case = dict(compress(zip(map(ID, requests), numbers, strict=True), numbers))
    answered = {press.uuid: case.get(request.id) for device in devices
                for press, request in pairs(device, settings)[0]}
    by_day: dict[int, list[Press]] = defaultdict(list)
    for device in devices:
        for press in device.rated:
            by_day[press.day].append(press)
    return [press.uuid for day in sorted(excess) for press in _odd(by_day[day], answered)]


def _odd(presses: list[Press], answered: dict[str, str | None]) -> list[Press]:
    """The ratings of one day that answer no numbered request, or a case rated before that day."""
    seen: set[str] = set()
    odd = []
    for press in sorted(presses, key=lambda press: press.at):
        case = answered.get(press.uuid)
        if not case or case in seen:
            odd.append(press)
        if case:
            seen.add(case)
    return odd
