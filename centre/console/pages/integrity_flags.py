"""The integrity flags (centre/integrity): their list on the Integrity page, above the chain report, and a
flag's own page with its evidence and the city office's review.

Who sees what: the city office and the auditor every flag, a district office its units' flags, read-only
but for the city office, which alone reviews (the domain records the review, its exclusions and its audit row
in one transaction: centre/integrity/review.py). A unit manager sees no flag: the office looks into a unit
before the unit hears of it.
"""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import RedirectResponse, Response

from centre.console.roles import Viewer
from centre.console.web import PREFIX, Changing, SignedIn, engine_of, render, router
from centre.errors import BadInput, Forbidden, NotFound
from centre.integrity import evidence, flags, review
from centre.integrity.model import FlagState, SignalKind

FLAGS_SHOWN = 100            # rows of the list; the filters narrow a longer one
TEXT_FIELD = Form(max_length=4000)       # the domain refuses more than 2,000 characters with its own reason
SHORT_FIELD = Form(max_length=40)
DECISIONS = ("dismiss", "confirm")


def _sees_flags(viewer: Viewer) -> bool:
    return viewer.sees_city or viewer.role.value == "district"


def _choice(request: Request, name: str, kind: type[FlagState] | type[SignalKind], default: str | None) -> Any:
    raw = request.query_params.get(name, default)
    if not raw:
        return None
    try:
        return kind(raw)
    except ValueError:
        raise BadInput(f"{name}: one of {', '.join(item.value for item in kind)}, got {raw[:40]!r}") from None


def section(request: Request, viewer: Viewer) -> dict[str, Any]:
    """What the Integrity page's flags section shows (its template: partials/integrity_flags.html)."""
    if not _sees_flags(viewer):
        return {"flags_shown": False}
    state = _choice(request, "state", FlagState, FlagState.OPEN.value if "state" not in request.query_params
                    else None)
    kind = _choice(request, "kind", SignalKind, None)
    unit = (request.query_params.get("unit") or "").strip()[:200] or None
    with engine_of(request).connect() as conn:
        reach = viewer.unit_ids(conn)
        units = [unit] if unit else None
        if reach is not None:
            units = [u for u in (units or list(reach)) if u in set(reach)]
        found = flags.flags(conn, state=state, unit_ids=units, kind=kind, limit=FLAGS_SHOWN)
        total = flags.count(conn, state=state, unit_ids=units, kind=kind)
        within = list(reach) if reach is not None else None
        counts = {each: flags.count(conn, state=each, unit_ids=within) for each in FlagState}
    return {"flags_shown": True, "flags": found, "flags_total": total, "flag_counts": counts,
            "flag_state": state, "flag_kind": kind, "flag_unit": unit or "", "flag_states": list(FlagState),
            "flag_kinds": list(SignalKind)}


def _flag(request: Request, viewer: Viewer, flag_id: int) -> flags.Flag:
    if not _sees_flags(viewer):
        raise Forbidden(f"{viewer.name} ({viewer.role.value}) does not see integrity flags")
    with engine_of(request).connect() as conn:
        found = flags.flag(conn, flag_id)
        if found is None:
            raise NotFound(f"no integrity flag {flag_id}")
        viewer.require_unit(conn, found.unit_id)
    return found


@router.get("/integrity/flags/{flag_id}")
def flag_page(request: Request, viewer: SignedIn, flag_id: int) -> Response:
    found = _flag(request, viewer, flag_id)
    with engine_of(request).connect() as conn:
        shown = evidence.shown(conn, found)
        history = review.reviews(conn, flag_id)
    done = request.query_params.get("done")
    return render(request, "integrity_flag.html", {
        "flag": found, "evidence": shown, "reviews": history, "may_review": viewer.may_change
        and found.state is FlagState.OPEN, "done": done if done in DECISIONS else None,
        "detail": {key: value for key, value in found.detail.items() if key not in ("test", "fires")}})


@router.post("/integrity/flags/{flag_id}/review")
def review_flag(request: Request, viewer: Changing, flag_id: int, decision: Annotated[str, SHORT_FIELD],
                reason: Annotated[str, TEXT_FIELD], exclude: Annotated[str, SHORT_FIELD] = "") -> Response:
    viewer.require_change()
    if decision not in DECISIONS:
        raise BadInput(f"decision: dismiss or confirm, got {decision[:40]!r}")
    _flag(request, viewer, flag_id)
    address = request.client.host if request.client else None
    with engine_of(request).begin() as conn:
        if decision == "dismiss":
            review.dismiss(conn, flag_id, viewer.name, reason, address=address)
        else:
            review.confirm(conn, flag_id, viewer.name, reason, exclude == "yes", address=address)
    return RedirectResponse(f"{PREFIX}/integrity/flags/{flag_id}?done={decision}", status_code=303)
