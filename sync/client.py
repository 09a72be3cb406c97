"""CentreClient: the device's HTTP calls to the centre, with typed errors.

The exception type decides what the upload loop does (ODK Collect's rule):
`AuthError` stops and reports, `TransientError` backs off and retries the
same batch, `ProtocolError` is a bug on one side and is retried only slowly.
Every call has (connect, read) timeouts: a dead network never hangs a worker.
"""
from __future__ import annotations

import gzip
import json
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import requests

from contract import (
    Ack,
    Batch,
    CallbackAck,
    DeviceConfig,
    EnrollRequest,
    EnrollResponse,
    Heartbeat,
    canonical_json,
    sign,
)
from kiosk.config import SyncSettings
from kiosk.files import write_private
from kiosk.store.sync_state import CREDENTIALS_FILE

TRANSIENT_STATUSES = {408, 425, 429, 500, 502, 503, 504}
GZIP_LEVEL = 1      # ratings compress about as well as at level 6, at a fraction of its time on the device


class SyncError(Exception):
    """Anything that stopped a call; the subclasses say what to do about it."""


class AuthError(SyncError):
    """401/403: the centre does not accept this device (revoked, wrong key, clock far off)."""


class TransientError(SyncError):
    """Worth retrying the same request later; `retry_after_s` when the centre said when."""

    def __init__(self, message: str, retry_after_s: float | None = None):
        super().__init__(message)
        self.retry_after_s = retry_after_s


class ProtocolError(SyncError):
    """The centre refused the request as malformed: a bug on one side, not a network fault."""


class GzipBody:
    """A body gzipped as it is built: the bulk ahead of time (the uploader does it on its helper thread while
    the previous batch is in flight), the last bytes just before sending."""

    def __init__(self, head: bytes):
        self._deflate = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 16 + zlib.MAX_WBITS)   # 16+: gzip framing
        self._head = self._deflate.compress(head)

    def finish(self, tail: bytes) -> bytes:
        """The whole gzip stream, `tail` appended; call once."""
        return self._head + self._deflate.compress(tail) + self._deflate.flush()


@dataclass(frozen=True)
class Credentials:
    server: str
    device_id: str
    secret: str

    @classmethod
    def load(cls, state_dir: Path) -> Credentials:
        path = state_dir / CREDENTIALS_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(server=data["server"], device_id=data["device_id"], secret=data["secret"])
        except FileNotFoundError:
            raise AuthError(f"not provisioned: no {path} (run `evaluator provision`)") from None
        except (OSError, ValueError, KeyError) as exc:
            raise AuthError(f"unreadable credentials {path}: {exc}") from None

    def save(self, state_dir: Path) -> Path:
        """Write atomically with mode 0600: the secret never sits in a readable or half-written file."""
        return write_private(state_dir / CREDENTIALS_FILE, canonical_json(vars(self)))


def _session_for(server: str) -> requests.Session:
    """A session with the environment's proxy and CA settings read once, when the client is made.

    By default requests reads the proxy variables from os.environ at every request, about a
    millisecond each (a few per cent of a backlog drain); a sync process's environment does not
    change while it runs, so the same settings are resolved here once, for this server.
    """
    session = requests.Session()
    settings = session.merge_environment_settings(server, {}, None, None, None)
    session.proxies.update(settings["proxies"])
    session.verify = settings["verify"]
    session.trust_env = False
    return session


