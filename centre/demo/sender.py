"""The demo's devices on the real path: enrolled with a one-time code, their batches gzipped and signed as the
terminal's sync client sends them, then checked and stored by the functions behind `POST /v1/ingest`.

In-process, not over HTTP: the route's own steps are called in its order (centre/api/app.py, `ingest`): the
signature, clock window and device check (`check_signature`), the gzip body (`decode_body`), then `ingest`,
which records the nonce in the batch's transaction. Only the clock differs: the demo's batches are received
on its simulated days, so the server's "now" is given (`now=`, `received=`) rather than read. That keeps the
rows the same for a seed (received times included), and costs no HTTP stack.
"""
from __future__ import annotations

import gzip
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine

from centre.api.auth import check_signature, decode_body
from centre.api.limits import DEFAULT_LIMITS
from centre.db.rows import utcnow
from centre.demo.terminal import APP_VERSION
from centre.enroll import enroll, issue
from centre.errors import CentreError
from centre.ingest import ingest
from centre.registry.queries import place
from contract import Ack, EnrollRequest, sign

INGEST_PATH = "/v1/ingest"
CODE_TTL = timedelta(hours=24)   # `enroll-code`'s default; the demo's codes are used at once
GZIP_LEVEL = 1              # the sync client's (sync/client.py): ratings compress as well as at 6, faster


class DeliveryRefused(CentreError):
    """The centre refused a demo row: a bug in the demo or in the centre, never expected."""

    status = 500


@dataclass(frozen=True)
class Device:
    """An enrolled device's credentials, as the terminal keeps them in device.json."""

    device_id: str
    secret: str


def enroll_devices(engine: Engine, places: list[tuple[str, str]], at: datetime | None = None) -> list[Device]:
    """A device for each registered (unit, counter): its one-time code issued (in one transaction, as
    `evaluator centre enroll-code --file` issues a sheet's), then enrollment with it, as `evaluator provision`
    does at the counter; at `at` (the demo's simulated time: before the days its devices record), else now."""
    with engine.begin() as conn:
        codes = [issue(conn, place(conn, unit_id, counter_id), {}, at or utcnow(), CODE_TTL).code
                 for unit_id, counter_id in places]
    answers = [enroll(engine, EnrollRequest(code=code, app_version=APP_VERSION), at) for code in codes]
    return [Device(answer.device_id, answer.secret) for answer in answers]


def deliver(engine: Engine, device: Device, batch: bytes, device_sent: datetime, received: datetime,
            rng: random.Random) -> Ack:
    """Send one batch (its canonical JSON) as the sync client does: gzipped, signed by the device's clock at
    `device_sent` with a fresh nonce; received by the centre at `received`. Raises DeliveryRefused when the
    centre rejects any row."""
    body = gzip.compress(batch, compresslevel=GZIP_LEVEL, mtime=0)
    nonce = f"{rng.getrandbits(128):032x}"
    headers = {**sign(device.secret, "POST", INGEST_PATH, device.device_id, body, now=device_sent, nonce=nonce),
               "Content-Type": "application/json", "Content-Encoding": "gzip"}
    signer, checked = check_signature(engine, "POST", INGEST_PATH, headers, body, now=received)
    data = decode_body(body, headers["Content-Encoding"], DEFAULT_LIMITS.inflated)
    ack = ingest(engine, signer["id"], data, received=received, nonce=checked)
    if ack.rejected:
        first = ack.rejected[0]
        raise DeliveryRefused(f"the centre rejected {len(ack.rejected)} row(s) of device {device.device_id}, "
                              f"the first {first.id}: {first.reason}")
    return ack
