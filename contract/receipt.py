"""Receipt links (回执).

The thanks screen can show a QR code to the rating's receipt page at the centre (kiosk `citizen.receipt_after`).
Its URL carries the rating's uuid, the device id and a short HMAC with the device secret, like the complaint
link (contract/signed_links.py), but over a message of its own ("receipt\\n…"): a receipt link is never a
complaint link, so one cannot be turned into the other. The centre checks it against the device's secret and
tells the citizen whether the rating arrived and counted, with nothing that identifies anyone.
"""
from __future__ import annotations

from collections.abc import Callable

from contract import signed_links

PURPOSE = "receipt"
RECEIPT_SIGNATURE_HEX = signed_links.SIGNATURE_HEX


def receipt_signature(secret: str, device_id: str, rating_uuid: str) -> str:
    return signed_links.signature(PURPOSE, secret, device_id, rating_uuid)


def receipt_url(base: str, secret: str, device_id: str, rating_uuid: str) -> str:
    return signed_links.signed_url(PURPOSE, base, secret, device_id, rating_uuid)


def verify_receipt_url(url: str, secret_for: Callable[[str], str | None]) -> str | None:
    """The rating uuid a receipt link names, if its signature holds; `secret_for(device_id)` → secret."""
    return signed_links.verify(PURPOSE, url, secret_for)
