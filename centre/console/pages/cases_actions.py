"""The steps of a case, taken from its page's forms: each a POST with the session's CSRF token (`Changing`),
handed to the case domain (centre/cases/flow.py, appeals.py, views.reveal_number) as the viewer's Actor.

`Changing` checks the session and the token only; who may take which step (a unit manager assigns and
rectifies its own unit's cases, a district office calls back and verifies, only the city office decides an
appeal) is the domain's rule, checked in the step's own transaction, so the console neither widens nor
narrows it. A step the domain refuses as bad input (out of order, missing text, evidence too large or of a
refused type) re-shows the case with the reason beside the form and what was typed kept, the case unchanged;
one outside the viewer's reach or role is the error page (403), a case that does not exist 404.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Connection

from centre.cases import flow
from centre.cases.evidence import Evidence
from centre.cases.model import Actor, ContactOutcome, Verdict, VerdictSource
from centre.cases.views import reveal_number
from centre.console.caseviews import actor_of, case_settings
from centre.console.pages.cases import BASE, render_case
from centre.console.roles import Viewer
from centre.console.web import Changing, engine_of, router
from centre.errors import BadInput

Text = Annotated[str, Form(max_length=20_000)]   # the domain caps each text (and says so); this caps the form
Files = Annotated[list[UploadFile] | None, File()]


def _choice(name: str, raw: str, kind: type[ContactOutcome] | type[Verdict]) -> str:
    if raw not in {item.value for item in kind}:
        raise BadInput(f"{name}: one of {', '.join(item.value for item in kind)}, got {raw!r}")
    return raw


def _evidence(uploads: list[UploadFile] | None) -> list[Evidence]:
    """The files chosen (a file input left empty sends a part without a name or bytes: no file). The body's
    size is capped before it is read (centre/api/limits.py); the domain judges each file's size and type."""
    return [Evidence(upload.filename or "", upload.file.read()) for upload in uploads or ()
            if upload.filename or upload.size]


def _step(request: Request, viewer: Viewer, case_id: int, form: str, values: dict[str, str],
          take: Callable[[Connection, Actor], object]) -> Response:
    """Take one step in its own transaction; its case's page again (303), or the form again with the reason."""
    try:
        with engine_of(request).begin() as conn:
            take(conn, actor_of(viewer))
    except BadInput as refused:
        return render_case(request, viewer, case_id, error=refused.message, failed=form, values=values,
                           status=refused.status)
    return RedirectResponse(f"{BASE}/{case_id}?done={form}#timeline", status_code=303)


@router.post("/cases/{case_id}/assign")
def assign(request: Request, viewer: Changing, case_id: int, assignee: Text = "", note: Text = "") -> Response:
    return _step(request, viewer, case_id, "assign", {"assignee": assignee, "note": note},
                 lambda conn, actor: flow.assign(conn, case_id, actor, assignee=assignee, note=note,
                                                 settings=case_settings(request)))


@router.post("/cases/{case_id}/contact")
def contact(request: Request, viewer: Changing, case_id: int, outcome: Text = "", note: Text = "") -> Response:
    return _step(request, viewer, case_id, "contact", {"outcome": outcome, "note": note},
                 lambda conn, actor: flow.record_contact_attempt(
                     conn, case_id, actor, outcome=ContactOutcome(_choice("outcome", outcome, ContactOutcome)),
                     note=note, settings=case_settings(request)))


@router.post("/cases/{case_id}/rectify")
def rectify(request: Request, viewer: Changing, case_id: int, cause: Text = "", measures: Text = "",
            evidence: Files = None) -> Response:
    return _step(request, viewer, case_id, "rectify", {"cause": cause, "measures": measures},
                 lambda conn, actor: flow.rectify(conn, case_id, actor, cause=cause, measures=measures,
                                                  files=_evidence(evidence), settings=case_settings(request)))


@router.post("/cases/{case_id}/send_back")
def send_back(request: Request, viewer: Changing, case_id: int, reason: Text = "") -> Response:
    return _step(request, viewer, case_id, "send_back", {"reason": reason},
                 lambda conn, actor: flow.send_back(conn, case_id, actor, reason=reason,
                                                    settings=case_settings(request)))


@router.post("/cases/{case_id}/verify")
def verify(request: Request, viewer: Changing, case_id: int, note: Text = "") -> Response:
    return _step(request, viewer, case_id, "verify", {"note": note},
                 lambda conn, actor: flow.verify(conn, case_id, actor, note=note, settings=case_settings(request)))


@router.post("/cases/{case_id}/verdict")
def verdict(request: Request, viewer: Changing, case_id: int, verdict: Text = "", note: Text = "") -> Response:
    return _step(request, viewer, case_id, "verdict", {"verdict": verdict, "note": note},
                 lambda conn, actor: flow.record_verdict(
                     conn, case_id, actor, verdict=Verdict(_choice("verdict", verdict, Verdict)),
                     source=VerdictSource.CALLBACK, note=note, settings=case_settings(request)))


@router.post("/cases/{case_id}/close")
def close(request: Request, viewer: Changing, case_id: int, note: Text = "") -> Response:
    return _step(request, viewer, case_id, "close", {"note": note},
                 lambda conn, actor: flow.close(conn, case_id, actor, note=note, settings=case_settings(request)))


@router.post("/cases/{case_id}/appeal")
def appeal(request: Request, viewer: Changing, case_id: int, grounds: Text = "", evidence: Files = None) -> Response:
    return _step(request, viewer, case_id, "appeal", {"grounds": grounds},
                 lambda conn, actor: flow.appeal(conn, case_id, actor, grounds=grounds, files=_evidence(evidence),
                                                 settings=case_settings(request)))


@router.post("/cases/{case_id}/decide")
def decide(request: Request, viewer: Changing, case_id: int, decision: Text = "", reason: Text = "") -> Response:
    def take(conn: Connection, actor: Actor) -> object:
        if decision not in ("upheld", "rejected"):
            raise BadInput(f"decision: upheld or rejected, got {decision!r}")
        return flow.decide_appeal(conn, case_id, actor, upheld=decision == "upheld", reason=reason,
                                  settings=case_settings(request))

    return _step(request, viewer, case_id, "decide", {"decision": decision, "reason": reason}, take)


@router.post("/cases/{case_id}/number")
def show_number(request: Request, viewer: Changing, case_id: int) -> Response:
    """The citizen's number, to the caller role alone (the domain refuses anyone else), audited with the
    request's address; shown in this answer only (never cached: the console's pages are no-store)."""
    try:
        with engine_of(request).begin() as conn:
            number = reveal_number(conn, case_id, actor_of(viewer), settings=case_settings(request),
                                   address=request.client.host if request.client else None)
    except BadInput as refused:
        return render_case(request, viewer, case_id, error=refused.message, failed="number",
                           status=refused.status)
    return render_case(request, viewer, case_id, number=number)
