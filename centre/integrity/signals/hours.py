"""When ratings were given: outside opening hours, with nobody signed in, or while technician mode was open."""
from __future__ import annotations

from bisect import bisect_right
from itertools import compress, repeat
from operator import and_, attrgetter, eq, is_, or_

from centre.integrity.data import Device, Press, UnitData, detail_of
from centre.integrity.model import Finding, SignalKind
from centre.integrity.settings import IntegritySettings
from centre.integrity.signals.common import DAY, finding, shifted, staff_counts

TECHNICIAN = "technician"
AT, STAFF = attrgetter("at"), attrgetter("staff_id")
SIGNED_IN, SIGNED_OUT, UNKNOWN = 0, 1, 2
SIGNED = {"staff_sign_in": SIGNED_IN, "staff_sign_out": SIGNED_OUT}


def out_of_hours(unit: UnitData, settings: IntegritySettings) -> list[Finding]:
    """Ratings counted outside the unit's opening hours widened by `grace_minutes`, per counter.

    Test: a count. The counter is flagged when at least `out_of_hours_min_ratings` of its ratings in the span
    fall outside every opening period of their local day (the registry's weekly hours on the working-day
    calendar, centre/integrity/frame.py), each period widened by the grace on both sides. A unit without
    readable opening hours is not tested: nothing says when it is closed.
    """
    frame = unit.frame
    if not frame.has_hours:
        return []
    found = []
    for counter_id, devices in sorted(unit.counters().items()):
        rated = [press for device in devices for press in device.rated]
        outside = [(press.day, press) for press in compress(rated, frame.outside(map(AT, rated), map(DAY, rated)))]
        if len(outside) >= settings.out_of_hours_min_ratings:
            found.append(finding(
                SignalKind.OUT_OF_HOURS, unit, (day for day, _ in outside), len(outside),
                settings.out_of_hours_min_ratings,
                {"test": "count of ratings outside opening hours ± grace", "grace_minutes": settings.grace_minutes,
                 "ratings": len(rated), "outside": len(outside),
                 "by_staff": staff_counts(press for _, press in outside)},
                counter_id=counter_id, rating_uuids=[press.uuid for _, press in outside]))
    return found


def no_staff(unit: UnitData, settings: IntegritySettings) -> list[Finding]:
    """Ratings recorded while nobody was signed in, at a counter whose staff sign in.

    A rating is "with nobody signed in" when its device's last sign-in event before it (ratings and events in
    order of time) was a sign-out, or, before any such event, when the rating credits nobody. Only counters
    with at least one sign-in in the span are tested: a terminal used without sign-in credits nobody by
    design. Test: a count, at least `no_staff_min_ratings` per counter.
    """
    found = []
    for counter_id, devices in sorted(unit.counters().items()):
        if not any(device.kind("staff_sign_in") for device in devices):
            continue
        alone = [item for device in devices for item in _unattended(unit, device)]
        if len(alone) >= settings.no_staff_min_ratings:
            rated = sum(len(device.rated) for device in devices)
            found.append(finding(
                SignalKind.NO_STAFF, unit, (day for day, _ in alone), len(alone), settings.no_staff_min_ratings,
                {"test": "count of ratings with nobody signed in", "ratings": rated, "unattended": len(alone)},
                counter_id=counter_id, rating_uuids=[press.uuid for _, press in alone]))
    return found


def _unattended(unit: UnitData, device: Device) -> list[tuple[int, Press]]:
    signs = device.kind("staff_sign_in", "staff_sign_out", "started")
    # who was signed in at each rating: the last of these events at or before it (bisection), if any; a
    # rating is unattended after a sign-out, or where that is not known (no such event, or a start) when it
    # credits nobody. All in C.
    signed = [UNKNOWN, *(SIGNED.get(event.kind, UNKNOWN) for event in signs)]
    rated = device.rated
    states = list(map(signed.__getitem__, map(bisect_right, repeat(list(map(AT, signs))), map(AT, rated))))
    alone = map(or_, map(eq, states, repeat(SIGNED_OUT)),
                map(and_, map(eq, states, repeat(UNKNOWN)), map(is_, map(STAFF, rated), repeat(None))))
    return [(press.day, press) for press in compress(rated, alone)]


def technician_mode(unit: UnitData, settings: IntegritySettings) -> list[Finding]:
    """Ratings recorded while technician mode was open on the device.

    Technician mode opens at a technician's sign-in (`access_granted`, role technician) and is taken to stay
    open until `technician_idle_minutes` after the sign-in or its last `technician_action`, or until the
    terminal starts or stops again. Test: a count, at least `technician_min_ratings` per device.
    """
    found = []
    for device in unit.devices:
        windows = _technician_windows(device, settings)
        if not windows:
            continue
        inside = [(day, press) for day, press in ((press.day, press) for press in device.rated)
                  if any(start <= press.at < end for start, end, _ in windows)]
        if len(inside) >= settings.technician_min_ratings:
            sessions = sorted({event_id for start, end, event_id in windows
                               if any(start <= press.at < end for _, press in inside)})
            found.append(finding(
                SignalKind.TECHNICIAN_MODE, unit, (day for day, _ in inside), len(inside),
                settings.technician_min_ratings,
                {"test": "count of ratings while technician mode was open", "sessions": len(sessions),
                 "idle_minutes": settings.technician_idle_minutes},
                counter_id=device.counter_id, device_id=device.device_id,
                rating_uuids=[press.uuid for _, press in inside], event_ids=sessions))
    return found


def _technician_windows(device: Device, settings: IntegritySettings) -> list[tuple[str, str, int]]:
    """(start, end, the sign-in's event id) of each technician session on the device."""
    idle_s = settings.technician_idle_minutes * 60
    windows: list[tuple[str, str, int]] = []
    current: tuple[str, str, int] | None = None
    for event in device.kind("access_granted", "technician_action", "started", "stopped"):
        if event.kind == "access_granted":
            if current:
                windows.append(current)
            current = (event.at, shifted(event.at, idle_s), event.id) if detail_of(event).get("role") == TECHNICIAN \
                else None
        elif event.kind == "technician_action" and current and event.at < current[1]:
            current = (current[0], shifted(event.at, idle_s), current[2])
        elif event.kind in ("started", "stopped") and current:
            windows.append((current[0], min(current[1], event.at), current[2]))
            current = None
    if current:
        windows.append(current)
    return windows
