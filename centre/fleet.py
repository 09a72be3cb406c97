"""The fleet as the city office sees it: each enrolled device's state from its last heartbeat and its chain as
the ingest checked it (today's coverage, which builds on it, is centre/coverage.py's).

A device's state comes from `devices` alone (last_seen, the last heartbeat as contract.Heartbeat sent it,
revoked_at), judged against FleetSettings' thresholds at a given `now`, so the same rows always give the same
verdict; its chain is the ingest's stored check (centre/chains.py, no rating re-read), judged as the integrity
report judges it (centre/reports.py `device_integrity`), read with the device rows in one snapshot. The registry
gives the unit's and counter's names, zone and opening hours (the device's enrollment copies stand in for a
unit the registry no longer holds).
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy import Connection, Engine, and_, select

from centre import chains, reports
from centre.db.tables import counters, device_chains, devices, units
from centre.errors import BadInput
from centre.ingest import CLOCK_TOLERANCE
from centre.registry.model import DEFAULT_TIMEZONE, check_timezone
from centre.reports import DeviceIntegrity
from contract import Heartbeat

UNIT_CHUNK = 500        # unit ids per IN (…), as centre/rollup_reads.py: far below every backend's limit


@dataclass(frozen=True)
class FleetSettings:
    """When a device counts as offline or lagging, and when its clock is worth a look."""

    offline_after_minutes: float = 15.0       # no heartbeat for this long: offline (a terminal beats each minute)
    lagging_unsynced_minutes: float = 10.0    # its oldest unsynced rating is older than this: lagging …
    lagging_queue_ratings: int = 50           # … or its queue holds more ratings than this (half a counter's day)
    # Beyond this the ingest corrects the device's times (centre/ingest.py), so its clock wants setting.
    clock_warn_seconds: float = CLOCK_TOLERANCE.total_seconds()

    @property
    def offline_after(self) -> timedelta:
        return timedelta(minutes=self.offline_after_minutes)

    @property
    def lagging_unsynced(self) -> timedelta:
        return timedelta(minutes=self.lagging_unsynced_minutes)


DEFAULT_SETTINGS = FleetSettings()


class DeviceState(str, Enum):
    """Listed in this order: what needs a technician first."""

    OFFLINE = "offline"          # heartbeats stopped
    LAGGING = "lagging"          # beats, but its ratings wait on it too long or too many
    NEVER_SEEN = "never_seen"    # enrolled, no heartbeat yet
    ONLINE = "online"
    REVOKED = "revoked"          # refused by the centre: listed last, for the record

    @property
    def rank(self) -> int:
        return _RANKS[self]


_RANKS = {state: rank for rank, state in enumerate(DeviceState)}


class PanelState(str, Enum):
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    NONE = "none"                # the terminal reports no panel ever connected (a touchscreen alone)
    UNKNOWN = "unknown"          # no heartbeat to tell


class Concern(str, Enum):
    """What else on a device wants a look, whatever its state."""

    CHAIN = "chain"                  # gaps, breaks, conflicts, a cut tail, or the device's own check failed
    CLOCK = "clock"                  # its clock is off by more than FleetSettings.clock_warn_seconds
    PANEL = "panel"                  # its button panel is disconnected
    SYNC_ERROR = "sync_error"        # its last sync attempt reported an error
    UNREADABLE = "unreadable"        # its last heartbeat does not read as contract.Heartbeat


@dataclass(frozen=True)
class Place:
    """Where a device stands, by the registry's names (its enrollment copies for a unit no longer held)."""

    unit_id: str
    unit_name: str
    unit_name_en: str | None
    counter_id: str
    counter_name: str
    counter_name_en: str | None
    zone: ZoneInfo

    def unit_label(self, lang: str) -> str:
        return self.unit_name_en if lang == "en" and self.unit_name_en else self.unit_name

    def counter_label(self, lang: str) -> str:
        return self.counter_name_en if lang == "en" and self.counter_name_en else self.counter_name


@dataclass(frozen=True)
class DeviceStatus:
    device_id: str
    place: Place
    state: DeviceState
    enrolled_at: datetime
    revoked_at: datetime | None
    last_seen: datetime | None           # the centre's time of the last heartbeat
    silent_for: timedelta | None         # now − last_seen
    beat: Heartbeat | None
    oldest_unsynced: datetime | None     # on the centre's clock (the device's, corrected by its offset)
    unsynced_for: timedelta | None
    app_version: str | None              # the heartbeat's, else the one it enrolled with
    panel: PanelState
    chain: DeviceIntegrity
    concerns: tuple[Concern, ...]

    @property
    def sort_key(self) -> tuple[int, bool, str, str, str]:
        return self.state.rank, not self.concerns, self.place.unit_id, self.place.counter_id, self.device_id


