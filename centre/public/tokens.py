"""The questionnaire QR's tokens: signed by the centre, for one unit (and counter), valid for a set number of days.

A token is `PAYLOAD.MAC`, both base64url without padding: the payload is the compact JSON list
[version, unit, counter ("" for none), issued day (YYYYMMDD, UTC), valid days, key id, token id], the MAC
the first 16 bytes of HMAC-SHA256 over the payload's text with the key named, a secret of the centre's own
(`centre_keys`, purpose `questionnaire`). A token expires at UTC midnight `valid days` after its issued day.

The token a counter's terminal gets is the same all through a period (so the config's ETag holds still
between pulls): periods are `token_valid_days - token_refresh_days` long, counted from 1970-01-01, and a
period's token is issued on its first day. The next period's token reaches the terminal with the config it
pulls `token_refresh_days` before the current one expires, so the QR on the waiting screen changes before a
citizen could scan an expired one, and a photo of last month's code no longer works.

Keys (centre/public/keys.py): made on first use; after `key_rotation_days` a new one signs new tokens and
the old one is retired, still verifying the tokens it signed before its retirement until they expire.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Connection, Engine

from centre.errors import Forbidden, Gone
from centre.public.keys import QUESTIONNAIRE, Key, key_by_id, signing_key
from centre.public.settings import PublicSettings
from contract import DeviceConfig, iso_utc

VERSION = 1
MAC_BYTES = 16
EPOCH = date(1970, 1, 1)
log = logging.getLogger("centre.public")


@dataclass(frozen=True)
class Token:
    unit_id: str
    counter_id: str | None
    issued: date
    valid_days: int
    key_id: str
    token_id: str

    @property
    def expires_at(self) -> datetime:
        return datetime.combine(self.issued + timedelta(days=self.valid_days), time(), UTC)

    def payload(self) -> str:
        fields = [VERSION, self.unit_id, self.counter_id or "", self.issued.strftime("%Y%m%d"), self.valid_days,
                  self.key_id, self.token_id]
        return _b64(json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not text or any(c not in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" for c in text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, payload: str) -> str:
    signed = f"questionnaire-token\n{payload}".encode("ascii")
    return _b64(hmac.new(secret, signed, hashlib.sha256).digest()[:MAC_BYTES])


# -- tokens --------------------------------------------------------------------------------------------------

def period_start(day: date, settings: PublicSettings) -> date:
    """The first day of the period holding `day`: the issued day of the token a terminal is given then."""
    step = settings.token_valid_days - settings.token_refresh_days
    return EPOCH + timedelta(days=(day - EPOCH).days // step * step)


def make(key: Key, unit_id: str, counter_id: str | None, issued: date, valid_days: int) -> str:
    """The token for these fields signed with `key` (the same fields and key: the same token)."""
    seed = f"{key.id}|{unit_id}|{counter_id or ''}|{issued.isoformat()}|{valid_days}".encode()
    token_id = _b64(hmac.new(key.secret, b"id\n" + seed, hashlib.sha256).digest()[:9])
    payload = Token(unit_id, counter_id or None, issued, valid_days, key.id, token_id).payload()
    return f"{payload}.{_mac(key.secret, payload)}"


def issue(conn: Connection, unit_id: str, counter_id: str | None, now: datetime, settings: PublicSettings) -> str:
    """This period's token for the unit's (counter's) questionnaire, signed with the current key."""
    key = signing_key(conn, QUESTIONNAIRE, now, settings.key_rotation_days)
    issued = period_start(now.astimezone(UTC).date(), settings)
    return make(key, unit_id, counter_id, issued, settings.token_valid_days)


def questionnaire_url(engine: Engine, unit_id: str, counter_id: str | None, now: datetime,
                      settings: PublicSettings) -> str | None:
    """The URL a terminal's questionnaire QR carries, None when the centre has no public address configured."""
    if settings.base_url is None:
        return None
    with engine.begin() as conn:
        token = issue(conn, unit_id, counter_id, now, settings)
    return f"{settings.base_url}/q/{token}"


def _parse(text: str) -> tuple[Token, str, str]:
    """(token, payload text, MAC text); ValueError for anything that is not a well-formed token."""
    payload, _, mac = text.partition(".")
    fields = json.loads(_unb64(payload).decode("utf-8"))
    if not isinstance(fields, list) or len(fields) != 7 or fields[0] != VERSION:
        raise ValueError("not a token of this version")
    _, unit, counter, issued, days, key_id, token_id = fields
    if not all(isinstance(value, str) for value in (unit, counter, issued, key_id, token_id)) or not unit:
        raise ValueError("bad fields")
    if not isinstance(days, int) or not 1 <= days <= 366 or len(token_id) > 32:
        raise ValueError("bad validity")
    token = Token(unit, counter or None, datetime.strptime(issued, "%Y%m%d").date(), days, key_id, token_id)
    _unb64(mac)
    return token, payload, mac


def verify(conn: Connection, text: str, now: datetime) -> Token:
    """The token `text` stands for: Forbidden when it is malformed, forged or altered (or its key was retired
    before it was issued), Gone when it has expired. Nothing else is looked at before the MAC checks out."""
    try:
        token, payload, mac = _parse(text)
    except (ValueError, UnicodeDecodeError, binascii.Error, json.JSONDecodeError):
        raise Forbidden("the questionnaire link is not a valid code") from None
    key = key_by_id(conn, QUESTIONNAIRE, token.key_id)
    if key is None or not hmac.compare_digest(mac, _mac(key.secret, payload)):
        raise Forbidden("the questionnaire link's signature does not match: it was altered or forged")
    issued_at = datetime.combine(token.issued, time(), UTC)
    if key.retired_at is not None and issued_at > key.retired_at:
        raise Forbidden("the questionnaire link is signed with a key retired before its issue")
    if now >= token.expires_at:
        raise Gone(f"the questionnaire link expired on {iso_utc(token.expires_at)}")
    if issued_at > now + timedelta(days=1):
        raise Forbidden("the questionnaire link is issued in the future")
    return token


URL_MAX_CHARS = 300   # what a terminal's citizen.questionnaire_url holds (kiosk/config/citizen.py)


def with_questionnaire_url(engine: Engine, config: DeviceConfig, now: datetime,
                           settings: PublicSettings) -> DeviceConfig:
    """The config a terminal gets, its counter carrying the questionnaire URL with this period's token (none
    without a public address, or for a URL too long for a terminal, which would refuse the whole config)."""
    unit_id, counter_id = config.unit.get("id"), config.counter.get("id")
    if not isinstance(unit_id, str) or not isinstance(counter_id, str):
        return config
    url = questionnaire_url(engine, unit_id, counter_id, now, settings)
    if url is None:
        return config
    if len(url) > URL_MAX_CHARS:
        log.warning("questionnaire URL for %s/%s is %d characters, over a terminal's %d: not sent (shorten "
                    "public.base_url or the unit's id)", unit_id, counter_id, len(url), URL_MAX_CHARS)
        return config
    return config.model_copy(update={"counter": {**config.counter, "questionnaire_url": url}})
