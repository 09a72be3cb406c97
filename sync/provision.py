"""The centre's part of this terminal's config: enrollment and later refreshes.

`evaluator provision` enrolls with a one-time code and writes two files into
`sync.state_dir`, never into config.yaml: the device key (device.json, 0600)
and the centre's part of the config (centre.yaml: device id, unit, counter,
staff roster, server), which `kiosk.config.load` overlays on config.yaml.
The sync worker refreshes centre.yaml from `GET /v1/config` with an ETag.
Every write replaces the file atomically, and only with a config that
validates together with config.yaml: a bad push from the centre never
leaves a terminal that cannot start.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kiosk import __version__
from kiosk.access import AccessFile
from kiosk.config import PROVISIONED_FILE, ConfigError, CounterSettings, Settings, UnitSettings, load
from kiosk.files import write_private
from sync.client import CentreClient, Credentials, SyncError
from sync.protocol import DeviceConfig

ETAG_FILE = "centre.etag"


class ConfigRejected(SyncError):
    """The centre's config does not validate with this terminal's config.yaml; the old one stays."""


@dataclass(frozen=True)
class Provisioned:
    device_id: str
    credentials_path: Path
    config_path: Path


def provision(settings: Settings, server: str, code: str, config_path: Path | None = None) -> Provisioned:
    """Enroll with `code`; `config_path` is the config.yaml the new centre.yaml must validate with."""
    sync = settings.sync
    client = CentreClient(server, None, sync.connect_timeout_s, sync.read_timeout_s)
    try:
        answer = client.enroll(code, __version__)
    finally:
        client.close()
    credentials = Credentials(server=server.rstrip("/"), device_id=answer.device_id, secret=answer.secret)
    overlay = centre_overlay(credentials, answer.config)
    _check(config_path, overlay)
    credentials_path = credentials.save(sync.state_dir)
    written = _write_overlay(sync.state_dir, overlay)
    AccessFile(sync.state_dir).set_centre_pins(centre_pins(answer.config))
    (sync.state_dir / ETAG_FILE).unlink(missing_ok=True)   # the next pull fetches the whole config
    return Provisioned(answer.device_id, credentials_path, written)


def refresh_config(client: CentreClient, credentials: Credentials, state_dir: Path,
                   config_path: Path | None) -> bool:
    """Pull the centre's config; True when a new one was applied (the terminal uses it from its next start)."""
    etag_path = state_dir / ETAG_FILE
    etag = etag_path.read_text(encoding="ascii").strip() if etag_path.is_file() else None
    config, new_etag = client.config(etag)
    if config is None:
        return False
    overlay = centre_overlay(credentials, config)
    current = state_dir / PROVISIONED_FILE
    changed = not current.is_file() or yaml.safe_load(current.read_text(encoding="utf-8")) != overlay
    if changed:
        _check(config_path, overlay)
        _write_overlay(state_dir, overlay)
    AccessFile(state_dir).set_centre_pins(centre_pins(config))   # PINs may change with the roster unchanged
    if new_etag:
        write_private(etag_path, new_etag.encode("ascii"))
    return changed


def centre_overlay(credentials: Credentials, config: DeviceConfig) -> dict[str, Any]:
    return {
        "device": {"id": credentials.device_id},
        # Only keys this terminal knows: a newer centre may send more.
        "unit": {k: v for k, v in config.unit.items() if k in UnitSettings.model_fields},
        "counter": {k: v for k, v in config.counter.items() if k in CounterSettings.model_fields},
        # PIN hashes go to access.yaml (kiosk.access), never into a config file.
        "staff": [{k: v for k, v in member.items() if k != "pin_hash"} for member in config.staff],
        "sync": {"server": credentials.server},
    }


def centre_pins(config: DeviceConfig) -> dict[str, str]:
    return {member["id"]: member["pin_hash"] for member in config.staff
            if isinstance(member.get("id"), str) and isinstance(member.get("pin_hash"), str)}


def _check(config_path: Path | None, overlay: dict[str, Any]) -> None:
    try:
        load(config_path, centre=overlay)
    except ConfigError as exc:
        raise ConfigRejected(f"the centre's config does not fit this terminal, kept the old one: {exc}") from None


def _write_overlay(state_dir: Path, overlay: dict[str, Any]) -> Path:
    text = "# Written by `evaluator provision` and the sync worker; the centre owns these keys.\n" + \
        yaml.safe_dump(overlay, allow_unicode=True, sort_keys=True)
    return write_private(state_dir / PROVISIONED_FILE, text.encode("utf-8"))
