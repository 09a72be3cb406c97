"""The fleet as the city office sees it: each enrolled device's state from its last heartbeat and its chain as
the ingest checked it (today's coverage, which builds on it, is centre/coverage.py's).

A device's state comes from `devices` alone (last_seen, the last heartbeat as contract.Heartbeat sent it,
revoked_at), judged against FleetSettings' thresholds at a given `now`, so the same rows always give the same
verdict; its chain is the ingest's stored check (centre/chains.py, no rating re-read), judged as the integrity
report judges it (centre/reports.py `device_integrity`), read with the device rows in one snapshot. The registry
gives the unit's and counter's names and zone (the device's enrollment copies stand in for a unit the registry
no longer holds).

A listing (`fleet`, `chain_report`) judges every device of its reach to count and order them, and builds the
DeviceStatus (or DeviceChain) of a device, with its place's names, only when asked for it: a page of two
hundred of a city's thousands (centre/devicerows.py reads them so).
"""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from functools import cached_property, lru_cache
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Engine

from centre import chains, reports
from centre.devicerows import STATES, Built, Place, StateRow, device_rows, places
from centre.ingest import CLOCK_TOLERANCE
from centre.reports import DeviceIntegrity
from contract import Heartbeat

BEATS_KEPT = 10_000        # heartbeats kept read (a city of 5,000 devices: about 10 MB)


@dataclass(frozen=True)
class FleetSettings:
    """When a device counts as offline or lagging, and when its clock is worth a look."""

    offline_after_minutes: float = 15.0       # no heartbeat for this long: offline (a terminal beats each minute)
    lagging_unsynced_minutes: float = 10.0    # its oldest unsynced rating is older than this: lagging …
    lagging_queue_ratings: int = 50           # … or its queue holds more ratings than this (half a counter's day)
    # Beyond this the ingest corrects the device's times (centre/ingest.py), so its clock wants setting.
    clock_warn_seconds: float = CLOCK_TOLERANCE.total_seconds()

    @cached_property        # asked of each of a city's thousands of devices at each request
    def offline_after(self) -> timedelta:
        return timedelta(minutes=self.offline_after_minutes)

    @cached_property
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
    if not isinstance(raw, dict) or not (_BEAT_REQUIRED <= raw.keys() <= _BEAT_FIELDS):
        return None     # a field missing or one too many fails validation anyway: said without its cost
    try:
        return Heartbeat.model_validate(raw)
    except ValidationError:
        return None


_BEAT_FIELDS = frozenset(Heartbeat.model_fields)        # the contract forbids any other (extra="forbid")
_BEAT_REQUIRED = frozenset(name for name, field in Heartbeat.model_fields.items() if field.is_required())


@lru_cache(maxsize=BEATS_KEPT)
def _read_beat_text(text: str) -> tuple[Any, Heartbeat | None]:
    """A stored heartbeat's JSON text as sent and as read_beat reads it, kept by its text: a device beats once a
    minute, and meanwhile an office pages through the fleet, filters it, opens the integrity report, each a
    reading of every device. Shared between requests: never changed by a reader."""
    said = json.loads(text)
    return said, read_beat(said)


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


def concerns_of(beat: Heartbeat | None, raw_beat: Any, chain_ok: bool,
                settings: FleetSettings = DEFAULT_SETTINGS) -> tuple[Concern, ...]:
    found = []
    if not chain_ok:
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


# -- a city's devices (read by centre/devicerows.py) ---------------------------------------------


@dataclass(frozen=True, slots=True)
class _Seen:
    """A device as its STATES row says, judged."""

    row: Any
    sent: Any                        # the last heartbeat as sent (None: none yet)
    beat: Heartbeat | None
    chain: chains.Chain
    state: DeviceState
    concerns: tuple[Concern, ...]

    @property
    def integrity(self) -> DeviceIntegrity:
        row = self.row
        return reports.device_integrity({"id": row.id, "unit_id": row.unit_id, "counter_id": row.counter_id,
                                         "revoked_at": row.revoked_at, "last_heartbeat": self.sent,
                                         "last_seen": row.last_seen}, self.chain)


def _seen(row: Any, now: datetime, settings: FleetSettings) -> _Seen:
    said, beat = (None, None) if row.last_heartbeat is None else _read_beat_text(row.last_heartbeat)
    chain = chains.chain_of(row.id, row)
    state = state_of(row.revoked_at is not None, aware_time(row.last_seen), beat, now, settings)
    return _Seen(row, said, beat, chain, state, concerns_of(beat, said, reports.integrity_ok(chain, said), settings))


# A device of a listing as kept until it is shown: (its state's rank, no concern, unit, counter, id — the
# fleet's order — whether its chain is ok, its STATES row's values). Plain values in plain tuples, which the
# garbage collector stops tracking: a city's thousands of objects kept through a request pushed a collection of
# the process's whole heap into every other request. A device shown is judged again from the same values.
Kept = tuple[int, bool, str, str, str, bool, tuple[Any, ...]]


