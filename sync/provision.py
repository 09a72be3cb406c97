"""The centre's part of this terminal's config: enrollment and later refreshes.

`evaluator provision` enrolls with a one-time code and writes two files into
`sync.state_dir`, never into config.yaml: the device key (device.json, 0600)
and the centre's part of the config (centre.yaml: device id, unit, counter,
staff roster, server), which `kiosk.config.load` overlays on config.yaml.
The sync worker refreshes centre.yaml from `GET /v1/config` with an ETag.
Every write replaces the file atomically, and only with a config that
validates together with config.yaml: a bad push from the centre never
leaves a terminal that cannot start. Staff photos sent with the roster are
written to `sync.state_dir/photos/` first, named by their content, so
centre.yaml never names a file that is not there; the previous config's
photos stay until the next change (the running terminal still shows them).
"""
from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from contract import DeviceConfig, decode_photo
from kiosk import __version__
from kiosk.config import PROVISIONED_FILE, ConfigError, CounterSettings, Settings, StaffMember, UnitSettings, load
from kiosk.files import write_private
from kiosk.rating.access import AccessFile
from sync.client import CentreClient, Credentials, SyncError, enrollment_client

log = logging.getLogger(__name__)

ConfigPath = str | os.PathLike[str]
"""Where config.yaml is, as `kiosk.config.load` takes it."""

ETAG_FILE = "centre.etag"
PHOTO_DIR = "photos"     # in sync.state_dir, next to centre.yaml, whose staff[].photo paths are relative to it


class ConfigRejected(SyncError):
    """The centre's config does not validate with this terminal's config.yaml; the old one stays."""


@dataclass(frozen=True)
class Provisioned:
    device_id: str
    credentials_path: Path
    config_path: Path


def provision(settings: Settings, server: str, code: str, config_path: ConfigPath | None = None) -> Provisioned:
    """Enroll with `code`; `config_path` is the config.yaml the new centre.yaml must validate with."""
    sync = settings.sync
    client = enrollment_client(sync, server)
    try:
        answer = client.enroll(code, __version__)
    finally:
        client.close()
    credentials = Credentials(server=server.rstrip("/"), device_id=answer.device_id, secret=answer.secret)
    part = centre_part(credentials, answer.config)
    _check(config_path, part.overlay)
    credentials_path = credentials.save(sync.state_dir)
    written = _apply(sync.state_dir, part)
    AccessFile(sync.state_dir).set_centre_pins(centre_pins(answer.config))
    (sync.state_dir / ETAG_FILE).unlink(missing_ok=True)   # the next pull fetches the whole config
    return Provisioned(answer.device_id, credentials_path, written)


def refresh_config(client: CentreClient, credentials: Credentials, state_dir: Path,
                   config_path: ConfigPath | None) -> bool:
    """Pull the centre's config; True when a new one was applied (the terminal uses it from its next start)."""
    etag_path = state_dir / ETAG_FILE
    current = _current_overlay(state_dir)
    # A photo file lost here (a full disk, a technician's cleanup) is fetched again, though the config is unchanged.
    lost = any(not (state_dir / PHOTO_DIR / name).is_file() for name in _photo_names(current))
    etag = etag_path.read_text(encoding="ascii").strip() if etag_path.is_file() and not lost else None
    config, new_etag = client.config(etag)
    if config is None:
        return False
    part = centre_part(credentials, config)
    changed = lost or current != part.overlay
    if changed:
        _check(config_path, part.overlay)
        _apply(state_dir, part)
    AccessFile(state_dir).set_centre_pins(centre_pins(config))   # PINs may change with the roster unchanged
    if new_etag:
        write_private(etag_path, new_etag.encode("ascii"))
    return changed


@dataclass(frozen=True)
class CentrePart:
    """What a config from the centre becomes on this terminal: centre.yaml's content and the photos it names."""

    overlay: dict[str, Any]
    photos: dict[str, bytes]        # file name in PHOTO_DIR → the image


def centre_part(credentials: Credentials, config: DeviceConfig) -> CentrePart:
    photos: dict[str, bytes] = {}
    staff = []
    for member in config.staff:
        # Only keys this terminal knows: a newer centre may send more. PIN hashes go to access.yaml
        # (kiosk.rating.access), never into a config file; a photo goes to its own file.
        entry = {k: v for k, v in member.items() if k in StaffMember.model_fields and k != "photo"}
        name = _roster_photo(member, photos)
        if name is not None:
            entry["photo"] = f"{PHOTO_DIR}/{name}"
        staff.append(entry)
    overlay = {
        "device": {"id": credentials.device_id},
        "unit": {k: v for k, v in config.unit.items() if k in UnitSettings.model_fields},
        "counter": {k: v for k, v in config.counter.items() if k in CounterSettings.model_fields},
        "staff": staff,
        "sync": {"server": credentials.server},
    }
    return CentrePart(overlay, photos)


def _roster_photo(member: dict[str, Any], photos: dict[str, bytes]) -> str | None:
    """The file name the member's photo gets (added to `photos`); None for none or a bad one: the silhouette."""
    text = member.get("photo")
    if text is None:
        return None
    try:
        if not isinstance(text, str):
            raise ValueError("is not a base64 string")
        data, kind = decode_photo(text)
    except ValueError as exc:
        # The roster still applies: one bad photo must not keep the other changes from the counter.
        log.warning("staff %r: the photo from the centre %s; the card shows the silhouette", member.get("id"), exc)
        return None
    name = f"{hashlib.sha256(data).hexdigest()[:32]}.{kind}"    # by content: a changed photo is a new file
    photos[name] = data
    return name


def centre_pins(config: DeviceConfig) -> dict[str, str]:
    return {member["id"]: member["pin_hash"] for member in config.staff
            if isinstance(member.get("id"), str) and isinstance(member.get("pin_hash"), str)}


def _check(config_path: ConfigPath | None, overlay: dict[str, Any]) -> None:
    try:
        load(config_path, centre=overlay)
    except ConfigError as exc:
        raise ConfigRejected(f"the centre's config does not fit this terminal, kept the old one: {exc}") from None


def _apply(state_dir: Path, part: CentrePart) -> Path:
    """Photos first, then centre.yaml that names them; then drop photos neither it nor the one before names."""
    folder = state_dir / PHOTO_DIR
    for name, data in part.photos.items():
        write_private(folder / name, data)
    keep = set(part.photos) | _photo_names(_current_overlay(state_dir))
    text = "# Written by `evaluator provision` and the sync worker; the centre owns these keys.\n" + \
        yaml.safe_dump(part.overlay, allow_unicode=True, sort_keys=True)
    written = write_private(state_dir / PROVISIONED_FILE, text.encode("utf-8"))
    if folder.is_dir():
        for path in folder.iterdir():
            if path.name not in keep:
                path.unlink(missing_ok=True)
    return written


def _current_overlay(state_dir: Path) -> Any:
    current = state_dir / PROVISIONED_FILE
    return yaml.safe_load(current.read_text(encoding="utf-8")) if current.is_file() else None


def _photo_names(overlay: Any) -> set[str]:
    staff = overlay.get("staff") if isinstance(overlay, dict) else None
    return {Path(member["photo"]).name for member in staff or []
            if isinstance(member, dict) and isinstance(member.get("photo"), str)}
