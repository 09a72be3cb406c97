"""Complaint links.

After a bad review the thanks screen shows a QR code to the unit's complaint page. Its URL carries
the rating's uuid, the device id and a short HMAC with the device secret (contract/signed_links.py), so the
centre can join a complaint filed online to the rating (and refuse a forged one) without anything that
identifies the citizen.
"""
from __future__ import annotations

from collections.abc import Callable

from contract import signed_links

PURPOSE = "complaint"
COMPLAINT_SIGNATURE_HEX = signed_links.SIGNATURE_HEX


def complaint_signature(secret: str, device_id: str, rating_uuid: str) -> str:
    return signed_links.signature(PURPOSE, secret, device_id, rating_uuid)


def complaint_url(base: str, secret: str, device_id: str, rating_uuid: str) -> str:
    return signed_links.signed_url(PURPOSE, base, secret, device_id, rating_uuid)


def verify_complaint_url(url: str, secret_for: Callable[[str], str | None]) -> str | None:
    """The rating uuid a complaint link names, if its signature holds; `secret_for(device_id)` → secret."""
    return signed_links.verify(PURPOSE, url, secret_for)
