"""Cases (工单): the list of the cases in the viewer's reach (the city office and the auditor: every unit; a
district office: its district's; a unit manager: its unit's), filtered and paged, with the counts per state and
an xlsx export; one case with its rating, deadlines, timeline and files, and the forms of the steps this viewer
may take now (the forms post to pages/cases_actions.py).

What a viewer may see and do is the case domain's (centre/cases/views.py, flow.py): a unit manager's view
holds no number and nothing that identifies the citizen, and no page here adds any. The citizen's number is
shown only in the answer to the caller's explicit "show number" (pages/cases_actions.py), never here.
"""
from __future__ import annotations

from urllib.parse import quote

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import Connection

from centre import scopes
from centre.cases import evidence, store
from centre.cases.model import CaseState, ContactOutcome, Origin, Verdict
from centre.cases.settings import MIB
from centre.cases.views import CaseSummary, case_detail, case_list, scope_units
from centre.cases.workdays import load_calendar
from centre.console import exports
from centre.console.caseviews import (
    FORMS,
    PAGE_ROWS,
    ListQuery,
    actor_of,
    case_settings,
    counter_name,
    counts,
    deadlines,
    due_day,
    forms,
    list_query,
    local_time,
    page_of,
    reason_words,
    rows,
    timeline,
    unit_names,
    word,
)
from centre.console.roles import Role, Viewer
from centre.console.texts import Lang, translator
from centre.console.web import PREFIX, SignedIn, city_today, engine_of, lang_for, render, router, settings_of

BASE = f"{PREFIX}/cases"


def _scope_label(conn: Connection, viewer: Viewer) -> str | None:
    return None if viewer.sees_city else scopes.describe(conn, viewer.scope)


@router.get("/cases")
def cases_page(request: Request, viewer: SignedIn) -> Response:
    lang = lang_for(request)
    actor = actor_of(viewer)
    with engine_of(request).connect() as conn:
        reach = scope_units(conn, actor)
        query = list_query(request, reach)
        label = _scope_label(conn, viewer)
        if exports.wanted(request):
            limit = settings_of(request).export_max_rows + 1   # one more: exports.xlsx refuses it with the reason
            found, _ = case_list(conn, reach, query.filters, limit=limit, actor=actor)
            names = unit_names(conn, reach, lang is Lang.EN)
            zones = store.zones(conn, [case.unit_id for case in found])
        else:
            return _list(request, conn, viewer, reach, query, label)
    return _export(request, viewer, query, label, found, names, zones)


def _list(request: Request, conn: Connection, viewer: Viewer, reach: tuple[str, ...] | None, query: ListQuery,
          label: str | None) -> Response:
    actor = actor_of(viewer)
    english = lang_for(request) is Lang.EN
    t = translator(lang_for(request))
    paging = page_of(request, case_list(conn, reach, query.filters, limit=0)[1])
    found, _ = case_list(conn, reach, query.filters, limit=PAGE_ROWS, offset=paging.start, actor=actor)
    names = unit_names(conn, reach, english)
    return render(request, "cases.html", {
        "scope_label": label, "query": query, "rows": rows(found, names, store.zones(conn, [c.unit_id for c in found])),
        "paging": paging, "counts": counts(conn, reach, query.filters), "states": list(CaseState),
        "origins": list(Origin), "units": names, "unknown_years": sorted(load_calendar(conn).unknown_years),
        "word": lambda prefix, value: word(t, prefix, value),
    })


