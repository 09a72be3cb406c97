"""What the city office reads: a day's summary per unit and each device's chain integrity.

Shared by the HTTP layer and the CLI, so both give the same numbers.
"""
from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError
from sqlalchemy import Connection, Engine, Text, cast, func, select

from centre import chains
from centre.cycles import no_cycle_collection
from centre.db.loop_tables import rating_exclusions
from centre.db.rows import nul_field
from centre.db.tables import device_chains, device_placements, devices, events, ratings, reasons, units
from centre.errors import BadInput, NotFound
from centre.provenance import Placement, placement
from centre.registry.model import check_timezone
from contract import Summary, iso_utc

LEVELS = (1, 2, 3, 4, 5)
GOOD_LEVELS = (3, 4, 5)          # 非常满意, 满意, 基本满意; 不满意 and 非常不满意 are bad reviews
UNRATED, SUPPRESSED = "unrated", "suppressed"


# -- summary -------------------------------------------------------------------------


def unit_zone(conn: Connection, unit_id: str) -> ZoneInfo:
    """The unit's time zone, as the registry holds it (a registered unit with no device yet has one too)."""
    name = conn.execute(select(units.c.timezone).where(units.c.id == unit_id)).scalar()
    if name is None:
        raise NotFound(f"unknown unit {unit_id!r}")
    return check_timezone(name)


def today_in_unit(engine: Engine, unit_id: str) -> date:
    with engine.connect() as conn:
        return datetime.now(UTC).astimezone(unit_zone(conn, unit_id)).date()


def day_bounds(day: date, zone: ZoneInfo) -> tuple[str, str]:
    """[start, end) of a local calendar day as UTC text (a day may be 23 or 25 hours long)."""
    try:
        start = datetime.combine(day, time(0), tzinfo=zone)
        end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
        return iso_utc(start), iso_utc(end)
    except OverflowError:
        raise BadInput(f"date {day.isoformat()} is out of range") from None


def summary(engine: Engine, unit_id: str, day: date, counter_id: str | None = None,
            staff_id: str | None = None) -> Summary:
    """The keys of the terminal's `evaluator summary --json`, counted in the unit's time zone, and the
    ratings recorded before the unit's devices were enrolled, which count in no score.

    A rating counts where the centre placed the device that delivered it, never where the rating says.
    """
    unstorable = nul_field({"unit": unit_id, "counter": counter_id, "staff": staff_id})
    if unstorable:   # no stored id can hold it, and PostgreSQL refuses it even in a WHERE
        raise BadInput(f"{unstorable}: contains a NUL character")
    with engine.connect() as conn:
        since, until = day_bounds(day, unit_zone(conn, unit_id))
        where = [ratings.c.placed_unit_id == unit_id, ratings.c.counted_at >= since, ratings.c.counted_at < until]
        if counter_id is not None:
            where.append(ratings.c.placed_counter_id == counter_id)
        if staff_id is not None:
            where.append(ratings.c.staff_id == staff_id)
        by_level: dict[int, int] = {}
        before_enrollment = excluded = 0
        is_excluded = rating_exclusions.c.rating_uuid.is_not(None)
        for before, out, level, count in conn.execute(
                select(ratings.c.before_enrollment, is_excluded, ratings.c.level, func.count())
                .outerjoin(rating_exclusions, rating_exclusions.c.rating_uuid == ratings.c.uuid).where(*where)
                .group_by(ratings.c.before_enrollment, is_excluded, ratings.c.level)):
            if before:
                before_enrollment += count
            elif out:
                excluded += count
            else:
                by_level[level] = count
        # A reason counts only with a rating its own device delivered (ingest refuses others; this holds
        # for rows stored before it did).
        bad_reasons: dict[str, int] = dict(conn.execute(
            select(reasons.c.code, func.count())
            .join(ratings, (ratings.c.uuid == reasons.c.rating_uuid) & (ratings.c.delivered_by == reasons.c.device_id))
            .where(*where, ratings.c.before_enrollment.is_(False)).group_by(reasons.c.code)).all())
        kinds = _event_counts(conn, unit_id, since, until, counter_id, staff_id)
    total = sum(by_level.values())
    good = sum(n for level, n in by_level.items() if level in GOOD_LEVELS)
    return Summary(date=day.isoformat(), total=total,
                   by_level={str(level): by_level.get(level, 0) for level in LEVELS},
                   good_rate=good / total if total else None,
                   bad_reasons=dict(sorted(bad_reasons.items())),
                   unrated=kinds[UNRATED], suppressed=kinds[SUPPRESSED], before_enrollment=before_enrollment,
                   excluded=excluded)


