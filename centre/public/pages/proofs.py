"""The published digests as JSON (/digests/{unit_id}, /digests/{unit_id}/{day}) and a receipt's inclusion proof
(/results/proof?r=&d=&s=, the receipt link's own parameters: docs/public.md, "Results and digests").

The proof page checks the link as the receipt page does (centre/public/signed.py: contract/receipt.py's
signature with the device's secret; altered or forged: 403), finds the rating's leaf in its day's newest digest
and checks the audit path against the published root server-side (centre/public/merkle.py verify_proof). It
shows the leaf, the path, the root and the outcome, and the same as JSON (`&format=json`) for anyone to check
with their own code.
"""
from __future__ import annotations

import json
from datetime import date
from typing import Any
from urllib.parse import parse_qs

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from centre.errors import BadInput, NotFound
from centre.public import digests, published, signed, web
from centre.public.pages.results import limit_pages, unit_name

MAX_LISTED = 1000          # /digests/{unit_id} lists at most this many rows, newest first
CONSTRUCTION = {
    "tree": "RFC 6962 Merkle tree over SHA-256",
    "leaf": "SHA-256(0x00 || the rating's chain hash as 32 bytes)",
    "node": "SHA-256(0x01 || left || right)",
    "order": "by device id (Unicode code points), then seq",
    "empty": "SHA-256 of nothing",
    "docs": "docs/public.md, Results and digests",
}


@web.router.get("/results/proof")
def proof_page(request: Request) -> Response:
    limit_pages(request)
    engine = web.engine_of(request)
    with engine.connect() as conn:
        link = signed.check(conn, str(request.url), parse_qs(request.url.query), signed.Purpose.RECEIPT)
        found = digests.proof(conn, link.rating_uuid, link.device_id)
        unit = published.all_units(conn).get(found.unit_id or "")
    body = found.as_json()
    if request.query_params.get("format") == "json":
        return JSONResponse(body)
    return web.render(request, "results_proof.html", {
        "proof": found, "unit_label": unit_name(unit, web.lang_for(request).value) if unit else found.unit_id,
        "as_json": json.dumps(body, ensure_ascii=False, indent=2)})


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadInput(f"day: a date as YYYY-MM-DD, got {text[:40]!r}") from None


def _listing(unit_id: str, rows: list[digests.Digest]) -> dict[str, Any]:
    return {"unit_id": unit_id, "construction": CONSTRUCTION, "digests": [row.as_json() for row in rows]}


@web.router.get("/digests/{unit_id}")
def unit_digests(request: Request, unit_id: str) -> JSONResponse:
    """Every published digest of the unit (up to MAX_LISTED), newest day first, superseded ones too."""
    limit_pages(request)
    with web.engine_of(request).connect() as conn:
        published.unit_of(conn, unit_id)
        return JSONResponse(_listing(unit_id, digests.digests_of(conn, unit_id, limit=MAX_LISTED)))


@web.router.get("/digests/{unit_id}/{day}")
def day_digests(request: Request, unit_id: str, day: str) -> JSONResponse:
    """The digests of the unit's local `day`, the current one first and those it superseded after it."""
    limit_pages(request)
    wanted = _day(day)
    with web.engine_of(request).connect() as conn:
        published.unit_of(conn, unit_id)
        rows = digests.digests_of(conn, unit_id, wanted)
    if not rows:
        raise NotFound(f"unit {unit_id}'s {wanted.isoformat()} is not published (yet)")
    return JSONResponse({**_listing(unit_id, rows), "day": wanted.isoformat()})
