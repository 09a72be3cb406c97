"""A device silent during opening hours while the unit's other counters work (selective silence)."""
from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import Counter
from itertools import chain, compress, repeat
from operator import attrgetter, eq, itemgetter, mul, ne, sub

from centre.integrity.data import ACTIVITY, END, Device, UnitData
from centre.integrity.frame import Frame
from centre.integrity.model import Finding, SignalKind
from centre.integrity.settings import IntegritySettings
from centre.integrity.signals.common import finding, on_span
from centre.integrity.stats import binom_sf

# Intervals in which a device's silence is explained: its panel unplugged or broken, its storage failing,
# its staff signed out (the counter is closed). Each opens at the first kind and closes at the second.
EXPLAINED = (("panel_disconnected", "panel_connected"), ("storage_failed", "storage_recovered"),
             ("staff_sign_out", "staff_sign_in"))
AT, DAY, MODE, FIRST = attrgetter("at"), attrgetter("day"), attrgetter("mode"), itemgetter(0)


def selective_silence(unit: UnitData, settings: IntegritySettings) -> list[Finding]:
    """A device silent during opening hours while the unit's other counters work.

    Services are requests and open-mode ratings; the device's share s of the unit's services over the span is
    its usual part. Within each opening period, the unit's services in time order are a sequence in which,
    were the device serving as usual, each would be its own with chance s. Its silence is a run of the other
    devices' services with no activity of its own (no rating, request, unrated or suppressed press), left out
    where its panel was unplugged, its storage failing, its staff signed out, or it stood elsewhere. A day's
    longest run k among N services has probability at most p = N · s · (1 − s)^k. Over the D days: the worst
    day, D · min p; the number of silent days (p < `silence_day_p`) against Binomial(D, silence_day_p), and of
    partly silent days (p < `silence_partly_p`) against Binomial(D, silence_partly_p), the smaller of the two
    doubled (two counts tested); flagged when the worst day or the counts are below `silence_alpha`. A unit
    with one device cannot be judged this way.
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
        others = sorted(chain.from_iterable(ats for other, ats in enumerate(services) if other != index))
        days = _silent_days(unit, device, share, others)
        judged = _judged(days, settings) if days else None
        if judged is not None:
            p_value, shown, counts = judged
            found.append(finding(
                SignalKind.SELECTIVE_SILENCE, unit, shown, p_value, settings.silence_alpha,
                {"test": "runs of the unit's services without the device: N·s·(1 − s)^k per day; worst day and "
                         "counts of silent and partly silent days", "fires": "below", "share": round(share, 4),
                 "days": len(days), "silent_days": counts[0], "partly_silent_days": counts[1],
                 "silences": [[unit.frame.day_text(day), start, end, k] for day, (_, (start, end, k))
                              in sorted(shown.items())][:50]},
                counter_id=device.counter_id, device_id=device.device_id))
    return found


def _judged(days: dict[int, tuple[float, Run]],
            settings: IntegritySettings) -> tuple[float, dict[int, tuple[float, Run]], tuple[int, int]] | None:
    """(p, the days shown, the counts of silent and partly silent days) of a device that is flagged, else None.
    The days shown: those of the count that weighs more, or the worst day."""
    worst = min(p for p, _ in days.values()) * len(days)
    silent = {day: item for day, item in days.items() if item[0] < settings.silence_day_p}
    partly = {day: item for day, item in days.items() if item[0] < settings.silence_partly_p}
    tails = (binom_sf(len(silent), len(days), settings.silence_day_p),
             binom_sf(len(partly), len(days), settings.silence_partly_p))
    p_value = min(worst, len(tails) * min(tails))
    if p_value >= settings.silence_alpha:
        return None
    worst_day = min(days, key=lambda day: days[day][0])
    shown = (silent if tails[0] <= tails[1] else partly) or {worst_day: days[worst_day]}
    return p_value, shown, (len(silent), len(partly))


def _services(unit: UnitData, device: Device) -> list[str]:
    """The times of the device's services on the span's days: its requests, and its open-mode ratings (in no
    order: the others' are sorted together)."""
    rated = device.rated
    return [*map(AT, on_span(device.kind("solicited"), unit.frame.day_count)),
            *compress(map(AT, rated), map(eq, map(MODE, rated), repeat("open")))]


Run = tuple[str, str, int]      # the first and last service of the run, and its length


def _silent_days(unit: UnitData, device: Device, share: float,
                 others: list[str]) -> dict[int, tuple[float, Run]]:
    """Per day with services: (p of the day's longest run, the run). A day's opening periods are one sequence:
    a silence goes on across the lunch break."""
    theirs, their_days = _within(others, unit.frame)
    mine: list[str] = []              # the device's own marks in the periods, in no order (each list is sorted)
    my_days: list[int] = []
    for marks in (list(map(AT, device.presses)), *(list(map(AT, device.kind(kind))) for kind in sorted(ACTIVITY))):
        found, days = _within(marks, unit.frame)
        mine.extend(found)
        my_days.extend(days)
    best = _longest(theirs, their_days, mine, _excused(device, unit.frame))
    counts = Counter(their_days) + Counter(my_days)
    return {day: (min(1.0, counts[day] * share * (1 - share) ** best.get(day, NO_RUN)[2]), best.get(day, NO_RUN))
            for day in sorted(counts)}


NO_RUN: Run = ("", "", 0)


def _within(ats: list[str], frame: Frame) -> tuple[list[str], list[int]]:
    """The times of `ats` (sorted) within each day's opening periods, and the day of each (slices, in C)."""
    edges, days = frame.period_edges
    cuts = list(map(bisect_left, repeat(ats), edges))
    lows, highs = cuts[0::2], cuts[1::2]
    found = list(chain.from_iterable(map(ats.__getitem__, map(slice, lows, highs))))
    return found, list(chain.from_iterable(map(repeat, days, map(sub, highs, lows))))


def _longest(theirs: list[str], days: list[int], mine: list[str],
             excused: tuple[list[str], list[str]]) -> dict[int, Run]:
    """Per day, the first longest run of `theirs` (sorted) with none of `mine` (in any order) at or before a
    service of it since its first, none of it excused (an excused service ends a run). Found by bisection, in
    C: the runs are cut at each own mark, each day's first service and the edges of each excused interval that
    holds a service (as indexes into `theirs`); a run in an excused interval counts 0 (more intervals began at
    or before its head than ended)."""
    if not theirs:
        return {}
    starts, ends = excused
    # the excused intervals that hold a service, as ranges of indexes (one that holds none cuts no run)
    held = [(low, high) for low, high in zip(map(bisect_left, repeat(theirs), starts),
                                              map(bisect_left, repeat(theirs), ends), strict=True) if low < high]
    lows, highs = [low for low, _ in held], [high for _, high in held]
    firsts = list(compress(range(1, len(days)), map(ne, days[1:], days)))         # each new day's first
    bounds = sorted({0, len(theirs), *map(bisect_left, repeat(theirs), mine), *firsts, *lows, *highs})
    heads = bounds[:-1]
    counted = map(eq, map(bisect_right, repeat(lows), heads), map(bisect_right, repeat(highs), heads))
    lengths = list(map(mul, map(sub, bounds[1:], heads), counted))
    # each day's runs: from the run at its first service to the next day's (in C, as the longest of each)
    day_begins = list(map(bisect_left, repeat(heads), [0, *firsts]))
    day_ends = [*day_begins[1:], len(heads)]
    longests = map(max, map(lengths.__getitem__, map(slice, day_begins, day_ends)))
    found: dict[int, Run] = {}
    for low, high, longest in zip(day_begins, day_ends, longests, strict=True):
        if longest:
            head = heads[lengths.index(longest, low, high)]
            found[days[head]] = (theirs[head], theirs[head + longest - 1], longest)
    return found


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
    midnights = [*frame.starts, END]                  # the end of the day a time falls on (none after the span)
    day_ends = map(midnights.__getitem__, map(bisect_right, repeat(frame.starts), map(FIRST, spans)))
    spans = [(start, min(end, day_end) if start in signed_out else end)
             for (start, end), day_end in zip(spans, day_ends, strict=True)]
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
