"""The signals' inner loops are written for speed (bisection, map and compress in C over a quarter's records);
each must find exactly what the plain loop it replaced finds. Here each is run against that plain loop (kept
below as the definition) on random records, with ties, empty days and excused stretches among them."""
from __future__ import annotations

import json
import random
from bisect import bisect_right
from datetime import date, datetime, timedelta
from heapq import merge
from itertools import accumulate
from zoneinfo import ZoneInfo

import pytest

from centre.cases.workdays import WorkingCalendar
from centre.integrity.data import Device, Event, Press, UnitData, case_numbers, case_of
from centre.integrity.frame import Span, build_frame
from centre.integrity.reading import _dated
from centre.integrity.settings import IntegritySettings
from centre.integrity.signals import devices, hours, services, silence, timing
from contract import iso_utc

SEEDS = range(40)
ZONE = ZoneInfo("Asia/Shanghai")
SPAN = Span(date(2026, 1, 5), date(2026, 1, 18))
FRAME = build_frame(SPAN, ZONE, "mon-fri 09:00-12:00 13:00-17:00; sat 09:00-12:00",
                    WorkingCalendar({}, today=date(2026, 1, 1)), 30)


def moment(rng: random.Random) -> str:
    """A time within the span (and a day around it), as the stored UTC text."""
    start = datetime(2026, 1, 4, tzinfo=ZONE)
    return iso_utc(start + timedelta(seconds=rng.randrange(16 * 86400)))


def press(rng: random.Random, at: str, boot: str, mono: int, **fields: object) -> Press:
    values = {"at": at, "uuid": f"{rng.getrandbits(64):016x}", "level": rng.choice((1, 3, 4, 5, 5)),
              "mode": rng.choice(("open", "solicited", "solicited")), "staff_id": rng.choice((None, "s1", "s2")),
              "boot_id": boot, "mono_ns": mono, "recorded_at": None, "differs": False, "day": FRAME.day_of(at)}
    return Press(**{**values, **fields})  # type: ignore[arg-type]


def device(rng: random.Random, count: int) -> Device:
    """A device's records over the span: a few boots, each with ratings and events on its own monotonic clock."""
    found = Device("dev", "c-1")
    at = sorted(moment(rng) for _ in range(count))
    kinds = ("solicited", "solicited", "unrated", "staff_sign_in", "staff_sign_out", "started")
    presses, events = [], []
    boot, zero = "b0", datetime.fromisoformat(at[0])
    for index, text in enumerate(at):
        if rng.random() < 0.03:
            boot, zero = f"b{index}", datetime.fromisoformat(text)
        mono = int((datetime.fromisoformat(text) - zero).total_seconds() * 1e9) + rng.choice((0, 0, 1))
        if rng.random() < 0.5:
            presses.append(press(rng, text, boot, mono))
        else:
            events.append(Event(text, index, rng.choice(kinds), boot, mono, "{}", FRAME.day_of(text)))
    found.presses = presses
    found.rated = [p for p in presses if 0 <= p.day < FRAME.day_count]
    for event in events:
        found.by_kind.setdefault(event.kind, []).append(event)
    return found


def unit_of(*devices: Device) -> UnitData:
    return UnitData("u", None, FRAME, list(devices))


