"""What the devices themselves show: spikes of presses that did not count, a clock set within a boot, a device
that claims or takes another counter (a device silent while its unit works: centre/integrity/signals/silence.py)."""
from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from datetime import datetime
from itertools import compress, repeat
from operator import add, attrgetter, ge, itemgetter, rshift, sub, truediv

from centre.integrity.data import BOOT_BITS, Device, Press, Timeline, UnitData, detail_of
from centre.integrity.model import Finding, SignalKind
from centre.integrity.settings import IntegritySettings
from centre.integrity.signals.common import day_counts, finding
from centre.integrity.stats import poisson_sf

NS = 1_000_000_000


def suppressed_spike(unit: UnitData, settings: IntegritySettings) -> list[Finding]:
    """A day with far more presses that did not count (`suppressed` events) than the counter's usual share.

    Usual share b: the median over the counter's days of suppressed presses per service (ratings or requests,
    whichever is more), at least `suppressed_min_share`. A day with s suppressed presses and n services is a
    spike when s ≥ `suppressed_min_count`, s ≥ `suppressed_spike_factor` · b · n and Poisson P(X ≥ s | b·n)
    < `suppressed_alpha`. One finding per counter over its spike days. A day on which the device's panel link
    dropped is not judged: a failing panel's bouncing key presses in vain by the dozen.
    """
    found = []
    last = unit.frame.day_count
    for counter_id, devices in sorted(unit.counters().items()):
        suppressed, rated, requested = Counter[int](), Counter[int](), Counter[int]()
        for device in devices:
            suppressed.update(day_counts(device.kind("suppressed"), last))
            rated.update(day_counts(device.rated, last))
            requested.update(day_counts(device.kind("solicited"), last))
        days = {day: (suppressed[day], rated[day], requested[day]) for day in suppressed | rated | requested}
        failing = {event.day for device in devices for event in device.kind("panel_disconnected")}
        shares = [row[0] / max(1, row[1], row[2]) for row in days.values()]
        usual = max(settings.suppressed_min_share, statistics.median(shares)) if shares else 0.0
        flagged = {}
        for day, (count, rated_n, requested_n) in days.items():
            if day in failing:
                continue        # a failing panel's bouncing key: the fleet page shows it, not a manipulation
            expected = usual * max(1, rated_n, requested_n)
            if count >= max(settings.suppressed_min_count, settings.suppressed_spike_factor * expected):
                p_value = poisson_sf(count, expected)
                if p_value < settings.suppressed_alpha:
                    flagged[day] = p_value
        if flagged:
            chosen = [event for day in sorted(flagged) for device in devices
                      for event in device.kind("suppressed") if event.day == day]
            levels: dict[str, int] = defaultdict(int)
            for event in chosen:
                levels[str(detail_of(event).get("level", ""))] += 1
            found.append(finding(
                SignalKind.SUPPRESSED_SPIKE, unit, flagged, min(flagged.values()), settings.suppressed_alpha,
                {"test": "Poisson P(≥ s suppressed | the counter's usual share × services)", "fires": "below",
                 "usual_share": round(usual, 4), "spike_days": len(flagged), "suppressed": len(chosen),
                 "levels": dict(sorted(levels.items()))},
                counter_id=counter_id, event_ids=[event.id for event in chosen]))
    return found


def clock_jump(unit: UnitData, settings: IntegritySettings) -> list[Finding]:
    """A device's clock set (forward or back) within one boot: between two consecutive ratings of one boot, the
    wall clock moved by at least `clock_jump_s` more or less than the monotonic clock. The ratings are what a set
    clock misdates, and a boot's ratings come minutes apart. Test: a count, at least one per device."""
    found = []
    limit = settings.clock_jump_s
    for device in unit.devices:
        jumps: list[tuple[Press, float]] = []
        # the boots one after another: a step is between two presses of one boot, never into the next boot
        ordered, clock = device.clocked.presses, device.clocked.clock
        boots = list(map(rshift, clock, repeat(BOOT_BITS)))
        offsets = _offsets(ordered)
        steps = list(map(sub, offsets[1:], offsets))
        jumps.extend((ordered[index + 1], steps[index])
                     for index in compress(range(len(steps)), map(ge, map(abs, steps), repeat(limit)))
                     if boots[index] == boots[index + 1] and 0 <= ordered[index + 1].day < unit.frame.day_count)
        if jumps:
            found.append(finding(
                SignalKind.CLOCK_JUMP, unit, (press.day for press, _ in jumps), len(jumps), 1,
                {"test": "count of wall-clock steps ≥ clock_jump_s against the monotonic clock, within a boot",
                 "fires": "at_least", "clock_jump_s": limit, "steps_s": [round(step, 1) for _, step in jumps][:50]},
                counter_id=device.counter_id, device_id=device.device_id,
                rating_uuids=[press.uuid for press, _ in jumps]))
    return found


_MINUTES: dict[str, float] = {}
_MINUTE, _SECOND, _MONO = itemgetter(slice(0, 16)), itemgetter(slice(17, 19)), attrgetter("mono_ns")


def _offsets(presses: list[Press]) -> list[float]:
    """Each press's device time less its monotonic time, in seconds (to the second): each minute's Unix time
    parsed once for the whole city (records of every device share minutes), the seconds read off the text,
    the rest done in C over the boot's presses."""
    texts = [press.recorded_at or press.at for press in presses]
    minutes = list(map(_MINUTE, texts))
    missing = set(minutes).difference(_MINUTES)
    if missing:
        sample = dict(zip(minutes, texts, strict=True))
        for minute in missing:
            _MINUTES[minute] = datetime.fromisoformat(sample[minute]).replace(second=0, microsecond=0).timestamp()
    walls = map(add, map(_MINUTES.__getitem__, minutes), map(int, map(_SECOND, texts)))
    return list(map(sub, walls, map(truediv, map(_MONO, presses), repeat(NS))))


def counter_change(unit: UnitData, settings: IntegritySettings, lines: dict[str, Timeline]) -> list[Finding]:
    """A device that claims another counter (its ratings name a unit or counter other than its placement: set
    on the terminal, not by the registry), or that the registry moved more than `counter_change_max_moves`
    times within the span. Test: counts; any differing rating, or moves beyond the allowance. One finding per
    device, named at the counter it stood at first in the span."""
    found = []
    by_device: dict[str, list[Device]] = defaultdict(list)
    for device in unit.devices:
        by_device[device.device_id].append(device)
    for device_id, placed in sorted(by_device.items()):
        differing = [press for device in placed for press in device.rated if press.differs]
        moves = [from_at for from_at, _, _, _ in lines.get(device_id, [])[1:] if unit.frame.in_span(from_at)]
        extra = max(0, len(moves) - settings.counter_change_max_moves)
        if differing or extra:
            first = min(placed, key=lambda device: min((press.at for press in device.presses), default="9999"))
            days = [press.day for press in differing] + [unit.frame.day_of(at) for at in moves[:extra + 1]]
            found.append(finding(
                SignalKind.COUNTER_CHANGE, unit, days, len(differing) + extra, 1,
                {"test": "ratings claiming another counter, plus moves beyond the allowance",
                 "claiming_elsewhere": len(differing), "moves": len(moves), "counters": sorted(
                     {device.counter_id for device in placed}), "allowed_moves": settings.counter_change_max_moves},
                counter_id=first.counter_id, device_id=device_id, rating_uuids=[press.uuid for press in differing]))
    return found
