"""Ratings against the services behind them: a solicited-mode rating needs a request before it, and where the
counter PC sends case numbers a counter cannot have more ratings than cases called."""
from __future__ import annotations

from collections import defaultdict

from centre.integrity.data import Device, Event, Press, UnitData, case_of
from centre.integrity.model import Finding, SignalKind
from centre.integrity.settings import IntegritySettings
from centre.integrity.signals.common import finding, in_span

SOLICITED = "solicited"
PAIRS = "pairs"


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
    matched: list[tuple[Press, Event]] = []
    unmatched: list[Press] = []
    for boot_presses, boot_events in device.boots.values():
        requests = [event for event in boot_events if event.kind in (SOLICITED, "unrated")]
        opened: Event | None = None
        index = 0
        for press in boot_presses:
            while index < len(requests) and requests[index].mono_ns <= press.mono_ns:
                opened = requests[index] if requests[index].kind == SOLICITED else None
                index += 1
            if press.mode != SOLICITED:
                continue
            if opened is not None and press.mono_ns - opened.mono_ns <= window_ns:
                matched.append((press, opened))
            else:
                unmatched.append(press)
            opened = None
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
        requests = [event for device in devices for event in device.events
                    if event.kind == SOLICITED and 0 <= event.day < last]
        case = {event.id: number for event in requests if (number := case_of(event))}
        if not requests or len(case) < settings.cases_min_share * len(requests):
            continue
        cases: dict[int, set[str]] = defaultdict(set)
        for event in requests:
            if event.id in case:
                cases[event.day].add(case[event.id])
        rated: dict[int, list[Press]] = defaultdict(list)
        for device in devices:
            for press in device.rated:
                rated[press.day].append(press)
        excess = {day: len(presses) - len(cases.get(day, ())) for day, presses in rated.items()}
        excess = {day: value for day, value in excess.items() if value > 0}
        total = sum(excess.values())
        if total >= settings.cases_min_excess:
            answered = {press.uuid: case.get(request.id) for device in devices
                        for press, request in pairs(device, settings)[0]}
            odd = [press.uuid for day in sorted(excess) for press in _odd(rated[day], answered)]
            found.append(finding(
                SignalKind.MORE_RATINGS_THAN_CASES, unit, excess, total, settings.cases_min_excess,
                {"test": "ratings beyond distinct cases called, per day, summed", "fires": "at_least",
                 "days_over": len(excess), "ratings": sum(len(p) for p in rated.values()),
                 "cases": sum(len(c) for day, c in cases.items() if day in rated)},
                counter_id=counter_id, rating_uuids=odd))
    return found


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