def _event_counts(conn: Connection, unit_id: str, since: str, until: str, counter_id: str | None,
                  staff_id: str | None) -> dict[str, int]:
    """Events carry no unit: they count where the device that recorded them stood at the event's time
    (centre.provenance.placement, the rule the rollups and the ratings follow), so a device moved since
    leaves its past events where they happened."""
    ever_here = select(devices.c.id).where(devices.c.unit_id == unit_id).union(
        select(device_placements.c.device_id).where(device_placements.c.unit_id == unit_id))
    rows = conn.execute(select(events.c.device_id, events.c.kind, events.c.counted_at, events.c.detail)
                        .where(events.c.device_id.in_(ever_here), events.c.kind.in_((UNRATED, SUPPRESSED)),
                               events.c.counted_at >= since, events.c.counted_at < until))
    counts = {UNRATED: 0, SUPPRESSED: 0}
    placements: dict[str, Placement] = {}
    for device_id, kind, counted_at, detail in rows:
        if device_id not in placements:
            placements[device_id] = placement(conn, device_id)
        where = placements[device_id].at(datetime.fromisoformat(counted_at))
        if where.unit_id != unit_id or (counter_id is not None and where.counter_id != counter_id):
            continue
        # Only the JSON detail names the staff, and JSON queries differ per backend: filter here.
        if staff_id is None or (isinstance(detail, dict) and detail.get("staff_id") == staff_id):
            counts[kind] += 1
    return counts


# -- integrity -----------------------------------------------------------------------


class DeviceIntegrity(BaseModel):
    model_config = ConfigDict(extra="forbid")

    device_id: str
    unit_id: str
    counter_id: str
    revoked: bool
    ratings_held: int
    gaps: list[tuple[int, int]]          # inclusive [first, last] missing seq ranges in 1..max held
    chain_breaks: list[int]              # seqs whose hash does not recompute or whose link is wrong
    conflicts: int                       # ratings flagged because another copy arrived with other content
    before_enrollment: int               # ratings recorded before enrollment, under the terminal's default id
    placement_mismatches: int            # ratings naming another unit or counter than the device's placement
    last_seq: int | None                 # highest seq held (acknowledged to the device)
    last_hash: str | None
    heartbeat_last_seq: int | None
    missing_tail: bool                   # the device reports a lower last seq than the centre holds
    verify_ok: bool | None               # the device's own `evaluator verify`, from its heartbeat
    last_seen: str | None

    @property
    def ok(self) -> bool:
        return not (self.gaps or self.chain_breaks or self.missing_tail or self.conflicts
                    or self.verify_ok is False)


class IntegrityReport(BaseModel):
    """Every enrolled device's integrity; `ok` only when none shows a problem."""

    model_config = ConfigDict(extra="forbid")

    ok: bool
    devices: list[DeviceIntegrity]


def integrity(engine: Engine) -> IntegrityReport:
    """Each device's chain as the ingest checked it (centre/chains.py): stored rows, no rating is read. One query
    (the devices outer-joined to their chains, the JSON lists as text, parsed only where not empty, and of the
    heartbeat only the two fields read), one validation of the whole list (pydantic's core, not a model built at
    a time), the cycle collector paused meanwhile (centre/cycles.py): a city's 5,000 devices in 60-80 ms
    (bench/centre_reports.py), where a device at a time took 190-280."""
    with engine.connect() as conn, no_cycle_collection():
        rows = conn.execute(_INTEGRITY).all()
        found = _DEVICES.validate_python([
            _fields(device_id, unit_id, counter_id, revoked_at, last_seen, _json_value(seq), _json_value(verify),
                    chains.chain_from(device_id, chain))
            for device_id, unit_id, counter_id, revoked_at, seq, verify, last_seen, *chain in rows])
    return IntegrityReport.model_construct(ok=all(item.ok for item in found), devices=found)


