"""The receipt link: signed for one rating by one device, never interchangeable with the complaint link."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from contract import (
    RECEIPT_SIGNATURE_HEX,
    complaint_signature,
    complaint_url,
    receipt_signature,
    receipt_url,
    verify_complaint_url,
    verify_receipt_url,
)

UUID = "0b6b6a9e-6c1f-4a41-9d5e-2f7f0c1e9a10"
SECRETS = {"dev-0042": "s3cret", "dev-0043": "other"}


def test_a_receipt_link_names_the_rating_and_verifies_with_the_devices_secret():
    url = receipt_url("https://centre.example/r", "s3cret", "dev-0042", UUID)
    query = parse_qs(urlsplit(url).query)
    assert url.startswith("https://centre.example/r?")
    assert query == {"r": [UUID], "d": ["dev-0042"], "s": [receipt_signature("s3cret", "dev-0042", UUID)]}
    assert len(query["s"][0]) == RECEIPT_SIGNATURE_HEX
    assert verify_receipt_url(url, SECRETS.get) == UUID


def test_a_base_with_a_query_keeps_it():
    url = receipt_url("https://centre.example/r?lang=en", "s3cret", "dev-0042", UUID)
    assert url.startswith("https://centre.example/r?lang=en&r=")
    assert verify_receipt_url(url, SECRETS.get) == UUID


@pytest.mark.parametrize("change", [
    lambda url: url.replace(UUID[:8], "ffffffff"),                 # another rating
    lambda url: url.replace("d=dev-0042", "d=dev-0043"),            # another device
    lambda url: url.replace("d=dev-0042", "d=dev-9999"),            # a device the centre does not know
    lambda url: url[:-1] + ("0" if url[-1] != "0" else "1"),        # the signature altered
    lambda url: url.split("&s=")[0],                                # no signature
    lambda url: url + "&r=" + UUID,                                 # the rating named twice
], ids=["rating", "device", "unknown device", "signature", "unsigned", "twice"])
def test_an_altered_link_is_refused(change):
    url = receipt_url("https://centre.example/r", "s3cret", "dev-0042", UUID)
    assert verify_receipt_url(change(url), SECRETS.get) is None


def test_receipt_and_complaint_links_are_signed_for_different_purposes():
    assert receipt_signature("s3cret", "dev-0042", UUID) != complaint_signature("s3cret", "dev-0042", UUID)
    receipt = receipt_url("https://centre.example/c", "s3cret", "dev-0042", UUID)
    complaint = complaint_url("https://centre.example/r", "s3cret", "dev-0042", UUID)
    assert verify_complaint_url(receipt, SECRETS.get) is None      # a receipt never opens a complaint form
    assert verify_receipt_url(complaint, SECRETS.get) is None      # nor a complaint link a receipt
