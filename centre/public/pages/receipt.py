"""The rating receipt, /r?r=&d=&s=: the page behind the terminal's receipt QR (docs/public.md, "Receipt").

GET checks the link (centre/public/signed.py: altered or forged → 403, nothing looked up) and tells, with no
personal data and no staff name, what became of the rating (centre/public/receipt.py): counted, excluded, or
not received (yet); its case in plain words and, once verified, what the unit changed; a form for the
citizen's verdict on the rectification while one may be given; a button to the complaint form (the centre
signs that link: one QR code on the terminal serves both); and the rating's inclusion proof in its published
day (/results/proof, by the same link). POST records the verdict: one per case, a second is told so.
"""
from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse

from centre.cases.model import Verdict
from centre.errors import BadInput
from centre.public import receipt as receipts
from centre.public import web
from centre.public.abuse import parse_form
from centre.public.pages.complaint import Body, about, checked_link, limit_page, limit_submission
from centre.public.receipt import Arrival, Given
from centre.public.signed import Link, Purpose, proof_path, sibling

VERDICTS = (Verdict.SATISFIED, Verdict.BASICALLY, Verdict.UNSATISFIED)
_HELD = (Arrival.COUNTED, Arrival.EXCLUDED, Arrival.NOT_COUNTED)


def _page(request: Request, link: Link, given: Given | None = None) -> HTMLResponse:
    engine, settings, now = web.engine_of(request), web.settings_of(request), web.now()
    receipt = receipts.look_up(engine, link, now, settings)
    lang = web.lang_for(request).value
    with engine.connect() as conn:
        subject = about(conn, link, lang)
        complaint = sibling(conn, link, Purpose.COMPLAINT)
        own = sibling(conn, link, Purpose.RECEIPT)
    unit = (receipt.unit_name_en or receipt.unit_name) if lang == "en" else receipt.unit_name
    return web.render(request, "receipt.html", {
        "receipt": receipt, "unit": unit, "counter": subject.counter, "given": given.value if given else None,
        "verdicts": [verdict.value for verdict in VERDICTS], "complaint": complaint,
        "proof": proof_path(own.split("?", 1)[1]) if receipt.arrival in _HELD else None,
        "missing_after_h": f"{settings.receipt_missing_after_h:g}",
        "action": f"{request.url.path}?{request.url.query}",
    })


@web.router.get("/r")
def receipt_page(request: Request) -> HTMLResponse:
    limit_page(request, web.now())
    return _page(request, checked_link(request, Purpose.RECEIPT))


@web.router.post("/r")
def give_verdict(request: Request, body: Body) -> HTMLResponse:
    now = web.now()
    limit_submission(request, now)
    link = checked_link(request, Purpose.RECEIPT)
    values = parse_form(body, request.headers.get("content-type")).get("verdict", [])
    if len(values) != 1 or values[0] not in {verdict.value for verdict in VERDICTS}:
        raise BadInput("verdict: choose one of 满意, 基本满意, 不满意")
    return _page(request, link, receipts.give_verdict(web.engine_of(request), link, Verdict(values[0]), now))
