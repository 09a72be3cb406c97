"""How fast presses come: a request answered faster than a citizen can reach the key, presses at the very edge
of the open-mode cooldown, and bursts of top ratings."""
from __future__ import annotations

import math
import statistics
from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Callable
from itertools import chain, compress, repeat
from operator import add, and_, attrgetter, eq, gt, itemgetter, le, ne, rshift, sub

from centre.integrity.data import BOOT_BITS, Device, Event, Press, UnitData
from centre.integrity.model import Finding, SignalKind
from centre.integrity.settings import IntegritySettings
from centre.integrity.signals.common import DAY, finding, spanned
from centre.integrity.signals.services import pairs
from centre.integrity.stats import binom_sf, poisson_sf

TOP = 5
OPEN = "open"
NS = 1_000_000_000
DEFAULT_OPEN_HOURS = 10.0      # a day's opening assumed where the registry gives no hours
MONO, STAFF, LEVEL, MODE = attrgetter("mono_ns"), attrgetter("staff_id"), attrgetter("level"), attrgetter("mode")
FIRST, SECOND = itemgetter(0), itemgetter(1)
DEVICE_BITS = 2 * BOOT_BITS    # a device's clock (Device.clocked) below 2**128: the next device's begins there


def fast_press(unit: UnitData, settings: IntegritySettings) -> list[Finding]:
    """Requests answered faster than `min_press_latency_ms`, per staff member, against the unit's other staff.

    Latency: from the request (`solicited` event) to the rating that answers it, on the monotonic clock of the
    same boot. For staff member s with k fast presses out of n answered requests, and the unit's other staff
    with a share q of fast ones (at least `fast_press_floor_share`): binomial P(X ≥ k | n, q). Flagged when
    k ≥ `fast_press_min_count` and the probability is below `fast_press_alpha`.
    """
    floor_ns = settings.min_press_latency_ms * 1e6
    last = unit.frame.day_count
    answered: Counter[str | None] = Counter()
    fast: dict[str, list[tuple[Press, Event]]] = defaultdict(list)
    latencies: dict[str, list[float]] = defaultdict(list)
    for device in unit.devices:       # counted in C; the fast ones, few, one by one
        matched = pairs(device, settings)[0]
        presses = list(map(FIRST, matched))
        inside = list(map(and_, map(le, repeat(0), map(DAY, presses)), map(gt, repeat(last), map(DAY, presses))))
        answered.update(map(STAFF, compress(presses, inside)))
        under = map(gt, repeat(floor_ns), map(sub, map(MONO, presses), map(MONO, map(SECOND, matched))))
        for press, request in compress(matched, map(and_, inside, under)):
            fast[press.staff_id or ""].append((press, request))
    answered[""] = answered.pop(None, 0) + answered.pop("", 0)      # nobody credited, either way
    total, fast_total = sum(answered.values()), sum(len(items) for items in fast.values())
    found = []
    for staff_id, quick in sorted(fast.items()):
        n = answered[staff_id]
        if not staff_id or len(quick) < settings.fast_press_min_count:
            continue
        others, others_fast = total - n, fast_total - len(quick)
        share = max(settings.fast_press_floor_share, others_fast / others if others else 0.0)
        p_value = binom_sf(len(quick), n, share)
        if p_value < settings.fast_press_alpha:
            latencies[staff_id] = sorted((press.mono_ns - request.mono_ns) / 1e6 for press, request in quick)
            found.append(finding(
                SignalKind.FAST_PRESS, unit, (press.day for press, _ in quick), p_value, settings.fast_press_alpha,
                {"test": "binomial P(≥ k fast of n | the unit's other staff's share)", "fires": "below",
                 "floor_ms": settings.min_press_latency_ms, "answered": n, "fast": len(quick),
                 "share": round(len(quick) / n, 4), "unit_share": round(share, 4),
                 "median_fast_latency_ms": round(statistics.median(latencies[staff_id]), 1)},
                staff_id=staff_id, counter_id=_main_counter(unit, {press.uuid for press, _ in quick}),
                rating_uuids=[press.uuid for press, _ in quick], event_ids=[request.id for _, request in quick]))
    return found


