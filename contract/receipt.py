"""Receipt links (回执).

The thanks screen can show a QR code to the rating's receipt page at the centre (kiosk `citizen.receipt_after`).
Its URL carries the rating's uuid, the device id and a short HMAC with the device secret, like the complaint
link (contract/complaint.py), but over a message of its own ("receipt\\n…"): a receipt link is never a
complaint link, so one cannot be turned into the other. The centre checks it against the device's secret and
tells the citizen whether the rating arrived and counted, with nothing that identifies anyone.
"""
from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from urllib.parse import parse_qs, urlencode, urlsplit

RECEIPT_SIGNATURE_HEX = 16      # 64 bits: a forger gets one try per request, and requests are rate limited


def receipt_signature(secret: str, device_id: str, rating_uuid: str) -> str:
    mac = hmac.new(secret.encode("utf-8"), f"receipt\n{device_id}\n{rating_uuid}".encode(), hashlib.sha256)
    return mac.hexdigest()[:RECEIPT_SIGNATURE_HEX]


def receipt_url(base: str, secret: str, device_id: str, rating_uuid: str) -> str:
    query = urlencode({"r": rating_uuid, "d": device_id, "s": receipt_signature(secret, device_id, rating_uuid)})
    return f"{base}{'&' if '?' in base else '?'}{query}"


def verify_receipt_url(url: str, secret_for: Callable[[str], str | None]) -> str | None:
    """The rating uuid a receipt link names, if its signature holds; `secret_for(device_id)` → secret."""
    fields = parse_qs(urlsplit(url).query)
    try:
        (uuid,), (device_id,), (signature,) = fields["r"], fields["d"], fields["s"]
    except (KeyError, ValueError):
        return None
    secret = secret_for(device_id)
    if secret is None:
        return None
    return uuid if hmac.compare_digest(receipt_signature(secret, device_id, uuid), signature) else None
