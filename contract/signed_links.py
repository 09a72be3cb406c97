"""Links a terminal signs for the citizen's phone: the rating's uuid, the device id and a short HMAC with the
device secret over a message that names the link's purpose ("complaint", "receipt"), so one kind of link can
never be turned into another. The centre checks a link against the device's secret without anything that
identifies the citizen. contract/complaint.py and contract/receipt.py are the two purposes.
"""
from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from urllib.parse import parse_qs, urlencode, urlsplit

SIGNATURE_HEX = 16      # 64 bits: a forger gets one try per request, and requests are rate limited


def signature(purpose: str, secret: str, device_id: str, rating_uuid: str) -> str:
    mac = hmac.new(secret.encode("utf-8"), f"{purpose}\n{device_id}\n{rating_uuid}".encode(), hashlib.sha256)
    return mac.hexdigest()[:SIGNATURE_HEX]


def signed_url(purpose: str, base: str, secret: str, device_id: str, rating_uuid: str) -> str:
    query = urlencode({"r": rating_uuid, "d": device_id, "s": signature(purpose, secret, device_id, rating_uuid)})
    return f"{base}{'&' if '?' in base else '?'}{query}"


def verify(purpose: str, url: str, secret_for: Callable[[str], str | None]) -> str | None:
    """The rating uuid a `purpose` link names, if its signature holds; `secret_for(device_id)` → secret."""
    fields = parse_qs(urlsplit(url).query)
    try:
        (uuid,), (device_id,), (signed,) = fields["r"], fields["d"], fields["s"]
    except (KeyError, ValueError):
        return None
    secret = secret_for(device_id)
    if secret is None:
        return None
    return uuid if hmac.compare_digest(signature(purpose, secret, device_id, uuid), signed) else None
