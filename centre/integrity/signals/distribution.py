"""Implausible distributions: no bad review where the sector makes that unlikely, an unrated share that
collapses while top ratings rise, a step in the good rate right after a ranking was published.

These judge counts, not single ratings: a flag names no rating as false (its evidence holds the daily counts
in its detail), so confirming one holds the unit's candidacy and excludes nothing.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import compress
from operator import attrgetter

from centre.integrity.data import UnitData
from centre.integrity.model import Evidence, Finding, SignalKind
from centre.integrity.settings import IntegritySettings
from centre.integrity.signals.common import DAY, day_counts, finding
from centre.integrity.stats import benjamini_hochberg, dispersion, two_share_z

BAD = frozenset({1, 2})
GOOD = frozenset({3, 4, 5})
TOP = 5
LEVEL = attrgetter("level")
DAILY = "daily"            # the unit's memo of its daily counts
CITY = ""                  # the sector key of units without one, and of the city-wide fallback
MIN_SECTOR_UNITS = 5       # fewer units with enough ratings: the sector's quantile falls back to the city's


@dataclass
class Tally:
    """A unit's (or counter's) ratings and bad reviews over the span, and the days they cover."""

    rated: int = 0
    bad: int = 0
    first: str = ""
    last: str = ""


@dataclass
class UnitTally:
    unit_id: str
    sector: str | None
    whole: Tally = field(default_factory=Tally)
    counters: dict[str, Tally] = field(default_factory=dict)


def tally(unit: UnitData) -> UnitTally:
    """What no_bad_reviews needs of one unit, gathered while its data is at hand."""
    found = UnitTally(unit.unit_id, unit.sector)
    spans: list[tuple[Tally, list[int]]] = []
    for counter_id, devices in unit.counters().items():
        rated = [press for device in devices for press in device.rated]
        if not rated:
            continue
        days = [min(map(DAY, rated)), max(map(DAY, rated))]
        counter = found.counters[counter_id] = Tally(len(rated), sum(map(BAD.__contains__, map(LEVEL, rated))))
        spans.append((counter, days))
        found.whole.rated += counter.rated
        found.whole.bad += counter.bad
    if spans:
        spans.append((found.whole, [min(days[0] for _, days in spans), max(days[1] for _, days in spans)]))
    for item, (first, last) in spans:
        item.first, item.last = unit.frame.day_text(first), unit.frame.day_text(last)
    return found


def no_bad_reviews(tallies: list[UnitTally], settings: IntegritySettings) -> list[Finding]:
    """No bad review (level 1–2) over n ratings where even the sector's best honest units would show some.

    Null rate p: the `no_bad_null_quantile` of the bad rates of the sector's units with at least
    `no_bad_min_unit_ratings` ratings (the city's, for a sector with fewer than five such units), at least
    `no_bad_min_rate`. P(0 bad in n) = (1 − p)^n for each unit, and for each counter of a unit that has bad
    reviews elsewhere; Benjamini–Hochberg at `no_bad_fdr` over every unit and counter tested.
    """
    nulls = _null_rates(tallies, settings)
    tested: list[tuple[UnitTally, str | None, Tally, float, float]] = []
    for unit in tallies:
        p0 = nulls.get(unit.sector or CITY, nulls[CITY])
        if unit.whole.rated:
            whole_p = (1 - p0) ** unit.whole.rated if not unit.whole.bad else 1.0
            tested.append((unit, None, unit.whole, p0, whole_p))
        if unit.whole.bad:
            for counter_id, counter in sorted(unit.counters.items()):
                if counter.rated:
                    p_value = (1 - p0) ** counter.rated if not counter.bad else 1.0
                    tested.append((unit, counter_id, counter, p0, p_value))
    rejected = benjamini_hochberg([p for *_, p in tested], settings.no_bad_fdr)
    found = []
    for (unit, subject, counts, p0, p_value), flagged in zip(tested, rejected, strict=True):
        if flagged:
            found.append(Finding(
                kind=SignalKind.NO_BAD_REVIEWS, unit_id=unit.unit_id, counter_id=subject, day_from=counts.first,
                day_to=counts.last, figure=p_value, threshold=settings.no_bad_fdr,
                detail={"test": "binomial P(0 bad in n | the sector's low bad rate), Benjamini–Hochberg",
                        "fires": "below", "ratings": counts.rated, "bad": 0, "null_bad_rate": round(p0, 5),
                        "sector": unit.sector, "tested": len(tested)},
                evidence=Evidence()))
    return found


def _null_rates(tallies: list[UnitTally], settings: IntegritySettings) -> dict[str, float]:
    rates: dict[str, list[float]] = defaultdict(list)
    for unit in tallies:
        if unit.whole.rated >= settings.no_bad_min_unit_ratings:
            rate = unit.whole.bad / unit.whole.rated
            rates[unit.sector or CITY].append(rate)
            if unit.sector:
                rates[CITY].append(rate)
    found = {sector: max(settings.no_bad_min_rate, _quantile(values, settings.no_bad_null_quantile))
             for sector, values in rates.items() if len(values) >= MIN_SECTOR_UNITS}
    found.setdefault(CITY, settings.no_bad_min_rate)
    return found


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _daily(unit: UnitData, counter_id: str | None) -> dict[int, list[int]]:
    """Per day of the span: [requests, unrated, rated, top, good] at the counter (None: the whole unit)."""
    memo: dict[str | None, dict[int, list[int]]] | None = unit.memo.get(DAILY)
    if memo is None:
        memo = unit.memo[DAILY] = _daily_counts(unit)
    return memo.get(counter_id, {})


def _daily_counts(unit: UnitData) -> dict[str | None, dict[int, list[int]]]:
    """_daily for every counter and the whole unit: the days with a request, an unrated request or a rating,
    each counted in C (Counter over the records' days)."""
    last = unit.frame.day_count
    columns: dict[str | None, list[Counter[int]]] = {None: [Counter() for _ in range(5)]}
    for device in unit.devices:
        rated = device.rated
        counts = (day_counts(device.kind("solicited"), last), day_counts(device.kind("unrated"), last),
                  Counter(map(DAY, rated)), Counter(compress(map(DAY, rated), map(TOP.__eq__, map(LEVEL, rated)))),
                  Counter(compress(map(DAY, rated), map(GOOD.__contains__, map(LEVEL, rated)))))
        for key in (device.counter_id, None):
            for column, count in zip(columns.setdefault(key, [Counter() for _ in range(5)]), counts, strict=True):
                column.update(count)
    return {key: {day: [column[day] for column in found] for day in found[0] | found[1] | found[2]}
            for key, found in columns.items()}


def unrated_collapse(unit: UnitData, settings: IntegritySettings) -> list[Finding]:
    """A counter's unrated share (unrated / requests) falls while its top share (level 5 / rated) rises.

    For each split of the counter's active days (at least `collapse_min_days` each side): z of the fall in
    the unrated share and z of the rise in the top share, two-proportion tests with the quasi-binomial
    dispersion of the days within each side; the statistic is the smaller of the two. Flagged when it reaches
    `collapse_z` at the best split and the unrated share lost at least `collapse_min_drop` of itself.
    """
    found = []
    for counter_id in sorted(unit.counters()):
        series = sorted(_daily(unit, counter_id).items())
        series = [(day, row) for day, row in series if row[0]]
        best = _best_split(series, settings)
        if best is None:
            continue
        split, z, before, after = best
        found.append(finding(
            SignalKind.UNRATED_COLLAPSE, unit, [series[split][0], series[-1][0]], z, settings.collapse_z,
            {"test": "two-proportion z, unrated share falls and top share rises, best split", "fires": "at_least",
             "split_day": unit.frame.day_text(series[split][0]),
             "unrated_share": [round(before[0], 4), round(after[0], 4)],
             "top_share": [round(before[1], 4), round(after[1], 4)]},
            counter_id=counter_id))
    return found


def _best_split(series: list[tuple[int, list[int]]],
                settings: IntegritySettings) -> tuple[int, float, tuple[float, float], tuple[float, float]] | None:
    minimum = settings.collapse_min_days
    if len(series) < 2 * minimum:
        return None
    total = [sum(row[i] for _, row in series) for i in range(4)]
    head = [0, 0, 0, 0]
    best: tuple[int, float] | None = None
    for index, (_, row) in enumerate(series[:-minimum]):
        head = [a + b for a, b in zip(head, row[:4], strict=True)]
        split = index + 1
        if split < minimum:
            continue
        tail = [a - b for a, b in zip(total, head, strict=True)]
        z = min(-two_share_z(head[1], head[0], tail[1], tail[0]), two_share_z(head[3], head[2], tail[3], tail[2]))
        if best is None or z > best[1]:
            best = (split, z)
    if best is None:
        return None
    return _judged(series, best[0], settings)


def _judged(series: list[tuple[int, list[int]]], split: int,
            settings: IntegritySettings) -> tuple[int, float, tuple[float, float], tuple[float, float]] | None:
    """The best split's statistic, now with each side's dispersion; None unless it is a collapse."""
    sides = (series[:split], series[split:])
    sums = [[sum(row[i] for _, row in side) for i in range(4)] for side in sides]
    if not (sums[0][0] and sums[1][0] and sums[0][2] and sums[1][2]):
        return None
    phi_unrated = max(dispersion([row[1] for _, row in side], [row[0] for _, row in side]) for side in sides)
    phi_top = max(dispersion([row[3] for _, row in side], [row[2] for _, row in side]) for side in sides)
    z = min(-two_share_z(sums[0][1], sums[0][0], sums[1][1], sums[1][0], phi_unrated),
            two_share_z(sums[0][3], sums[0][2], sums[1][3], sums[1][2], phi_top))
    before = (sums[0][1] / sums[0][0], sums[0][3] / sums[0][2])
    after = (sums[1][1] / sums[1][0], sums[1][3] / sums[1][2])
    drop = (before[0] - after[0]) / before[0] if before[0] else 0.0
    if z < settings.collapse_z or drop < settings.collapse_min_drop:
        return None
    return split, z, before, after


def step_after_ranking(unit: UnitData, settings: IntegritySettings, published: list[date]) -> list[Finding]:
    """A rise in the unit's good rate right after a ranking was published (`published`: see ranking_days).

    For each publication day d: the good rate (levels 3–5 over rated) over the `step_window_days` before d
    against the same number of days from d, each side with at least `step_min_days` active days; z of the
    rise with the larger quasi-binomial dispersion of the two sides. Flagged when the rise is at least
    `step_min_rise` and z reaches `step_z`.
    """
    daily = _daily(unit, None)
    found = []
    for day in published:
        index = (day - unit.frame.span.day_from).days
        sides = ([(d, daily[d]) for d in range(index - settings.step_window_days, index) if d in daily],
                 [(d, daily[d]) for d in range(index, index + settings.step_window_days) if d in daily])
        if min(len(side) for side in sides) < settings.step_min_days:
            continue
        good = [sum(row[4] for _, row in side) for side in sides]
        rated = [sum(row[2] for _, row in side) for side in sides]
        phi = max(dispersion([row[4] for _, row in side], [row[2] for _, row in side]) for side in sides)
        rise = good[1] / rated[1] - good[0] / rated[0]
        z = two_share_z(good[0], rated[0], good[1], rated[1], phi)
        if rise >= settings.step_min_rise and z >= settings.step_z:
            found.append(finding(
                SignalKind.STEP_AFTER_RANKING, unit, [sides[1][0][0], sides[1][-1][0]], z, settings.step_z,
                {"test": "quasi-binomial z of the good rate's rise after a ranking", "fires": "at_least",
                 "published": day.isoformat(), "good_rate": [round(good[0] / rated[0], 4),
                                                             round(good[1] / rated[1], 4)],
                 "ratings": rated, "dispersion": round(phi, 3)}))
    return found


def first_days(day_from: date, day_to: date) -> list[date]:
    """The first day of each month within the span."""
    found, day = [], day_from.replace(day=1)
    while day <= day_to:
        if day >= day_from:
            found.append(day)
        day = (day + timedelta(days=32)).replace(day=1)
    return found
