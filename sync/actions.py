"""What technician mode asks of the centre: test the connection, upload now, enroll.

kiosk/ never imports sync/ (the uploader depends on the store, not the other
way round); the composition root hands an instance of this to
kiosk.screens.technician. Each call blocks on the network with the configured
timeouts, so the technician screen runs them off the UI thread.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from kiosk.config import Settings
from kiosk.store import RatingStore
from sync.client import CentreClient, Credentials, enrolled_client
from sync.provision import ConfigPath, Provisioned, provision
from sync.uploader import DrainResult, SyncAttempt


@dataclass(frozen=True)
class Reachable:
    server: str
    round_trip_ms: float


class CentreActions:
    def __init__(self, settings: Settings, store: RatingStore, config_path: ConfigPath | None) -> None:
        self._settings = settings
        self._store = store
        self._config_path = config_path

    def test_connection(self) -> Reachable:
        """One signed request (the config pull): network, clock window and the device key at once.

        Raises sync.client.SyncError (AuthError, TransientError…) naming what failed.
        """
        credentials, client = self._client()
        try:
            started = time.monotonic()
            client.config(None)
            return Reachable(credentials.server, (time.monotonic() - started) * 1000)
        finally:
            client.close()

    def sync_now(self, progress: Callable[[int, int], None]) -> DrainResult:
        """The worker's sync attempt (drain, config, heartbeat), its outcome recorded for the status views.

        Rows the centre rejected are in the result (`rejected`: uuid → reason) and stay on the device."""
        return SyncAttempt(self._settings, self._store, self._config_path).run(progress)

    def provision(self, server: str, code: str) -> Provisioned:
        return provision(self._settings, server, code, self._config_path)

    def _client(self) -> tuple[Credentials, CentreClient]:
        return enrolled_client(self._settings.sync)
