"""What the stored records say of themselves: a device's chain with gaps, breaks, conflicting copies or a cut
tail, and receipts citizens looked up for ratings that never arrived. Read from the tables the ingest and the
citizen pages keep (device_chains, conflicts, devices' heartbeats, receipt_misses), not from the per-unit
pass: a few rows per device."""
from __future__ import annotations

import uuid as uuids
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, func, select

from centre import chains
from centre.db.public_tables import receipt_misses
from centre.db.tables import conflicts, devices, ratings
from centre.integrity.data import Timeline, UnitRow, placed_at
from centre.integrity.frame import Span
from centre.integrity.model import Evidence, Finding, SignalKind
from centre.integrity.settings import IntegritySettings
from contract import iso_utc

UUID_V7 = 7


@dataclass
class Places:
    """Where each device stood when, and each unit's zone: to date a record in its unit's local days."""

    lines: dict[str, Timeline]
    zones: dict[str, ZoneInfo]

    def local(self, device_id: str, at: str) -> tuple[str, str, date] | None:
        """(unit, counter, local day) of a device's record at `at`; None for a device the centre never placed."""
        line = self.lines.get(device_id)
        if not line:
            return None
        unit_id, counter_id = placed_at(line, at)
        zone = self.zones.get(unit_id, ZoneInfo("Asia/Shanghai"))
        return unit_id, counter_id, datetime.fromisoformat(at).astimezone(zone).date()


def places(lines: dict[str, Timeline], rows: list[UnitRow]) -> Places:
    zones = {}
    for row in rows:
        try:
            zones[row.unit_id] = ZoneInfo(row.zone)
        except (ValueError, KeyError):
            zones[row.unit_id] = ZoneInfo("Asia/Shanghai")
    return Places(lines, zones)


def chain_problem(conn: Connection, span: Span, settings: IntegritySettings, where: Places) -> list[Finding]:
    """A device whose chain shows gaps (missing seqs), breaks (a hash that does not recompute or link), copies
    of a rating with other content, a cut tail (its heartbeat reports a lower last seq than the centre holds),
    or whose own check failed. Each problem is dated by the ratings around it (a gap by the rating after it, a
    conflict by its arrival, a cut tail or a failed check by the last heartbeat) and counts when that day is
    in the span. Test: a count, at least one."""
    held = chains.stored(conn)
    beats = {row.id: (row.last_heartbeat, row.last_seen) for row in
             conn.execute(select(devices.c.id, devices.c.last_heartbeat, devices.c.last_seen))}
    arrived = defaultdict(list)
    for row in conn.execute(select(conflicts.c.device_id, conflicts.c.received_at, conflicts.c.rating_uuid)):
        arrived[row.device_id].append((row.received_at, row.rating_uuid))
    found = []
    for device_id in sorted(set(held) | set(arrived)):
        chain = held.get(device_id) or chains.Chain(device_id)
        beat, seen = beats.get(device_id, (None, None))
        problems = _problems(conn, device_id, chain, beat, seen, arrived.get(device_id, []))
        dated = [(where.local(device_id, at), what, uuid) for at, what, uuid in problems]
        inside = [(placed, what, uuid) for placed, what, uuid in dated
                  if placed is not None and span.day_from <= placed[2] <= span.day_to]
        if not inside:
            continue
        unit_id, counter_id, _ = inside[-1][0]
        days = sorted(placed[2] for placed, _, _ in inside)
        kinds: dict[str, int] = defaultdict(int)
        for _, what, _ in inside:
            kinds[what] += 1
        found.append(Finding(
            kind=SignalKind.CHAIN_PROBLEM, unit_id=unit_id, counter_id=counter_id, device_id=device_id,
            day_from=days[0].isoformat(), day_to=days[-1].isoformat(), figure=float(len(inside)), threshold=1.0,
            detail={"test": "count of chain problems dated in the span", "problems": dict(kinds),
                    "gaps": chain.gaps[:20], "breaks": chain.chain_breaks[:20], "conflicts": chain.conflicts},
            evidence=Evidence.of(sorted({uuid for _, _, uuid in inside if uuid}))))
    return found