def _kept(values: tuple[Any, ...], now: datetime, settings: FleetSettings) -> Kept:
    row: Any = StateRow._make(values)    # by name at a tuple's speed (a Row's attribute costs ten times as much)
    seen = _seen(row, now, settings)
    return (seen.state.rank, not seen.concerns, row.unit_id, row.counter_id, row.id,
            Concern.CHAIN not in seen.concerns, values)


def _read(engine: Engine, unit_ids: Sequence[str] | None, now: datetime, settings: FleetSettings,
          device_ids: Sequence[str] | None = None) -> list[Kept]:
    with engine.connect() as conn:
        return [_kept(tuple(row), now, settings) for row in device_rows(conn, unit_ids, device_ids, STATES)]


def _status(kept: Kept, place: Place, now: datetime, settings: FleetSettings) -> DeviceStatus:
    seen = _seen(StateRow._make(kept[-1]), now, settings)
    row, beat = seen.row, seen.beat
    last_seen = aware_time(row.last_seen)
    oldest = oldest_unsynced(beat) if beat is not None else None
    return DeviceStatus(
        device_id=row.id, place=place, state=seen.state,
        enrolled_at=aware_time(row.enrolled_at) or now, revoked_at=aware_time(row.revoked_at), last_seen=last_seen,
        silent_for=now - last_seen if last_seen is not None else None, beat=beat, oldest_unsynced=oldest,
        unsynced_for=now - oldest if oldest is not None else None,
        app_version=beat.app_version if beat is not None else row.app_version, panel=panel_of(beat),
        chain=seen.integrity, concerns=seen.concerns)


def _places(engine: Engine, kept: list[Kept]) -> list[Place]:
    with engine.connect() as conn:
        return places(conn, [StateRow._make(one[-1]) for one in kept])


class Statuses(Built[Kept, DeviceStatus]):
    """Devices in the fleet's order, each one's DeviceStatus built when it is asked for."""

    def __init__(self, engine: Engine, kept: list[Kept], now: datetime, settings: FleetSettings) -> None:
        super().__init__(kept, self._statuses)
        self._engine, self._kept, self._now, self._settings = engine, kept, now, settings

    def _statuses(self, kept: list[Kept]) -> list[DeviceStatus]:
        return [_status(one, place, self._now, self._settings)
                for one, place in zip(kept, _places(self._engine, kept), strict=True)]

    def by_state(self) -> dict[DeviceState, int]:
        """How many devices are in each state, every state listed (0 too), in the listing's order."""
        counted = Counter(one[0] for one in self._kept)
        return {state: counted[state.rank] for state in DeviceState}

    def in_state(self, state: DeviceState | None) -> Statuses:
        """Those in `state` (None: all), in the same order."""
        if state is None:
            return self
        return Statuses(self._engine, [one for one in self._kept if one[0] == state.rank], self._now, self._settings)


def fleet(engine: Engine, unit_ids: Sequence[str] | None, now: datetime,
          settings: FleetSettings = DEFAULT_SETTINGS) -> Statuses:
    """Every device of these units (None: the city's), offline and lagging first, those with a concern first
    within a state, then by unit, counter and id."""
    return Statuses(engine, sorted(_read(engine, unit_ids, now, settings)), now, settings)   # ids are unique


def device(engine: Engine, device_id: str, now: datetime, settings: FleetSettings = DEFAULT_SETTINGS
           ) -> DeviceStatus | None:
    found = Statuses(engine, _read(engine, None, now, settings, [device_id]), now, settings)
    return found[0] if found else None


@dataclass(frozen=True)
class DeviceChain:
    place: Place
    chain: DeviceIntegrity


class ChainReport(Built[Kept, DeviceChain]):
    """The integrity report's rows in order, each DeviceChain built when asked for."""

    def __init__(self, engine: Engine, kept: list[Kept], now: datetime) -> None:
        super().__init__(kept, self._chains)
        self._engine, self._now = engine, now
        self.problems = sum(1 for one in kept if not one[5])      # devices whose chain shows a problem

    def _chains(self, kept: list[Kept]) -> list[DeviceChain]:
        return [DeviceChain(place, _seen(StateRow._make(one[-1]), self._now, DEFAULT_SETTINGS).integrity)
                for one, place in zip(kept, _places(self._engine, kept), strict=True)]


def chain_report(engine: Engine, unit_ids: Sequence[str] | None) -> ChainReport:
    """centre/reports.py's integrity for the devices standing in these units now (None: every device), the
    ones with a problem first."""
    now = datetime.now(UTC)
    found = _read(engine, unit_ids, now, DEFAULT_SETTINGS)
    found.sort(key=lambda one: (one[5], one[2], one[3], one[4]))
    return ChainReport(engine, found, now)
