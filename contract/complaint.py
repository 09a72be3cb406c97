"""Complaint links.

After a bad review the thanks screen shows a QR code to the unit's complaint page. Its URL carries
the rating's uuid, the device id and a short HMAC with the device secret, so the centre can join a
complaint filed online to the rating (and refuse a forged one) without anything that identifies the
citizen.
"""
from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from urllib.parse import parse_qs, urlencode, urlsplit

COMPLAINT_SIGNATURE_HEX = 16


def complaint_signature(secret: str, device_id: str, rating_uuid: str) -> str:
    mac = hmac.new(secret.encode("utf-8"), f"complaint\n{device_id}\n{rating_uuid}".encode(),
                   hashlib.sha256)
    return mac.hexdigest()[:COMPLAINT_SIGNATURE_HEX]


def complaint_url(base: str, secret: str, device_id: str, rating_uuid: str) -> str:
    query = urlencode({"r": rating_uuid, "d": device_id, "s": complaint_signature(secret, device_id, rating_uuid)})
    return f"{base}{'&' if '?' in base else '?'}{query}"


def verify_complaint_url(url: str, secret_for: Callable[[str], str | None]) -> str | None:
    """The rating uuid a complaint link names, if its signature holds; `secret_for(device_id)` → secret."""
    fields = parse_qs(urlsplit(url).query)
    try:
        (uuid,), (device_id,), (signature,) = fields["r"], fields["d"], fields["s"]
    except (KeyError, ValueError):
        return None
    secret = secret_for(device_id)
    if secret is None:
        return None
    return uuid if hmac.compare_digest(complaint_signature(secret, device_id, uuid), signature) else None