# The heartbeat's two fields the report reads, each as its JSON text ("12", "true", '"false"', NULL), not the
# whole heartbeat parsed: a JSON path both engines know (PostgreSQL's ->, SQLite's json_extract and json_quote).
_INTEGRITY = (select(devices.c.id, devices.c.unit_id, devices.c.counter_id, devices.c.revoked_at,
                     cast(devices.c.last_heartbeat["last_seq"], Text),
                     cast(devices.c.last_heartbeat["verify_ok"], Text), devices.c.last_seen, *chains.READ_COLUMNS)
              .outerjoin(device_chains, device_chains.c.device_id == devices.c.id).order_by(devices.c.id))
_DEVICES: TypeAdapter[list[DeviceIntegrity]] = TypeAdapter(list[DeviceIntegrity])


def _json_value(text: str | None) -> Any:
    """A JSON value from its text: the common ones without the parser (a city's thousands of devices)."""
    if text is None or text == "null":
        return None
    if text.isdigit():
        return int(text)
    return _LITERALS[text] if text in _LITERALS else json.loads(text)


_LITERALS = {"true": True, "false": False}


def device_integrity(device: Any, chain: chains.Chain) -> DeviceIntegrity:
    """One device's integrity from its `devices` row (id, unit_id, counter_id, revoked_at, last_heartbeat as
    stored, last_seen) and its stored chain, for a caller that reads the devices itself (the console's fleet,
    scoped to a viewer's units)."""
    heartbeat = device["last_heartbeat"] if isinstance(device["last_heartbeat"], dict) else {}
    return DeviceIntegrity.model_validate(_fields(device["id"], device["unit_id"], device["counter_id"],
                                                  device["revoked_at"], device["last_seen"],
                                                  heartbeat.get("last_seq"), heartbeat.get("verify_ok"), chain))


def _fields(device_id: str, unit_id: str, counter_id: str, revoked_at: str | None, last_seen: str | None,
            sent_seq: Any, sent_verify: Any, chain: chains.Chain) -> dict[str, Any]:
    """A DeviceIntegrity's fields, from the device's row, the heartbeat's last_seq and verify_ok as sent, and the
    stored chain: a heartbeat's odd values (a terminal older than the contract) read as none."""
    beat_seq = _beat_seq(sent_seq)
    return {"device_id": device_id, "unit_id": unit_id, "counter_id": counter_id, "revoked": revoked_at is not None,
            "ratings_held": chain.ratings_held, "gaps": chain.gaps, "chain_breaks": chain.chain_breaks,
            "conflicts": chain.conflicts, "before_enrollment": chain.before_enrollment,
            "placement_mismatches": chain.placement_mismatches, "last_seq": chain.last_seq,
            "last_hash": chain.last_hash, "heartbeat_last_seq": beat_seq,
            "missing_tail": _missing_tail(chain, beat_seq), "verify_ok": _verify_ok(sent_verify),
            "last_seen": last_seen}


def _beat_seq(sent: Any) -> int | None:
    """The last seq a heartbeat says its device holds (None: none said, or not a whole number)."""
    return sent if isinstance(sent, int) and not isinstance(sent, bool) else None


def _missing_tail(chain: chains.Chain, beat_seq: int | None) -> bool:
    """The device says it holds fewer ratings than the centre does: its store lost its tail."""
    return chain.last_seq is not None and beat_seq is not None and beat_seq < chain.last_seq


def _verify_ok(sent: Any) -> bool | None:
    """The heartbeat's verify_ok as a bool, read leniently as pydantic reads one ("false", 0 …); None for a value
    that says neither (a heartbeat of a terminal older than the contract's check)."""
    if sent is None or isinstance(sent, bool):
        return sent
    try:
        return _VERIFY_OK.validate_python(sent)
    except ValidationError:
        return None


def integrity_ok(chain: chains.Chain, heartbeat: Any) -> bool:
    """DeviceIntegrity.ok of a device with this chain and this stored heartbeat, without building one: the
    console orders a city's thousands of devices by it and builds a DeviceIntegrity for the page it shows."""
    sent = heartbeat if isinstance(heartbeat, dict) else {}
    return not (chain.gaps or chain.chain_breaks or _missing_tail(chain, _beat_seq(sent.get("last_seq")))
                or chain.conflicts or _verify_ok(sent.get("verify_ok")) is False)


_VERIFY_OK: TypeAdapter[bool | None] = TypeAdapter(bool | None)