def _main_counter(unit: UnitData, uuids: set[str]) -> str | None:
    """The counter most of these ratings came from (a staff member may serve at several)."""
    counts: dict[str, int] = defaultdict(int)
    for device, press in unit.presses:
        if press.uuid in uuids:
            counts[device.counter_id] += 1
    return max(counts, key=lambda key: counts[key]) if counts else None


def cooldown_edge(unit: UnitData, settings: IntegritySettings) -> list[Finding]:
    """Open-mode ratings that come right as the cooldown ends, per counter.

    A gap between consecutive open-mode ratings on one boot (monotonic clock) in [cooldown_s, cooldown_s +
    `cooldown_edge_window_s`) is at the edge: someone pressing again as soon as the terminal lets them. With
    the counter's rate of ratings λ in opening hours (times `cooldown_peak_factor`, the busiest hours), an honest
    gap lands there with probability q = λ · window; with k edge gaps among n: binomial P(X ≥ k | n, q),
    flagged below `cooldown_edge_alpha` when k ≥ `cooldown_edge_min_count`.
    """
    low = settings.cooldown_s * NS
    high = (settings.cooldown_s + settings.cooldown_edge_window_s) * NS
    found = []
    last = unit.frame.day_count
    for counter_id, devices in sorted(unit.counters().items()):
        gaps = 0
        edge: list[tuple[int, Press]] = []
        for device in devices:      # each gap: within a boot, to a rating on the span's days
            chosen = list(map(eq, map(MODE, device.clocked.presses), repeat(OPEN)))
            opened = list(compress(device.clocked.presses, chosen))
            clock = list(compress(device.clocked.clock, chosen))
            boots = list(map(rshift, clock, repeat(BOOT_BITS)))
            inside = list(map(and_, spanned(opened[1:], last), map(eq, boots[1:], boots)))
            gaps += sum(inside)
            apart = list(map(sub, clock[1:], clock))
            at_edge = map(and_, inside, map(and_, map(le, repeat(low), apart), map(gt, repeat(high), apart)))
            edge.extend((press.day, press) for press in compress(opened[1:], at_edge))
        if len(edge) < settings.cooldown_edge_min_count:
            continue
        rate = _rate_per_hour(unit, devices, lambda press: press.mode == OPEN) * settings.cooldown_peak_factor
        share = min(0.5, rate / 3600 * settings.cooldown_edge_window_s)
        p_value = binom_sf(len(edge), gaps, share)
        if p_value < settings.cooldown_edge_alpha:
            found.append(finding(
                SignalKind.COOLDOWN_EDGE, unit, (day for day, _ in edge), p_value, settings.cooldown_edge_alpha,
                {"test": "binomial P(≥ k edge gaps of n | the counter's rate × window)", "fires": "below",
                 "cooldown_s": settings.cooldown_s, "window_s": settings.cooldown_edge_window_s, "gaps": gaps,
                 "at_edge": len(edge), "expected_share": round(share, 6)},
                counter_id=counter_id, rating_uuids=[press.uuid for _, press in edge]))
    return found


def _rate_per_hour(unit: UnitData, devices: list[Device], chosen: Callable[[Press], bool]) -> float:
    """The counter's median rate per opening hour, over the days it rated, of the presses `chosen` picks."""
    rated = list(chain.from_iterable(device.rated for device in devices))
    counts = Counter(map(DAY, rated))
    picked = Counter(map(DAY, compress(rated, map(chosen, rated))))
    rates = [picked[day] / _open_hours(unit, day) for day in counts]
    return statistics.median(rates) if rates else 0.0


def _open_hours(unit: UnitData, day: int) -> float:
    hours = unit.frame.open_hours[day] if unit.frame.has_hours else 0.0
    return hours if hours > 0 else DEFAULT_OPEN_HOURS


