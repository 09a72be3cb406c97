"""`evaluator provision`: enroll this terminal with the centre using a one-time code.

Writes two files into `sync.state_dir`, never into config.yaml: the device
key (device.json, 0600) and the centre's part of the config (centre.yaml:
device id, unit, counter, staff roster, server), which `kiosk.config.load`
overlays on config.yaml. Both are replaced atomically.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from kiosk import __version__
from kiosk.config import PROVISIONED_FILE, CounterSettings, Settings, UnitSettings
from sync.client import CentreClient, Credentials, write_private


@dataclass(frozen=True)
class Provisioned:
    device_id: str
    credentials_path: Path
    config_path: Path


def provision(settings: Settings, server: str, code: str) -> Provisioned:
    sync = settings.sync
    client = CentreClient(server, None, sync.connect_timeout_s, sync.read_timeout_s)
    try:
        answer = client.enroll(code, __version__)
    finally:
        client.close()
    credentials = Credentials(server=server.rstrip("/"), device_id=answer.device_id, secret=answer.secret)
    credentials_path = credentials.save(sync.state_dir)
    overlay = {
        "device": {"id": answer.device_id},
        # Only keys this terminal knows: a newer centre may send more.
        "unit": {k: v for k, v in answer.config.unit.items() if k in UnitSettings.model_fields},
        "counter": {k: v for k, v in answer.config.counter.items() if k in CounterSettings.model_fields},
        "staff": answer.config.staff,
        "sync": {"server": credentials.server},
    }
    text = "# Written by `evaluator provision`; the centre owns these keys.\n" + \
        yaml.safe_dump(overlay, allow_unicode=True, sort_keys=True)
    config_path = write_private(sync.state_dir / PROVISIONED_FILE, text.encode("utf-8"))
    return Provisioned(answer.device_id, credentials_path, config_path)
