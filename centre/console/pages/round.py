"""The model-unit round (示范点创评): the year's phases, its terms, the candidates, applications, acceptance
checks, the confirmed list, the titles held and their withdrawals (the rules: centre/modelround.py,
roundcalendar.py and roundtitles.py).

Who may do what: the city office everything; a unit manager sees the round and its own unit's standing and
applies for its unit only; a district office sees its district's units; the auditor reads everything. Every
change is a POST carrying the session's CSRF token, recorded in the audit log (ROUND_CHANGED, with what
changed), and answered by a redirect back to the page (so a reload does not send it again).
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from enum import Enum
from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Connection

from centre import modelround, roundcalendar, roundtitles
from centre.console import audit, exports
from centre.console.paging import Paging, paged
from centre.console.roles import Role, Viewer, figures_scope
from centre.console.texts import translator
from centre.console.web import (
    PREFIX,
    Changing,
    SignedIn,
    city_today,
    engine_of,
    lang_for,
    render,
    router,
    settings_of,
)
from centre.enroll import DEFAULT_TIMEZONE, check_timezone
from centre.errors import BadInput, Forbidden
from centre.modelround import Candidates, Standing

TEXT_FIELD = Form(max_length=4000)      # the domain refuses more than 2,000 characters with its own reason
SHORT_FIELD = Form(max_length=200)
TABLE_ROWS = 100                        # standings per page of the candidates table (the export holds them all)


class Done(str, Enum):
    """What the redirect after a change tells the page to confirm."""

    TERMS = "terms"
    APPLY = "apply"
    CHECK = "check"
    CONFIRM = "confirm"
    WITHDRAW = "withdraw"


def _when(at: str | None) -> str:
    """A stored UTC time in the city's zone, to the minute."""
    if not at:
        return ""
    return datetime.fromisoformat(at).astimezone(check_timezone(DEFAULT_TIMEZONE)).strftime("%Y-%m-%d %H:%M")


def _unit_name(lang: str) -> Callable[[Any], str]:
    def name(item: Any) -> str:
        english: str | None = item.name_en
        chinese: str | None = item.name
        return (english if lang == "en" and english else chinese) or item.unit_id
    return name


def _title_status(t: Callable[..., str], standing: Standing) -> str:
    if standing.title is not None:
        return t("round.title_awarded", year=standing.title.year)
    held = standing.held
    if held is not None and held.withdrawn_in is not None:
        return t("round.title_withdrawn", year=held.year, in_year=held.withdrawn_in)
    if held is not None:
        return t("round.title_held", year=held.year)
    return t("round.none")


def _export(request: Request, viewer: Viewer, board: Candidates, rows: list[Standing], scope: str) -> Response:
    t = translator(lang_for(request))
    name = _unit_name(lang_for(request).value)
    columns = [t("round.rank"), "unit_id", t("round.unit"), t("base.rated"), t("base.good_rate"), "low", "high",
               t("round.standing"), t("round.applied"), t("round.checks"), t("round.integrity"), t("round.overdue"),
               t("round.title_status")]
    table = [[s.rank, s.unit_id, name(s), s.rated, s.good_rate, s.interval.low if s.interval else None,
              s.interval.high if s.interval else None, t(f"round.eligibility_{s.eligibility.value}"),
              _when(s.application.applied_at) if s.application else "", t(f"round.acceptance_{s.acceptance.value}"),
              t(f"round.gate_{s.integrity.value}"), t(f"round.gate_{s.overdue_cases.value}"), _title_status(t, s)]
             for s in rows]
    return exports.xlsx(request, viewer, exports.file_name("round", scope, str(board.round.year)), columns, table)