def top_burst(unit: UnitData, settings: IntegritySettings) -> list[Finding]:
    """Bursts of top ratings (level 5) at a counter: a scan statistic against the counter's own days.

    For each window length w of `burst_windows_minutes`, each day's densest window (the most top ratings any
    window of w held, on one boot's monotonic clock) is that day's scan statistic k_d. The counter's own
    baseline is the median of its days' k_d (at least `burst_min_rate_per_hour` · w): what its busiest
    stretch of an ordinary day holds. A day is judged by P(X ≥ k_d), X ~ Poisson(baseline): the Poisson's
    tail is wider than that of a maximum's, so the test errs towards silence. Bonferroni over days and
    window lengths; flagged below `burst_alpha`. The evidence: the top ratings in each window that alone
    would be flagged.
    """
    found = []
    tests = len(settings.burst_windows_minutes)
    for counter_id, devices in sorted(unit.counters().items()):
        days = set(chain.from_iterable(map(DAY, device.rated) for device in devices))
        if len(days) < 2:
            continue
        tops: list[Press] = []
        clock: list[int] = []       # the devices' clocks one after another: no window holds two boots
        for index, device in enumerate(devices):
            presses = device.clocked.presses
            chosen = list(map(and_, map(eq, map(LEVEL, presses), repeat(TOP)), spanned(presses, unit.frame.day_count)))
            tops.extend(compress(presses, chosen))
            clock.extend(map(add, compress(device.clocked.clock, chosen), repeat(index << DEVICE_BITS)))
        runs = _runs(tops)
        best, burst = 1.0, dict[str, Press]()
        for minutes in settings.burst_windows_minutes:
            most, counts, starts = _scan(clock, runs, minutes * 60 * NS)
            baseline = max(settings.burst_min_rate_per_hour * minutes / 60,
                           statistics.median(most.get(day, 0) for day in days))
            tails = {k: poisson_sf(k, baseline) * len(days) * tests for k in set(most.values())}
            for day, k in most.items():
                if tails[k] < settings.burst_alpha:
                    burst.update((press.uuid, press) for press in _window(tops, runs, day, k, counts, starts))
                    best = min(best, tails[k])
        if burst:
            chosen = sorted(burst.values())
            found.append(finding(
                SignalKind.TOP_BURST, unit, (press.day for press in chosen), best, settings.burst_alpha,
                {"test": "each day's densest window of top ratings against the counter's median day (Poisson)",
                 "fires": "below", "windows_minutes": list(settings.burst_windows_minutes),
                 "in_bursts": len(chosen)},
                counter_id=counter_id, rating_uuids=[press.uuid for press in chosen]))
    return found


Runs = list[tuple[int, int, int]]      # (first, end, day): a stretch of presses of one day, boot and device


def _runs(presses: list[Press]) -> Runs:
    """The stretches of `presses` on one day (a day spans one run per boot and device that pressed on it)."""
    days = list(map(DAY, presses))
    firsts = [0, *compress(range(1, len(days)), map(ne, days[1:], days))] if days else []
    return list(zip(firsts, [*firsts[1:], len(days)], map(days.__getitem__, firsts), strict=True))


def _scan(clock: list[int], runs: Runs, width_ns: float) -> tuple[dict[int, int], list[int], list[int]]:
    """Per day, the most presses one window of `width_ns` held; and per press, those in the window ending at it
    and the index of the window's first. `clock` orders the presses (each boot's in monotonic order, the boots
    apart); a window belongs to the day of its last press. Each press's window is found by bisection (it
    begins at the first press less than the width before it) and each run's most by max over its slice, in C."""
    starts = list(map(bisect_right, repeat(clock), map(sub, clock, repeat(math.ceil(width_ns)))))
    counts = list(map(sub, range(1, len(clock) + 1), starts))
    most: dict[int, int] = {}
    highs = map(max, map(counts.__getitem__, map(slice, map(FIRST, runs), map(SECOND, runs))))
    for (_, _, day), held in zip(runs, highs, strict=True):
        if held > most.get(day, 0):
            most[day] = held
    return most, counts, starts


def _window(presses: list[Press], runs: Runs, day: int, k: int, counts: list[int],
            starts: list[int]) -> list[Press]:
    """The presses of the day's first window that held k, the day's most."""
    for first, end, run_day in runs:
        if run_day == day and k in counts[first:end]:
            last = counts.index(k, first, end)
            return presses[starts[last]:last + 1]
    return []