class CentreClient:
    def __init__(self, server: str, credentials: Credentials | None = None,
                 connect_timeout_s: float = 5.0, read_timeout_s: float = 30.0,
                 session: requests.Session | None = None):
        self.server = server.rstrip("/")
        self.credentials = credentials
        self._timeouts = (connect_timeout_s, read_timeout_s)
        self._session = session or _session_for(self.server)

    def close(self) -> None:
        self._session.close()

    # -- calls -------------------------------------------------------------------------

    def enroll(self, code: str, app_version: str) -> EnrollResponse:
        body = canonical_json(EnrollRequest(code=code, app_version=app_version).model_dump())
        response = self._send("POST", "/v1/enroll", body, signed=False)
        return EnrollResponse.model_validate(response.json())

    def ingest(self, batch: Batch | dict[str, Any]) -> Ack:
        """Send a batch: a `Batch`, or its wire dict with rows as stored."""
        data = canonical_json(batch.model_dump(mode="json") if isinstance(batch, Batch) else batch)
        return self.ingest_gzipped(gzip.compress(data, compresslevel=GZIP_LEVEL))

    def ingest_gzipped(self, body: bytes) -> Ack:
        """Send a batch's JSON already gzipped (the uploader's way: see GzipBody)."""
        response = self._send("POST", "/v1/ingest", body, extra={"Content-Encoding": "gzip"})
        return Ack.model_validate(response.json())

    def callbacks(self, batch: dict[str, Any]) -> CallbackAck:
        """Send call-back requests (`CallbackBatch` as a wire dict); the ack names the ids the centre holds."""
        response = self._send("POST", "/v1/callbacks", canonical_json(batch))
        return CallbackAck.model_validate(response.json())

    def heartbeat(self, beat: Heartbeat) -> float | None:
        """Send the beat; returns the centre's clock minus ours, in seconds (None if unreadable)."""
        before = datetime.now(UTC)
        response = self._send("POST", "/v1/heartbeat", canonical_json(beat.model_dump(mode="json")))
        after = datetime.now(UTC)
        try:
            server = datetime.fromisoformat(response.json()["server_time"])
        except (ValueError, KeyError, TypeError):
            return None
        return (server - (before + (after - before) / 2)).total_seconds()

    def config(self, etag: str | None = None) -> tuple[DeviceConfig | None, str | None]:
        """The centre's config for this device, or None when the ETag still matches."""
        response = self._send("GET", "/v1/config", b"", extra={"If-None-Match": etag} if etag else None)
        if response.status_code == 304:
            return None, etag
        return DeviceConfig.model_validate(response.json()), response.headers.get("ETag")

    # -- transport ---------------------------------------------------------------------

    def _send(self, method: str, path: str, body: bytes, signed: bool = True,
              extra: dict[str, str] | None = None) -> requests.Response:
        headers = {"Content-Type": "application/json", **(extra or {})}
        if signed:
            if self.credentials is None:
                raise AuthError("not provisioned: no device credentials")
            headers.update(sign(self.credentials.secret, method, path, self.credentials.device_id, body))
        try:
            response = self._session.request(method, self.server + path, data=body or None, headers=headers,
                                             timeout=self._timeouts)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise TransientError(f"{method} {path}: {type(exc).__name__}: {exc}") from None
        except requests.RequestException as exc:
            raise ProtocolError(f"{method} {path}: {exc}") from None
        return self._check(method, path, response)

    @staticmethod
    def _check(method: str, path: str, response: requests.Response) -> requests.Response:
        status = response.status_code
        if status < 400:
            return response
        detail = _detail(response)
        what = f"{method} {path}: HTTP {status}: {detail}"
        if status in (401, 403):
            raise AuthError(what)
        if status in TRANSIENT_STATUSES:
            raise TransientError(what, _retry_after(response.headers.get("Retry-After")))
        raise ProtocolError(what)


def _detail(response: requests.Response) -> str:
    try:
        return str(response.json().get("detail", response.text))[:300]
    except ValueError:
        return response.text[:300]


def _retry_after(value: str | None) -> float | None:
    """Retry-After as seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())



def enrolled_client(sync: SyncSettings) -> tuple[Credentials, CentreClient]:
    """The client of an enrolled terminal: its credentials from `sync.state_dir` (raises SyncError before
    enrollment) and the centre they name, with the configured timeouts. The one place every upload path
    (worker, `sync --once`, the technician's buttons) opens the centre."""
    credentials = Credentials.load(sync.state_dir)
    return credentials, CentreClient(credentials.server, credentials, sync.connect_timeout_s, sync.read_timeout_s)


def enrollment_client(sync: SyncSettings, server: str) -> CentreClient:
    """An unsigned client for enrolling with `server`, with the configured timeouts."""
    return CentreClient(server, None, sync.connect_timeout_s, sync.read_timeout_s)