def aware_time(text: str | None) -> datetime | None:
    """A stored or sent time; one without a zone is UTC (every end writes UTC)."""
    if not text:
        return None
    try:
        found = datetime.fromisoformat(text)
    except ValueError:
        return None
    return found if found.tzinfo is not None else found.replace(tzinfo=UTC)


def read_beat(raw: Any) -> Heartbeat | None:
    """The stored heartbeat as the contract reads it; None when there is none or it does not read."""
    if not isinstance(raw, dict):
        return None
    try:
        return Heartbeat.model_validate(raw)
    except ValidationError:
        return None


def oldest_unsynced(beat: Heartbeat) -> datetime | None:
    """The device's oldest unsynced rating on the centre's clock: clock_offset_s is centre minus device."""
    found = aware_time(beat.oldest_unsynced_at)
    if found is None:
        return None
    return found + timedelta(seconds=beat.clock_offset_s or 0.0)


def state_of(revoked: bool, last_seen: datetime | None, beat: Heartbeat | None, now: datetime,
             settings: FleetSettings = DEFAULT_SETTINGS) -> DeviceState:
    if revoked:
        return DeviceState.REVOKED
    if last_seen is None:
        return DeviceState.NEVER_SEEN
    if now - last_seen > settings.offline_after:
        return DeviceState.OFFLINE
    if beat is not None:
        oldest = oldest_unsynced(beat)
        if beat.queue_depth > settings.lagging_queue_ratings or (
                oldest is not None and now - oldest > settings.lagging_unsynced):
            return DeviceState.LAGGING
    return DeviceState.ONLINE


def panel_of(beat: Heartbeat | None) -> PanelState:
    if beat is None:
        return PanelState.UNKNOWN
    if not beat.panel:
        return PanelState.NONE
    return PanelState.CONNECTED if beat.panel.get("connected") else PanelState.DISCONNECTED


def concerns_of(beat: Heartbeat | None, raw_beat: Any, chain: DeviceIntegrity,
                settings: FleetSettings = DEFAULT_SETTINGS) -> tuple[Concern, ...]:
    found = []
    if not chain.ok:
        found.append(Concern.CHAIN)
    if beat is not None:
        if beat.clock_offset_s is not None and abs(beat.clock_offset_s) > settings.clock_warn_seconds:
            found.append(Concern.CLOCK)
        if panel_of(beat) is PanelState.DISCONNECTED:
            found.append(Concern.PANEL)
        if beat.last_error:
            found.append(Concern.SYNC_ERROR)
    elif raw_beat is not None:
        found.append(Concern.UNREADABLE)
    return tuple(found)


# -- reading the devices ----------------------------------------------------------------


_DEVICES = (select(devices.c.id, devices.c.unit_id, devices.c.counter_id, devices.c.unit_name,
                   devices.c.unit_name_en, devices.c.counter_name, devices.c.counter_name_en, devices.c.unit_timezone,
                   devices.c.app_version, devices.c.enrolled_at, devices.c.revoked_at, devices.c.last_heartbeat,
                   devices.c.last_seen, units.c.name.label("reg_unit_name"), units.c.name_en.label("reg_unit_name_en"),
                   units.c.timezone.label("reg_timezone"), units.c.opening_hours,
                   counters.c.name.label("reg_counter_name"), counters.c.name_en.label("reg_counter_name_en"))
            .select_from(devices.outerjoin(units, units.c.id == devices.c.unit_id)
                         .outerjoin(counters, and_(counters.c.unit_id == devices.c.unit_id,
                                                   counters.c.id == devices.c.counter_id))))


def device_rows(conn: Connection, unit_ids: Sequence[str] | None, device_id: str | None = None) -> list[Any]:
    query = _DEVICES.order_by(devices.c.id)
    if device_id is not None:
        query = query.where(devices.c.id == device_id)
    if unit_ids is None:
        return list(conn.execute(query).mappings())
    return [row for ids in unit_chunks(unit_ids)
            for row in conn.execute(query.where(devices.c.unit_id.in_(ids))).mappings()]


def unit_chunks(ids: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(ids), UNIT_CHUNK):
        yield ids[start:start + UNIT_CHUNK]


