"""What the devices themselves show: spikes of presses that did not count, a device silent while its unit
works, a clock set within a boot, a device that claims or takes another counter."""
from __future__ import annotations

import statistics
from bisect import bisect_left, bisect_right
from collections import defaultdict
from datetime import datetime

from centre.integrity.data import ACTIVITY, END, Device, Event, Press, Timeline, UnitData, detail_of
from centre.integrity.frame import Frame
from centre.integrity.model import Finding, SignalKind
from centre.integrity.settings import IntegritySettings
from centre.integrity.signals.common import finding
from centre.integrity.stats import binom_sf, poisson_sf

NS = 1_000_000_000
# Intervals in which a device's silence is explained: its panel unplugged or broken, its storage failing,
# its staff signed out (the counter is closed). Each opens at the first kind and closes at the second.
EXPLAINED = (("panel_disconnected", "panel_connected"), ("storage_failed", "storage_recovered"),
             ("staff_sign_out", "staff_sign_in"))


def suppressed_spike(unit: UnitData, settings: IntegritySettings) -> list[Finding]:
    """A day with far more presses that did not count (`suppressed` events) than the counter's usual share.

    Usual share b: the median over the counter's days of suppressed presses per service (ratings or requests,
    whichever is more), at least `suppressed_min_share`. A day with s suppressed presses and n services is a
    spike when s ≥ `suppressed_min_count`, s ≥ `suppressed_spike_factor` · b · n and Poisson P(X ≥ s | b·n)
    < `suppressed_alpha`. One finding per counter over its spike days. A day on which the device's panel link
    dropped is not judged: a failing panel's bouncing key presses in vain by the dozen.
    """
    found = []
    last = len(unit.frame.starts) - 1
    for counter_id, devices in sorted(unit.counters().items()):
        days: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])     # suppressed, rated, requested
        spikes: dict[int, list[Event]] = defaultdict(list)
        for device in devices:
            for event in device.kind("suppressed", "solicited"):
                day = event.day
                if 0 <= day < last:
                    if event.kind == "suppressed":
                        days[day][0] += 1
                        spikes[day].append(event)
                    else:
                        days[day][2] += 1
            for day, _ in ((press.day, press) for press in device.rated):
                days[day][1] += 1
        failing = {event.day for device in devices for event in device.kind("panel_disconnected")}
        shares = [row[0] / max(1, row[1], row[2]) for row in days.values()]
        usual = max(settings.suppressed_min_share, statistics.median(shares)) if shares else 0.0
        flagged = {}
        for day, (suppressed, rated, requested) in days.items():
            if day in failing:
                continue        # a failing panel's bouncing key: the fleet page shows it, not a manipulation
            expected = usual * max(1, rated, requested)
            if suppressed >= max(settings.suppressed_min_count, settings.suppressed_spike_factor * expected):
                p_value = poisson_sf(suppressed, expected)
                if p_value < settings.suppressed_alpha:
                    flagged[day] = p_value
        if flagged:
            chosen = [event for day in sorted(flagged) for event in spikes[day]]
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


def selective_silence(unit: UnitData, settings: IntegritySettings) -> list[Finding]:
    """A device silent during opening hours while the unit's other counters work.

    Services are requests and open-mode ratings; the device's share s of the unit's services over the span is
    its usual part. Within each opening period, the unit's services in time order are a sequence in which,
    were the device serving as usual, each would be its own with chance s. Its silence is a run of the other
    devices' services with no activity of its own (no rating, request, unrated or suppressed press), left out
    where its panel was unplugged, its storage failing, its staff signed out, or it stood elsewhere. A day's
    longest run k among N services has probability at most p = N · s · (1 − s)^k. Over the D days: the worst
    day, D · min p, and the number of silent days (p < `silence_day_p`) against Binomial(D, silence_day_p);
    flagged when either is below `silence_alpha`. A unit with one device cannot be judged this way.
    """
    if len(unit.devices) < 2:
        return []
    services = [_services(unit, device) for device in unit.devices]
    total = sum(len(found) for found in services)
    found = []
    for index, device in enumerate(unit.devices):
        own = len(services[index])
        if not own or own == total:
            continue
        share = own / total
        others = sorted(at for other, ats in enumerate(services) if other != index for at in ats)
        days = _silent_days(unit, device, share, others)
        if not days:
            continue
        worst = min(p for p, _ in days.values()) * len(days)
        silent = {day: item for day, item in days.items() if item[0] < settings.silence_day_p}
        p_value = min(worst, binom_sf(len(silent), len(days), settings.silence_day_p))
        if p_value < settings.silence_alpha:
            worst_day = min(days, key=lambda day: days[day][0])
            shown = silent or {worst_day: days[worst_day]}
            found.append(finding(
                SignalKind.SELECTIVE_SILENCE, unit, shown, p_value, settings.silence_alpha,
                {"test": "runs of the unit's services without the device: N·s·(1 − s)^k per day; worst day and "
                         "count of silent days", "fires": "below", "share": round(share, 4),
                 "days": len(days), "silent_days": len(silent),
                 "silences": [[unit.frame.day_text(day), start, end, k] for day, (_, (start, end, k))
                              in sorted(shown.items())][:50]},
                counter_id=device.counter_id, device_id=device.device_id))
    return found