@router.get("/round", response_class=HTMLResponse)
def round_page(request: Request, viewer: SignedIn) -> Response:
    today = city_today()
    year = roundcalendar.parse_year(request.query_params.get("year"), today)
    xlsx = exports.wanted(request)
    engine = engine_of(request)
    figures = modelround.year_figures(engine, year, settings_of(request).min_ratings)
    with engine.connect() as conn:
        board = modelround.candidates(conn, year, figures)
        seen = viewer.unit_ids(conn)
        scope = figures_scope(conn, viewer).label
        titles = roundtitles.titles_by_year(conn, year)
        withdrawn = roundtitles.withdrawn(conn, year)
    rows = board.within(seen)
    if xlsx:
        return _export(request, viewer, board, rows, scope)
    t = translator(lang_for(request))
    open_round = not board.round.confirmed
    mine = next((s for s in rows if s.unit_id == viewer.scope_id), None) if viewer.role is Role.UNIT else None
    done = request.query_params.get("done")
    shown, paging = _table(request, viewer, rows)
    return render(request, "round.html", {
        "year": year, "today": today, "figures_to": min(date.fromisoformat(board.date_to), today),
        "board": board, "rows": shown, "paging": paging, "pinned": len(shown) - (paging.last - paging.start),
        "mine": mine,
        "timeline": roundcalendar.timeline(year, today), "phase_today": roundcalendar.phase_of(today),
        "titles": titles, "withdrawn": withdrawn, "shortfalls": [s for s in board.shortfalls if s in rows],
        "methods": list(modelround.Method), "results": list(modelround.Result),
        "may_change": viewer.may_change, "open_round": open_round,
        "may_apply_for": _may_apply_for(viewer, shown) if open_round else [],
        "applicants": [s for s in board.standings if s.application] if viewer.may_change and open_round else [],
        "scope_label": None if viewer.sees_city else scope,
        "done": done if done in {d.value for d in Done} else None,
        "when": _when, "unit_name": _unit_name(lang_for(request).value),
        "title_status": lambda s: _title_status(t, s),
        "first_year": roundcalendar.FIRST_YEAR, "last_year": today.year + 1,
        "held_year": year - 1, "previous_year": year - 1 if year > roundcalendar.FIRST_YEAR else None,
        "next_year": year + 1 if year <= today.year else None,
    })


def _in_the_round(standing: Standing, viewer: Viewer) -> bool:
    """A unit followed whatever its rank: applied, checked, chosen, awarded, holding last year's title, or the
    viewer's own."""
    return bool(standing.application or standing.checks or standing.chosen or standing.title or standing.held
                or standing.unit_id == viewer.scope_id)


def _table(request: Request, viewer: Viewer, rows: list[Standing]) -> tuple[list[Standing], Paging]:
    """The candidates table: a page of the standings in their order (a city's thousand would make a page of
    700 KiB), and on every page, in their place, the units in the round (_in_the_round)."""
    page, paging = paged(request, rows, TABLE_ROWS)
    end = paging.start + len(page)
    return [s for index, s in enumerate(rows) if paging.start <= index < end or _in_the_round(s, viewer)], paging


def _may_apply_for(viewer: Viewer, shown: list[Standing]) -> list[Standing]:
    """The registered units shown that this viewer may apply for and that have not applied (the office picks one
    from the page of the table it sees)."""
    if viewer.role is Role.CITY:
        return [s for s in shown if s.application is None and s.name is not None]
    if viewer.role is Role.UNIT:
        return [s for s in shown if s.unit_id == viewer.scope_id and s.application is None]
    return []


# -- changes ----------------------------------------------------------------------------


def _year(text: str) -> int:
    """A change names its round; unlike the page, it has no default year."""
    if not text.strip():
        raise BadInput("year: required")
    return roundcalendar.parse_year(text.strip(), city_today())


def _back(year: int, done: Done) -> RedirectResponse:
    return RedirectResponse(f"{PREFIX}/round?year={year}&done={done.value}", status_code=303)


def _record(conn: Connection, request: Request, viewer: Viewer, year: int, **detail: Any) -> None:
    audit.record(conn, audit.Action.ROUND_CHANGED, f"round {year}", actor=viewer.name, role=viewer.role.value,
                 detail=detail, address=request.client.host if request.client else None)