def place_of(row: Any) -> Place:
    registered = row["reg_unit_name"] is not None
    counted = row["reg_counter_name"] is not None
    return Place(unit_id=row["unit_id"], unit_name=row["reg_unit_name"] if registered else row["unit_name"],
                 unit_name_en=row["reg_unit_name_en"] if registered else row["unit_name_en"],
                 counter_id=row["counter_id"], counter_name=row["reg_counter_name"] if counted else row["counter_name"],
                 counter_name_en=row["reg_counter_name_en"] if counted else row["counter_name_en"],
                 zone=zone_of(row["reg_timezone"] or row["unit_timezone"]))


def zone_of(name: str | None) -> ZoneInfo:
    try:
        return check_timezone(name or DEFAULT_TIMEZONE)
    except BadInput:      # a zone this machine's tzdata lacks: the city's, rather than no page
        return check_timezone(DEFAULT_TIMEZONE)


def _status(row: Any, chain: DeviceIntegrity, now: datetime, settings: FleetSettings) -> DeviceStatus:
    beat = read_beat(row["last_heartbeat"])
    last_seen = aware_time(row["last_seen"])
    oldest = oldest_unsynced(beat) if beat is not None else None
    return DeviceStatus(
        device_id=row["id"], place=place_of(row),
        state=state_of(row["revoked_at"] is not None, last_seen, beat, now, settings),
        enrolled_at=aware_time(row["enrolled_at"]) or now, revoked_at=aware_time(row["revoked_at"]),
        last_seen=last_seen,
        silent_for=now - last_seen if last_seen is not None else None, beat=beat, oldest_unsynced=oldest,
        unsynced_for=now - oldest if oldest is not None else None,
        app_version=beat.app_version if beat is not None else row["app_version"], panel=panel_of(beat),
        chain=chain, concerns=concerns_of(beat, row["last_heartbeat"], chain, settings))


def _stored_chains(conn: Connection, device_ids: Sequence[str] | None) -> dict[str, chains.Chain]:
    """The chains the ingest keeps (centre/chains.py) of these devices (None: every device's)."""
    if device_ids is None:
        return chains.stored(conn)
    found = {}     # a viewer's few devices: their rows only, not the city's (chains.stored reads every one)
    for ids in unit_chunks(device_ids):
        for row in conn.execute(select(device_chains).where(device_chains.c.device_id.in_(ids))):
            found[row.device_id] = chains.Chain(
                row.device_id, row.ratings_held, row.last_seq, row.last_hash, [(a, b) for a, b in row.gaps],
                list(row.chain_breaks), row.conflicts, row.before_enrollment, row.placement_mismatches)
    return found


def _read(engine: Engine, unit_ids: Sequence[str] | None, device_id: str | None = None
          ) -> list[tuple[Any, DeviceIntegrity]]:
    """Each device's row and its integrity as centre/reports.py judges it, from one snapshot."""
    with engine.connect() as conn:
        rows = device_rows(conn, unit_ids, device_id)
        held = _stored_chains(conn, None if unit_ids is None and device_id is None else [row["id"] for row in rows])
    return [(row, reports.device_integrity(row, held.get(row["id"]) or chains.Chain(row["id"]))) for row in rows]


def fleet(engine: Engine, unit_ids: Sequence[str] | None, now: datetime,
          settings: FleetSettings = DEFAULT_SETTINGS) -> list[DeviceStatus]:
    """Every device of these units (None: the city's), offline and lagging first, those with a concern first
    within a state, then by unit, counter and id."""
    return sorted((_status(row, chain, now, settings) for row, chain in _read(engine, unit_ids)),
                  key=lambda status: status.sort_key)


def device(engine: Engine, device_id: str, now: datetime, settings: FleetSettings = DEFAULT_SETTINGS
           ) -> DeviceStatus | None:
    found = _read(engine, None, device_id)
    return _status(*found[0], now, settings) if found else None


def by_state(statuses: Iterable[DeviceStatus]) -> dict[DeviceState, int]:
    """How many devices are in each state, every state listed (0 too), in the listing's order."""
    counted = Counter(status.state for status in statuses)
    return {state: counted[state] for state in DeviceState}


@dataclass(frozen=True)
class DeviceChain:
    place: Place
    chain: DeviceIntegrity


def chain_report(engine: Engine, unit_ids: Sequence[str] | None) -> list[DeviceChain]:
    """centre/reports.py's integrity for the devices standing in these units now (None: every device), the
    ones with a problem first."""
    found = [DeviceChain(place_of(row), chain) for row, chain in _read(engine, unit_ids)]
    return sorted(found, key=lambda item: (item.chain.ok, item.place.unit_id, item.place.counter_id,
                                           item.chain.device_id))