def _services(unit: UnitData, device: Device) -> list[str]:
    last = unit.frame.day_count
    ats = [event.at for event in device.events if event.kind == "solicited" and 0 <= event.day < last]
    ats.extend(press.at for press in device.rated if press.mode == "open")
    return sorted(ats)


Run = tuple[str, str, int]      # the first and last service of the run, and its length


def _silent_days(unit: UnitData, device: Device, share: float,
                 others: list[str]) -> dict[int, tuple[float, Run]]:
    """Per day with services: (p of the day's longest run, the run)."""
    marks = sorted([press.at for press in device.presses] + [event.at for event in device.events
                                                               if event.kind in ACTIVITY])
    starts, ends = _excused(device, unit.frame)
    found: dict[int, tuple[float, Run]] = {}
    for day, periods in enumerate(unit.frame.periods):
        # the day's opening periods as one sequence: a silence goes on across the lunch break
        theirs = [at for start, end in periods for at in others[bisect_left(others, start):bisect_left(others, end)]]
        mine = [at for start, end in periods for at in marks[bisect_left(marks, start):bisect_left(marks, end)]]
        if theirs or mine:
            best = _longest(theirs, mine, starts, ends)
            found[day] = (min(1.0, (len(theirs) + len(mine)) * share * (1 - share) ** best[2]), best)
    return found


def _longest(theirs: list[str], mine: list[str], starts: list[str], ends: list[str]) -> Run:
    best: Run = ("", "", 0)
    first, length, own = "", 0, 0
    for at in theirs:
        while own < len(mine) and mine[own] <= at:
            own, length = own + 1, 0
        excused = bisect_right(starts, at) - 1
        if excused >= 0 and at < ends[excused]:
            length = 0
            continue
        first = at if length == 0 else first
        length += 1
        if length > best[2]:
            best = (first, at, length)
    return best


def _excused(device: Device, frame: Frame) -> tuple[list[str], list[str]]:
    """The intervals in which the device's silence says nothing, merged and sorted: (starts, ends). A sign-out
    excuses the rest of its own day only: a terminal left off the next morning is not "signed out"."""
    spans: list[tuple[str, str]] = []
    for opens, closes in EXPLAINED:
        since: str | None = None
        for event in device.kind(opens, closes):
            if event.kind == opens:
                since = since or event.at
            elif since is not None:
                spans.append((since, event.at))
                since = None
        if since is not None:
            spans.append((since, END))
    signed_out = {event.at for event in device.kind("staff_sign_out")}
    spans = [(start, min(end, _day_end(frame, start)) if start in signed_out else end) for start, end in spans]
    placed = sorted(device.placed)
    edges = ["", *(edge for span in placed for edge in span), END]
    spans.extend((edges[i], edges[i + 1]) for i in range(0, len(edges) - 1, 2) if edges[i] < edges[i + 1])
    merged: list[tuple[str, str]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return [start for start, _ in merged], [end for _, end in merged]


def _day_end(frame: Frame, at: str) -> str:
    """The end of the local day `at` falls on (the span's first midnight before it, no limit after it)."""
    index = bisect_right(frame.starts, at)
    return frame.starts[index] if index < len(frame.starts) else END


def clock_jump(unit: UnitData, settings: IntegritySettings) -> list[Finding]:
    """A device's clock set (forward or back) within one boot: between two consecutive ratings of one boot, the
    wall clock moved by at least `clock_jump_s` more or less than the monotonic clock. The ratings are what a set
    clock misdates, and a boot's ratings come minutes apart. Test: a count, at least one per device."""
    found = []
    limit = settings.clock_jump_s
    for device in unit.devices:
        jumps: list[tuple[Press, float]] = []
        for boot_presses, _ in device.boots.values():
            offsets = [_wall_seconds(press.recorded_at) - press.mono_ns / NS for press in boot_presses]
            jumps.extend((after, offset - before) for after, before, offset
                         in zip(boot_presses[1:], offsets, offsets[1:], strict=False)
                         if abs(offset - before) >= limit and 0 <= after.day < unit.frame.day_count)
        if jumps:
            found.append(finding(
                SignalKind.CLOCK_JUMP, unit, (press.day for press, _ in jumps), len(jumps), 1,
                {"test": "count of wall-clock steps ≥ clock_jump_s against the monotonic clock, within a boot",
                 "fires": "at_least", "clock_jump_s": limit, "steps_s": [round(step, 1) for _, step in jumps][:50]},
                counter_id=device.counter_id, device_id=device.device_id,
                rating_uuids=[press.uuid for press, _ in jumps]))
    return found


_MINUTES: dict[str, float] = {}


def _wall_seconds(text: str) -> float:
    """A device time's Unix seconds, to the second: the minute parsed once for the whole city (records of
    every device share minutes), the seconds read off the text."""
    minute = text[:16]
    base = _MINUTES.get(minute)
    if base is None:
        base = _MINUTES[minute] = datetime.fromisoformat(text).replace(second=0, microsecond=0).timestamp()
    return base + int(text[17:19])


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