@pytest.mark.parametrize("seed", SEEDS)
def test_the_longest_silences_are_the_plain_scans(seed: int) -> None:
    rng = random.Random(seed)
    times = sorted({moment(rng) for _ in range(rng.randrange(0, 300))})
    theirs = sorted(rng.sample(times, len(times) // 2))
    mine = sorted(set(times) - set(theirs) if rng.random() < 0.8 else rng.sample(times, len(times) // 3))
    # excused intervals, disjoint: some long, some right after a service (holding none of them)
    spans = [tuple(sorted((moment(rng), moment(rng)))) for _ in range(rng.randrange(0, 4))]
    spans += [(at.replace(".000000", ".200000"), at.replace(".000000", ".700000"))
              for at in rng.sample(theirs, min(10, len(theirs)))]
    merged: list[list[str]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(end, merged[-1][1])
        else:
            merged.append([start, end])
    excused = ([start for start, _ in merged], [end for _, end in merged])
    days = [FRAME.day_of(at) for at in theirs]
    expected = {}
    for day in sorted(set(days)):
        run = _plain_longest([at for at, d in zip(theirs, days, strict=True) if d == day],
                             [at for at in mine if FRAME.day_of(at) == day], *excused)
        if run[2]:
            expected[day] = run
    assert silence._longest(theirs, days, [at for at in mine if FRAME.day_of(at) in set(days)], excused) == expected


def _plain_longest(theirs: list[str], mine: list[str], starts: list[str], ends: list[str]) -> silence.Run:
    best: silence.Run = ("", "", 0)
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


@pytest.mark.parametrize("seed", SEEDS)
def test_the_densest_windows_are_the_two_pointer_scans(seed: int) -> None:
    rng = random.Random(seed)
    runs = []
    for boot in range(rng.randrange(1, 5)):
        at = sorted(moment(rng) for _ in range(rng.randrange(0, 60)))
        monos = list(accumulate(rng.choice((0, 10, 30, 60)) * 10**9 for _ in at))      # ties among them
        runs.append([press(rng, text, f"b{boot}", mono) for text, mono in zip(at, monos, strict=True)])
    width = rng.choice((2, 10, 30)) * 60 * 1e9
    clock = [mono for index, run in enumerate(runs) for mono in (p.mono_ns + (index << timing.BOOT_BITS) for p in run)]
    presses = [p for run in runs for p in run]
    day_runs = timing._runs(presses)
    most, counts, starts = timing._scan(clock, day_runs, width)
    found = {day: (k, timing._window(presses, day_runs, day, k, counts, starts)) for day, k in most.items()}
    assert found == _plain_densest(runs, width)


def _plain_densest(runs: list[list[Press]], width_ns: float) -> dict[int, tuple[int, list[Press]]]:
    found: dict[int, tuple[int, list[Press]]] = {}
    for run in runs:
        start = 0
        for end, each in enumerate(run):
            while each.mono_ns - run[start].mono_ns >= width_ns:
                start += 1
            held = found.get(each.day)
            if held is None or end - start + 1 > held[0]:
                found[each.day] = (end - start + 1, run[start:end + 1])
    return found


@pytest.mark.parametrize("seed", SEEDS)
def test_requests_pair_with_ratings_as_the_plain_walk_pairs_them(seed: int) -> None:
    found = device(random.Random(seed), 300)
    settings = IntegritySettings(request_window_max_s=random.Random(seed).choice((5.0, 600.0)))
    assert services.pairs(found, settings) == _plain_pairs(found, settings)


def _plain_pairs(found: Device, settings: IntegritySettings) -> tuple[list[tuple[Press, Event]], list[Press]]:
    window_ns = int(settings.request_window_max_s * 1e9)
    matched, unmatched = [], []
    for boot_presses, requests in found.boots.values():
        opened: Event | None = None
        index = 0
        for each in boot_presses:
            while index < len(requests) and requests[index].mono_ns <= each.mono_ns:
                opened = requests[index] if requests[index].kind == "solicited" else None
                index += 1
            if each.mode != "solicited":
                continue
            if opened is not None and each.mono_ns - opened.mono_ns <= window_ns:
                matched.append((each, opened))
            else:
                unmatched.append(each)
            opened = None
    return matched, unmatched


@pytest.mark.parametrize("seed", SEEDS)
def test_unattended_ratings_are_those_the_merged_walk_finds(seed: int) -> None:
    found = device(random.Random(seed), 300)
    signs = found.kind("staff_sign_in", "staff_sign_out", "started")
    signed: bool | None = None
    expected = []
    for _, is_press, record in merge(((e.at, 0, e) for e in signs), ((p.at, 1, p) for p in found.presses)):
        if not is_press:
            signed = {"staff_sign_in": True, "staff_sign_out": False}.get(record.kind)
        elif (signed is False or (signed is None and record.staff_id is None)) and 0 <= record.day < FRAME.day_count:
            expected.append((record.day, record))
    assert hours._unattended(unit_of(found), found) == expected


@pytest.mark.parametrize("seed", SEEDS)
def test_hours_days_and_case_numbers_are_those_the_plain_lookups_give(seed: int) -> None:
    rng = random.Random(seed)
    at = sorted(moment(rng) for _ in range(200))
    records, first, last = _dated(Press, [(text, "u", 5, "open", None, "b", 0, None, False) for text in at], FRAME)
    assert [r.day for r in records] == [FRAME.day_of(text) for text in at]
    assert records[first:last] == [r for r in records if 0 <= r.day < FRAME.day_count]
    inside = records[first:last]
    assert FRAME.outside([r.at for r in inside], [r.day for r in inside]) == \
        [int(not FRAME.in_hours(r.at, r.day)) for r in inside]
    details = [json.dumps({"case_no": rng.choice((None, "", "A-1", 'q"t', "a\\b", "长")), "source": "counter"})
               for _ in range(50)] + ['{"case_no":"B-2"}', "{}", '{"case_no": 7}']
    requests = [Event("t", n, "solicited", "b", 0, raw, 0) for n, raw in enumerate(details)]
    assert case_numbers(requests) == [case_of(event) for event in requests]


@pytest.mark.parametrize("seed", SEEDS[:10])
def test_clock_steps_are_those_between_neighbours_of_one_boot(seed: int) -> None:
    rng = random.Random(seed)
    found = device(rng, 400)
    found.presses = [p._replace(recorded_at=iso_utc(datetime.fromisoformat(p.at) + timedelta(hours=2)))
                     if rng.random() < 0.05 else p for p in found.presses]
    found.rated = [p for p in found.presses if 0 <= p.day < FRAME.day_count]
    plain = []
    for presses, _ in found.boots.values():
        offsets = [datetime.fromisoformat(p.device_time).replace(microsecond=0).timestamp() - p.mono_ns / 1e9
                   for p in presses]
        plain.extend(after.uuid for after, before, offset in zip(presses[1:], offsets, offsets[1:], strict=False)
                     if abs(offset - before) >= 60 and 0 <= after.day < FRAME.day_count)
    flagged = devices.clock_jump(unit_of(found), IntegritySettings())
    assert [uuid for f in flagged for uuid in f.evidence.rating_uuids] == plain
