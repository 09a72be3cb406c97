"""How fast presses come: a request answered faster than a citizen can reach the key, presses at the very edge
of the open-mode cooldown, and bursts of top ratings."""
from __future__ import annotations

import itertools
import statistics
from collections import defaultdict
from collections.abc import Callable

from centre.integrity.data import Device, Event, Press, UnitData
from centre.integrity.model import Finding, SignalKind
from centre.integrity.settings import IntegritySettings
from centre.integrity.signals.common import finding, seconds_between
from centre.integrity.signals.services import pairs
from centre.integrity.stats import binom_sf, poisson_sf

TOP = 5
OPEN = "open"
NS = 1_000_000_000
DEFAULT_OPEN_HOURS = 10.0      # a day's opening assumed where the registry gives no hours


def fast_press(unit: UnitData, settings: IntegritySettings) -> list[Finding]:
    """Requests answered faster than `min_press_latency_ms`, per staff member, against the unit's other staff.

    Latency: from the request (`solicited` event) to the rating that answers it, on the monotonic clock of the
    same boot. For staff member s with k fast presses out of n answered requests, and the unit's other staff
    with a share q of fast ones (at least `fast_press_floor_share`): binomial P(X ≥ k | n, q). Flagged when
    k ≥ `fast_press_min_count` and the probability is below `fast_press_alpha`.
    """
    floor_ns = settings.min_press_latency_ms * 1e6
    last = unit.frame.day_count
    answered: dict[str, int] = defaultdict(int)
    fast: dict[str, list[tuple[Press, Event]]] = defaultdict(list)
    latencies: dict[str, list[float]] = defaultdict(list)
    for device in unit.devices:
        for press, request in pairs(device, settings)[0]:
            if 0 <= press.day < last:
                staff = press.staff_id or ""
                answered[staff] += 1
                if press.mono_ns - request.mono_ns < floor_ns:
                    fast[staff].append((press, request))
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
    for counter_id, devices in sorted(unit.counters().items()):
        gaps = 0
        edge: list[tuple[int, Press]] = []
        for device in devices:
            for boot_presses, _ in device.boots.values():
                opened = [press for press in boot_presses if press.mode == OPEN]
                for before, after in itertools.pairwise(opened):
                    day = after.day
                    if not 0 <= day < len(unit.frame.starts) - 1:
                        continue
                    gaps += 1
                    if low <= after.mono_ns - before.mono_ns < high:
                        edge.append((day, after))
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
    counts: dict[int, int] = defaultdict(int)
    for device in devices:
        for day, press in ((press.day, press) for press in device.rated):
            counts[day] += 1 if chosen(press) else 0
    rates = [count / _open_hours(unit, day) for day, count in counts.items()]
    return statistics.median(rates) if rates else 0.0


def _open_hours(unit: UnitData, day: int) -> float:
    periods = unit.frame.periods[day] if unit.frame.has_hours else []
    hours = sum(seconds_between(start, end) for start, end in periods) / 3600
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
        days = {press.day for device in devices for press in device.rated}
        if len(days) < 2:
            continue
        runs = [[press for press in boot_presses if press.level == TOP and 0 <= press.day < unit.frame.day_count]
                for device in devices for boot_presses, _ in device.boots.values()]
        best, burst = 1.0, dict[str, Press]()
        for minutes in settings.burst_windows_minutes:
            densest = _densest(runs, minutes * 60 * NS)
            baseline = max(settings.burst_min_rate_per_hour * minutes / 60,
                           statistics.median(densest.get(day, (0, []))[0] for day in days))
            for k, presses in densest.values():
                p_value = poisson_sf(k, baseline) * len(days) * tests
                if p_value < settings.burst_alpha:
                    burst.update((press.uuid, press) for press in presses)
                    best = min(best, p_value)
        if burst:
            chosen = sorted(burst.values())
            found.append(finding(
                SignalKind.TOP_BURST, unit, (press.day for press in chosen), best, settings.burst_alpha,
                {"test": "each day's densest window of top ratings against the counter's median day (Poisson)",
                 "fires": "below", "windows_minutes": list(settings.burst_windows_minutes),
                 "in_bursts": len(chosen)},
                counter_id=counter_id, rating_uuids=[press.uuid for press in chosen]))
    return found


def _densest(runs: list[list[Press]], width_ns: float) -> dict[int, tuple[int, list[Press]]]:
    """Per day, the most presses one window of `width_ns` held (and those presses), over the runs (each one
    boot's presses in monotonic order); a window belongs to the day of its last press. Two pointers."""
    found: dict[int, tuple[int, list[Press]]] = {}
    for run in runs:
        start = 0
        for end, press in enumerate(run):
            while press.mono_ns - run[start].mono_ns >= width_ns:
                start += 1
            count = end - start + 1
            held = found.get(press.day)
            if held is None or count > held[0]:
                found[press.day] = (count, run[start:end + 1])
    return found