def _export(request: Request, viewer: Viewer, query: ListQuery, label: str | None, found: list[CaseSummary],
            names: dict[str, str], zones: dict[str, str]) -> Response:
    """The filtered list as xlsx: what the list shows, never a number nor the rating's uuid (the receipt's)."""
    t = translator(lang_for(request))
    columns = [t(f"cases.col_{key}") for key in (
        "id", "unit_id", "unit", "counter", "staff", "level", "origin", "state", "opened", "contact_due",
        "rectify_due", "overdue", "escalated", "verdict", "appeal")]
    table = [[case.id, case.unit_id, names.get(case.unit_id, case.unit_id), case.counter_id, case.staff_id or "",
              case.level, word(t, "cases.origin_", case.origin.value), word(t, "cases.state_", case.state.value),
              local_time(case.opened_at, zones[case.unit_id]), due_day(case.contact_due_at, zones[case.unit_id]),
              due_day(case.rectify_due_at, zones[case.unit_id]), "✓" if case.overdue else "",
              word(t, "cases.escalated_", case.escalated_to) if case.escalated_to else "",
              word(t, "cases.verdict_", case.verdict) if case.verdict else "",
              word(t, "cases.appeal_", case.appeal) if case.appeal else ""]
             for case in found]
    opened = f"{query.opened_from or ''}_{query.opened_to or ''}" if query.opened_from or query.opened_to \
        else city_today().isoformat()
    name = exports.file_name("cases", label or t("cases.city"), query.state.value if query.state else "", opened)
    return exports.xlsx(request, viewer, name, columns, table, sheet="cases")


def render_case(request: Request, viewer: Viewer, case_id: int, *, error: str | None = None,
                failed: str | None = None, values: dict[str, str] | None = None, number: str | None = None,
                status: int = 200) -> Response:
    """One case as `viewer` may see it (403 outside its reach, 404 for none), with the forms of the steps it
    may take now; `error` and `failed` re-show a refused form with the reason and what was typed into it;
    `number` is the citizen's, only in the answer to the caller's "show number"."""
    lang = lang_for(request)
    t = translator(lang)
    actor, settings = actor_of(viewer), case_settings(request)
    with engine_of(request).connect() as conn:
        detail = case_detail(conn, case_id, actor, settings=settings)
        case = detail.case
        zone = store.zones(conn, [case.unit_id])[case.unit_id]
        unit = unit_names(conn, [case.unit_id], lang is Lang.EN).get(case.unit_id, case.unit_id)
        counter = counter_name(conn, case.unit_id, case.counter_id, lang is Lang.EN)
    done = request.query_params.get("done")
    return render(request, "case.html", {
        "case": case, "unit": unit, "counter": counter, "zone": zone, "reasons": reason_words(t, detail.reasons),
        "rated_at": local_time(case.rated_at, zone), "opened_at": local_time(case.opened_at, zone),
        "closed_at": local_time(case.closed_at, zone), "erased_at": local_time(case.numbers_erased_at, zone),
        "deadlines": deadlines(case, zone), "events": timeline(t, detail, zone), "forms": forms(detail),
        "office": viewer.role is not Role.UNIT, "outcomes": list(ContactOutcome), "verdicts": list(Verdict),
        "evidence_mib": f"{settings.evidence_max_bytes / MIB:g}",
        "evidence_types": ", ".join(settings.evidence_media_types),
        "word": lambda prefix, value: word(t, prefix, value),
        "error": error, "failed": failed, "values": values or {}, "number": number,
        "done": done if done in FORMS.values() and error is None else None,
    }, status=status)


@router.get("/cases/{case_id}")
def case_page(request: Request, viewer: SignedIn, case_id: int) -> Response:
    return render_case(request, viewer, case_id)


@router.get("/cases/{case_id}/files/{file_id}")
def case_file(request: Request, viewer: SignedIn, case_id: int, file_id: int) -> Response:
    """An evidence file, to a viewer who may see its case: as the type its content showed when it was kept, and
    always as a download (never rendered in the console's origin, whatever it holds)."""
    with engine_of(request).connect() as conn:
        store.require_reach(conn, actor_of(viewer), store.load(conn, case_id))
        info, content = evidence.content(conn, case_id, file_id)
    ascii_name = info.name.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    return Response(content, media_type=info.media_type, headers={
        "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(info.name)}",
        "X-Content-Type-Options": "nosniff"})