@router.post("/round/terms")
def change_terms(request: Request, viewer: Changing, year: Annotated[str, SHORT_FIELD],
                 target_percent: Annotated[str, SHORT_FIELD], titles: Annotated[str, SHORT_FIELD]) -> Response:
    viewer.require_change()
    chosen = _year(year)
    percent, count = _whole("target_percent", target_percent), _whole("titles", titles)
    with engine_of(request).begin() as conn:
        before, after = modelround.set_terms(conn, chosen, percent, count)
        _record(conn, request, viewer, chosen, what="terms", before=[str(before.target), before.titles],
                after=[str(after.target), after.titles])
    return _back(chosen, Done.TERMS)


def _whole(what: str, text: str) -> int:
    if not (text.strip().isascii() and text.strip().isdigit()):
        raise BadInput(f"{what}: a whole number, got {text[:20]!r}")
    return int(text)


@router.post("/round/apply")
def apply(request: Request, viewer: Changing, year: Annotated[str, SHORT_FIELD], unit: Annotated[str, SHORT_FIELD],
          note: Annotated[str, TEXT_FIELD] = "") -> Response:
    if viewer.role is Role.UNIT and unit != viewer.scope_id:    # the same 403 whether or not that unit exists
        raise Forbidden(f"{viewer.name} may apply for its own unit {viewer.scope_id} only, not {unit[:80]!r}")
    if viewer.role is not Role.UNIT and not viewer.may_change:
        raise Forbidden(f"{viewer.name} ({viewer.role.value}) may not apply for a unit")
    chosen = _year(year)
    with engine_of(request).begin() as conn:
        application = modelround.apply(conn, chosen, unit, viewer.name, note)
        _record(conn, request, viewer, chosen, what="apply", unit=unit, note=application.note)
    return _back(chosen, Done.APPLY)


@router.post("/round/check")
def record_check(request: Request, viewer: Changing, year: Annotated[str, SHORT_FIELD],
                 unit: Annotated[str, SHORT_FIELD], method: Annotated[str, SHORT_FIELD],
                 result: Annotated[str, SHORT_FIELD], notes: Annotated[str, TEXT_FIELD] = "") -> Response:
    viewer.require_change()
    chosen = _year(year)
    with engine_of(request).begin() as conn:
        check = modelround.record_check(conn, chosen, unit, method, result, notes, viewer.name)
        _record(conn, request, viewer, chosen, what="check", unit=unit, method=check.method.value,
                result=check.result.value, notes=check.notes)
    return _back(chosen, Done.CHECK)


@router.post("/round/confirm")
def confirm(request: Request, viewer: Changing, year: Annotated[str, SHORT_FIELD]) -> Response:
    viewer.require_change()
    chosen = _year(year)
    engine = engine_of(request)
    figures = modelround.year_figures(engine, chosen, settings_of(request).min_ratings)
    with engine.begin() as conn:
        awarded = modelround.confirm(conn, chosen, figures, viewer.name)
        _record(conn, request, viewer, chosen, what="confirm", awarded=[title.unit_id for title in awarded])
    return _back(chosen, Done.CONFIRM)


@router.post("/round/withdraw")
def withdraw(request: Request, viewer: Changing, year: Annotated[str, SHORT_FIELD],
             unit: Annotated[str, SHORT_FIELD], reason: Annotated[str, TEXT_FIELD] = "") -> Response:
    viewer.require_change()
    chosen = _year(year)
    engine = engine_of(request)
    figures = modelround.year_figures(engine, chosen, settings_of(request).min_ratings)
    with engine.begin() as conn:
        title = modelround.withdraw(conn, chosen, unit, reason, figures, viewer.name)
        _record(conn, request, viewer, chosen, what="withdraw", unit=unit, title_year=title.year,
                reason=title.withdrawal_reason)
    return _back(chosen, Done.WITHDRAW)
