"""One view of a terminal's health: device, store, sync, panel and clock.

`evaluator status` prints it for technicians and for the upgrade health
check; the sync worker's heartbeat reuses the panel part. Everything here
reads: the store through its own sessions, the sync state from the small files
in `sync.state_dir` (kiosk.store.sync_state), read anew each time: every sync
attempt records its outcome there, whichever process made it, and the server
shown is the one the device key names now.
"""
from __future__ import annotations

import shutil
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kiosk import BUILD_DATE, __version__
from kiosk.config import Settings
from kiosk.store import RatingStore
from kiosk.store.outbox import Outbox
from kiosk.store.sync_state import (
    CREDENTIALS_FILE,
    SYNC_STATUS_FILE,
    enrolled_server,
    read_sync_status,
    rejected_text,
)
from kiosk.store.tables import EventKind

# Readers of the sync state that came before kiosk.store.sync_state (the scores screen) import them here.
__all__ = ["SYNC_STATUS_FILE", "Status", "gather", "panel_status", "read_sync_status"]


@dataclass
class Status:
    device: dict[str, Any]
    store: dict[str, Any]
    sync: dict[str, Any]
    panel: dict[str, Any]
    clock: dict[str, Any]
    problems: list[str] = field(default_factory=list)   # the terminal cannot do its job: unhealthy
    # Configured hardware that is not plugged in: unhealthy too, but no fault of the software, so an upgrade's
    # health check (evaluator.health) does not roll a release back for it.
    unplugged: list[str] = field(default_factory=list)
    # Worth a technician's look, but ratings are taken and kept: a release is not rolled back for these.
    warnings: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return not self.problems and not self.unplugged

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "healthy": self.healthy}

    def all_problems(self) -> list[str]:
        return [*self.problems, *self.unplugged]


def panel_status(store: RatingStore) -> dict[str, Any]:
    """The panel as the terminal last recorded it; {} when none was ever connected."""
    seen = [event for kind in (EventKind.PANEL_CONNECTED, EventKind.PANEL_DISCONNECTED)
            if (event := store.last_event(kind)) is not None and event["detail"].get("role") == "panel"]
    if not seen:
        return {}
    latest = max(seen, key=lambda event: event["id"])
    status: dict[str, Any] = {"connected": latest["kind"] == EventKind.PANEL_CONNECTED.value,
                              "since": latest["recorded_at"], "port": latest["detail"].get("port")}
    hello = store.last_event(EventKind.PANEL_HELLO)
    if hello is not None:
        status.update(model=hello["detail"].get("model"), firmware=hello["detail"].get("firmware"))
    return status


def gather(settings: Settings, store: RatingStore | None, now: datetime | None = None,
           quick_check: bool = True) -> Status:
    """`store` None: it could not be opened (the caller names why in `problems`). `quick_check`: read the
    whole file for SQLite's quick_check (seconds on a large store on an SD card: not on the UI thread)."""
    now = now or datetime.now(UTC)
    sync_state = read_sync_status(settings.sync.state_dir)
    status = Status(
        device={"id": settings.device.id, "unit": settings.unit.id, "unit_name": settings.unit.name,
                "counter": settings.counter.id, "counter_name": settings.counter.name, "version": __version__,
                "mode": settings.mode.value},
        store=_store_part(settings, store, quick_check),
        sync=_sync_part(settings, store, sync_state),
        panel={"configured": settings.panel.port} | (panel_status(store) if store is not None else {}),
        clock={"utc": now.isoformat(timespec="seconds"), "suspect": now < BUILD_DATE,
               "offset_s": sync_state.get("clock_offset_s")})
    if status.sync.get("rejected"):
        status.warnings.append(f"{status.sync['rejected']} rating(s) rejected by the centre, kept on the device: "
                               + rejected_text(status.sync["rejected_reasons"]))
    if status.clock["suspect"]:
        # A terminal without a real-time clock and without network keeps the time it last saw; its ratings
        # are flagged clock_suspect and corrected by the centre (docs/sync-protocol.md), so it still works.
        status.warnings.append(f"clock reads {status.clock['utc']}, before this release was built: "
                               "ratings are flagged clock_suspect until it is set (NTP, or the centre)")
    if status.store.get("free_bytes", 1) < 50 * 1024 * 1024:
        status.problems.append("less than 50 MB free for the rating store")
    missing_port = _missing_device(settings.panel.port)
    if missing_port is not None:
        status.unplugged.append(f"panel port {missing_port} does not exist (panel unplugged, or a wrong panel.port)")
    return status


def _sync_part(settings: Settings, store: RatingStore | None, sync_state: dict[str, Any]) -> dict[str, Any]:
    """The centre the device key names (none before enrollment: then the configured one), the last attempt,
    success and error of whichever path synced, and the queue with the ratings the centre rejected."""
    state_dir = settings.sync.state_dir
    part: dict[str, Any] = {
        "server": enrolled_server(state_dir) or settings.sync.server,
        "provisioned": (state_dir / CREDENTIALS_FILE).is_file(),
        **{key: sync_state.get(key) for key in ("last_attempt_at", "last_success_at", "last_error")}}
    if store is not None:
        outbox = Outbox(store)
        depth, rejected = outbox.depth(), outbox.rejected()
        part.update(queue_depth=depth.ratings, oldest_unsynced_at=depth.oldest_rating_at,
                    rejected=sum(rejected.values()), rejected_reasons=rejected)
    return part


def _missing_device(port: str | None) -> str | None:
    """`port` when it names a device file that is not there; None for none configured, one that exists, and a
    pyserial URL (loop://, socket://host:port, rfc2217://…), which is no file to look for."""
    if not port or "://" in port:
        return None
    return None if Path(port).exists() else port


def _nearest_existing(folder: Path) -> Path:
    """`folder`, or while it is not made yet (no store so far) the nearest parent that is: the same disk."""
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


def _store_part(settings: Settings, store: RatingStore | None, quick_check: bool) -> dict[str, Any]:
    path = settings.store.path
    part: dict[str, Any] = {"path": str(path)}
    try:
        part["size_bytes"] = sum(p.stat().st_size for p in path.parent.glob(path.name + "*") if p.is_file())
        part["free_bytes"] = shutil.disk_usage(_nearest_existing(path.parent)).free
    except OSError:
        pass
    if store is None:
        return part
    last = store.recent_ratings(1)
    part.update(ratings=store.count_ratings(), last_seq=last[0]["seq"] if last else 0,
                last_rating_at=last[0]["recorded_at"] if last else None)
    if quick_check:
        part["integrity"] = store.pragma("quick_check")
    return part
