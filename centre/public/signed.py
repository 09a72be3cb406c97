"""The terminal's signed links to a rating (contract/complaint.py, contract/receipt.py), checked at the centre.

A link names a rating's uuid and the device that made it, signed with that device's secret for one purpose:
a complaint link opens the complaint form (/c), a receipt link the receipt (/r); neither opens the other.
A link is refused with 403 (nothing stored, nothing looked up for it) when its signature does not hold for the
device it names (altered, forged, or a device the centre never enrolled), when the rating it names is held but
was delivered by another device, or when its device was withdrawn (revoked) and the rating is not one it
delivered before: a withdrawn terminal's key may be in anyone's hands.

The centre signs links itself from the same secret where one page leads to the other: the receipt page's
complaint button, the complaint page's receipt link. Nothing here identifies the citizen.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from urllib.parse import urlencode

from sqlalchemy import Connection, select

from centre.db.tables import devices, ratings
from centre.errors import BadInput, Forbidden
from centre.public.settings import PublicSettings
from contract import (
    DeviceConfig,
    complaint_signature,
    receipt_signature,
    verify_complaint_url,
    verify_receipt_url,
)

UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
DEVICE_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
SIGNATURE = re.compile(r"^[0-9a-f]{1,64}$")
COMPLAINT_PATH, RECEIPT_PATH = "/c", "/r"


class Purpose(str, Enum):
    COMPLAINT = "complaint"
    RECEIPT = "receipt"


@dataclass(frozen=True)
class Link:
    """A checked link: the rating it names and the device that signed it."""

    rating_uuid: str
    device_id: str

    def query(self, secret: str, purpose: Purpose) -> str:
        """This link's query string (r, d, s) signed for `purpose` with the device's `secret`."""
        sign = complaint_signature if purpose is Purpose.COMPLAINT else receipt_signature
        return urlencode({"r": self.rating_uuid, "d": self.device_id,
                          "s": sign(secret, self.device_id, self.rating_uuid)})


def _shape(query: dict[str, list[str]]) -> None:
    """BadInput for what no terminal sends (a missing, repeated or misshapen part): 400 before any lookup."""
    for name, pattern in (("r", UUID), ("d", DEVICE_ID), ("s", SIGNATURE)):
        values = query.get(name, [])
        if len(values) != 1:
            raise BadInput(f"{name}: the link must name it exactly once; scan the code again")
        if not pattern.fullmatch(values[0]):
            raise BadInput(f"{name}: not the shape a terminal's link has; scan the code again")


def check(conn: Connection, url: str, query: dict[str, list[str]], purpose: Purpose) -> Link:
    """The link of a request (its full `url` and parsed `query`), or Forbidden/BadInput (see the module)."""
    _shape(query)
    device_id = query["d"][0]
    device = conn.execute(select(devices.c.secret, devices.c.revoked_at).where(devices.c.id == device_id)).first()
    verify = verify_complaint_url if purpose is Purpose.COMPLAINT else verify_receipt_url
    uuid = verify(url, lambda named: device.secret if device is not None and named == device_id else None)
    if uuid is None or device is None:
        raise Forbidden(f"the {purpose.value} link's signature does not hold: it was altered or not made by a "
                        "terminal of this centre")
    delivered_by = conn.execute(select(ratings.c.delivered_by).where(ratings.c.uuid == uuid)).scalar()
    if delivered_by is not None and delivered_by != device_id:
        raise Forbidden(f"the {purpose.value} link names a rating another terminal delivered")
    if device.revoked_at is not None and delivered_by is None:
        raise Forbidden(f"the terminal that made this {purpose.value} link was withdrawn, and the centre holds no "
                        "rating of it by this link")
    return Link(uuid, device_id)


def sibling(conn: Connection, link: Link, purpose: Purpose) -> str:
    """The path and query of the other page for the same rating (the complaint form from the receipt, or the
    receipt from the complaint form), signed by the centre with the device's secret."""
    secret = conn.execute(select(devices.c.secret).where(devices.c.id == link.device_id)).scalar_one()
    path = COMPLAINT_PATH if purpose is Purpose.COMPLAINT else RECEIPT_PATH
    return f"{path}?{link.query(secret, purpose)}"


def proof_path(query: str) -> str:
    """The inclusion proof of the receipt's rating in its published day (the results pages), by the same link."""
    return f"/results/proof?{query}"


def with_link_bases(config: DeviceConfig, settings: PublicSettings) -> DeviceConfig:
    """A terminal's config with the bases of the centre's complaint form and receipt page in its counter's object
    (a terminal appends each rating's signed link): only where the city config gives the centre's public
    address (`public.base_url`); without it a terminal keeps the links of its own config.yaml."""
    if not settings.base_url:
        return config
    base = settings.base_url
    links = {"complaint_url": f"{base}{COMPLAINT_PATH}", "receipt_url": f"{base}{RECEIPT_PATH}"}
    return config.model_copy(update={"counter": {**config.counter, **links}})