def _problems(conn: Connection, device_id: str, chain: chains.Chain, beat: Any, seen: str | None,
              arrived: list[tuple[str, str]]) -> list[tuple[str, str, str]]:
    """(when, what, a rating uuid or "") of each of the device's chain problems."""
    found: list[tuple[str, str, str]] = []
    wanted = {first - 1 for first, _ in chain.gaps} | {last + 1 for _, last in chain.gaps} | set(chain.chain_breaks)
    around = {}
    if wanted:
        query = select(ratings.c.seq, ratings.c.counted_at, ratings.c.uuid).where(
            ratings.c.delivered_by == device_id, ratings.c.seq.in_(sorted(wanted)))
        around = {row.seq: (row.counted_at, row.uuid) for row in conn.execute(query)}
    for first, last in chain.gaps:
        near = around.get(last + 1) or around.get(first - 1)
        if near:
            found.append((near[0], "gap", near[1]))
    for seq in chain.chain_breaks:
        if seq in around:
            found.append((around[seq][0], "break", around[seq][1]))
    found.extend((at, "conflict", uuid) for at, uuid in arrived)
    heartbeat = beat if isinstance(beat, dict) else {}
    beat_seq = heartbeat.get("last_seq")
    if seen and chain.last_seq is not None and isinstance(beat_seq, int) and beat_seq < chain.last_seq:
        found.append((seen, "cut_tail", ""))
    if seen and heartbeat.get("verify_ok") is False:
        found.append((seen, "own_check_failed", ""))
    return found


def receipt_missing(conn: Connection, span: Span, settings: IntegritySettings, where: Places,
                    now: datetime | None = None) -> list[Finding]:
    """Receipts citizens looked up for ratings the centre still does not hold, at least `receipt_grace_hours`
    after the first lookup, from a device that has since delivered ratings recorded after the missing one: not
    a rating waiting in the outbox, one that will never come. Dated by the missing rating's time (its uuid is a
    version 7 uuid of the press), else by the first lookup. Test: a count, at least one per device."""
    now = now or datetime.now(UTC)
    cutoff = iso_utc(now - timedelta(hours=settings.receipt_grace_hours))
    rows = conn.execute(select(receipt_misses.c.rating_uuid, receipt_misses.c.device_id, receipt_misses.c.first_at,
                               receipt_misses.c.lookups).where(receipt_misses.c.found_at.is_(None),
                                                               receipt_misses.c.first_at <= cutoff)).all()
    latest = dict(conn.execute(select(ratings.c.delivered_by, func.max(ratings.c.recorded_at)).where(
        ratings.c.delivered_by.in_(sorted({row.device_id for row in rows}))).group_by(ratings.c.delivered_by)).all()) \
        if rows else {}
    by_device: dict[str, list[tuple[tuple[str, str, date], str, int]]] = defaultdict(list)
    for row in rows:
        pressed = _pressed_at(row.rating_uuid) or row.first_at
        placed = where.local(row.device_id, pressed)
        later = latest.get(row.device_id)
        if placed is None or later is None or later <= pressed:
            continue
        if span.day_from <= placed[2] <= span.day_to:
            by_device[row.device_id].append((placed, row.rating_uuid, row.lookups))
    found = []
    for device_id, missing in sorted(by_device.items()):
        unit_id, counter_id, _ = missing[-1][0]
        days = sorted(placed[2] for placed, _, _ in missing)
        found.append(Finding(
            kind=SignalKind.RECEIPT_MISSING, unit_id=unit_id, counter_id=counter_id, device_id=device_id,
            day_from=days[0].isoformat(), day_to=days[-1].isoformat(), figure=float(len(missing)), threshold=1.0,
            detail={"test": "count of receipts looked up for ratings never delivered, the device since later",
                    "grace_hours": settings.receipt_grace_hours,
                    "missing": [uuid for _, uuid, _ in missing][:50],
                    "lookups": sum(lookups for _, _, lookups in missing)},
            evidence=Evidence()))
    return found


def _pressed_at(rating_uuid: str) -> str | None:
    """The press's time a version 7 uuid carries (milliseconds since the epoch, by the device's clock)."""
    try:
        value = uuids.UUID(rating_uuid)
    except ValueError:
        return None
    if value.version != UUID_V7:
        return None
    return iso_utc(datetime.fromtimestamp((value.int >> 80) / 1000, UTC))
