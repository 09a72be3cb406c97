"""Fleet and Integrity: every device of the viewer's reach with its state (offline and lagging first), a
device's own page, today's per-device chain report, and the overview's coverage fragment (`/console/coverage`,
loaded by htmx into its #coverage section). The figures are centre/fleet.py's; this module only asks, words
and draws."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import Response

from centre import coverage, fleet
from centre.console import exports
from centre.console.pages import integrity_flags
from centre.console.paging import paged
from centre.console.roles import Viewer, figures_scope
from centre.console.texts import translator
from centre.console.web import SignedIn, city_today, engine_of, lang_for, now, render, router
from centre.enroll import DEFAULT_TIMEZONE, check_timezone
from centre.errors import BadInput, Forbidden, NotFound
from centre.fleet import DeviceState, DeviceStatus, FleetSettings

STATE_COLOURS = {DeviceState.OFFLINE: "#c62828", DeviceState.LAGGING: "#ef6c00", DeviceState.NEVER_SEEN: "#90a4ae",
                 DeviceState.ONLINE: "#2e7d32", DeviceState.REVOKED: "#455a64"}
STATE_BADGES = {DeviceState.OFFLINE: "bad", DeviceState.LAGGING: "warn", DeviceState.NEVER_SEEN: "",
                DeviceState.ONLINE: "good", DeviceState.REVOKED: ""}
SILENT_SHOWN = 20          # the coverage fragment names this many silent devices, then says how many more
BREAKS_SHOWN = 10          # chain breaks listed by seq in a cell; more are counted


def settings(request: Request) -> FleetSettings:
    found: FleetSettings = getattr(request.app.state, "fleet_settings", fleet.DEFAULT_SETTINGS)
    return found


def when(moment: datetime | None, zone: ZoneInfo | None = None) -> str:
    """A time as the unit's (or the city's) local clock reads it, to the minute."""
    if moment is None:
        return "—"
    return moment.astimezone(zone or check_timezone(DEFAULT_TIMEZONE)).strftime("%Y-%m-%d %H:%M")


def span(t: Callable[..., str]) -> Callable[[timedelta | None], str]:
    """How long, in the largest whole unit that fits (minutes, hours, days)."""
    def text(length: timedelta | None) -> str:
        if length is None:
            return "—"
        minutes = max(0, int(length.total_seconds() // 60))
        if minutes < 1:
            return t("fleet.under_a_minute")
        if minutes < 120:
            return t("fleet.minutes", n=minutes)
        if minutes < 48 * 60:
            return t("fleet.hours", n=minutes // 60)
        return t("fleet.days", n=minutes // (24 * 60))
    return text


def gaps_text(gaps: list[tuple[int, int]]) -> str:
    return ", ".join(f"{first}" if first == last else f"{first}–{last}" for first, last in gaps)


def breaks_text(breaks: list[int]) -> str:
    shown = ", ".join(str(seq) for seq in breaks[:BREAKS_SHOWN])
    return shown + (f" … (+{len(breaks) - BREAKS_SHOWN})" if len(breaks) > BREAKS_SHOWN else "")


def state_chart(counts: dict[DeviceState, int], t: Callable[..., str]) -> dict[str, Any]:
    """The devices by state as a ring, each state in its own colour (a state with none is left out)."""
    return {
        "animation": False,
        "tooltip": {"trigger": "item", "formatter": "{b}: {c} ({d}%)"},
        "series": [{"type": "pie", "radius": ["40%", "70%"], "label": {"formatter": "{b}\n{c}"},
                    "data": [{"name": t(f"fleet.state_{state.value}"), "value": n,
                              "itemStyle": {"color": STATE_COLOURS[state]}}
                             for state, n in counts.items() if n]}],
    }


def _scope_label(request: Request, viewer: Viewer) -> tuple[tuple[str, ...] | None, str | None]:
    with engine_of(request).connect() as conn:
        scope = figures_scope(conn, viewer)
    return scope.unit_ids, None if viewer.sees_city else scope.label


def _state_param(request: Request) -> DeviceState | None:
    raw = request.query_params.get("state")
    if not raw:
        return None
    try:
        return DeviceState(raw)
    except ValueError:
        raise BadInput(f"state: one of {', '.join(s.value for s in DeviceState)}, got {raw!r}") from None


@router.get("/fleet")
def fleet_page(request: Request, viewer: SignedIn) -> Response:
    t = translator(lang_for(request))
    unit_ids, label = _scope_label(request, viewer)
    at, chosen, limits = now(), _state_param(request), settings(request)
    statuses = fleet.fleet(engine_of(request), unit_ids, at, limits)   # each built only when shown
    counts = statuses.by_state()
    listed = statuses.in_state(chosen)
    if exports.wanted(request):
        return _fleet_xlsx(request, viewer, listed, label, at, t)
    shown, paging = paged(request, listed)
    return render(request, "fleet.html", {
        "scope_label": label, "statuses": shown, "paging": paging, "counts": counts, "total": len(statuses),
        "chosen": chosen, "states": list(DeviceState), "badges": STATE_BADGES, "states_chart": state_chart(counts, t),
        "limits": limits, "at": when(at), "when": when, "span": span(t)})


def _fleet_xlsx(request: Request, viewer: Viewer, statuses: Sequence[DeviceStatus], label: str | None, at: datetime,
                t: Callable[..., str]) -> Response:
    lang = lang_for(request).value
    columns = [t(f"fleet.{key}") for key in (
        "state", "device", "unit_id", "unit", "counter_id", "counter", "last_heartbeat", "silent_minutes",
        "queue", "oldest_unsynced", "unsynced_minutes", "clock_offset", "panel", "app_version", "chain",
        "concerns")]

    def minutes(length: timedelta | None) -> int | None:
        return None if length is None else int(length.total_seconds() // 60)

    rows = [[t(f"fleet.state_{s.state.value}"), s.device_id, s.place.unit_id, s.place.unit_label(lang),
             s.place.counter_id, s.place.counter_label(lang), when(s.last_seen, s.place.zone) if s.last_seen else None,
             minutes(s.silent_for), s.beat.queue_depth if s.beat else None,
             when(s.oldest_unsynced, s.place.zone) if s.oldest_unsynced else None, minutes(s.unsynced_for),
             s.beat.clock_offset_s if s.beat else None, t(f"fleet.panel_{s.panel.value}"), s.app_version,
             t("fleet.chain_ok") if s.chain.ok else t("fleet.chain_problem"),
             ", ".join(t(f"fleet.concern_{c.value}") for c in s.concerns)] for s in statuses]
    name = exports.file_name("fleet", label or "city", when(at).replace(" ", "_").replace(":", ""))
    return exports.xlsx(request, viewer, name, columns, rows, sheet="fleet")


@router.get("/fleet/{device_id}")
def device_page(request: Request, viewer: SignedIn, device_id: str) -> Response:
    at = now()
    status = fleet.device(engine_of(request), device_id, at, settings(request))
    if status is None:
        raise NotFound(f"no device {device_id!r} is enrolled")
    with engine_of(request).connect() as conn:
        try:
            viewer.require_unit(conn, status.place.unit_id)
        except Forbidden:
            raise Forbidden(f"{viewer.name} may not see device {device_id!r} (it stands in another unit)") from None
    t = translator(lang_for(request))
    return render(request, "fleet_device.html", {
        "s": status, "badges": STATE_BADGES, "limits": settings(request), "when": when, "span": span(t),
        "gaps_text": gaps_text, "breaks_text": breaks_text})


@router.get("/integrity")
def integrity_page(request: Request, viewer: SignedIn) -> Response:
    t = translator(lang_for(request))
    unit_ids, label = _scope_label(request, viewer)
    at = now()
    report = fleet.chain_report(engine_of(request), unit_ids)
    if exports.wanted(request):
        return _integrity_xlsx(request, viewer, report, label, t)
    shown, paging = paged(request, report)
    return render(request, "integrity.html", {
        "scope_label": label, "report": shown, "paging": paging, "devices": len(report),
        "with_problems": report.problems,
        "at": when(at), "gaps_text": gaps_text, "breaks_text": breaks_text,
        "check_text": lambda ok: _check_text(ok, t), **integrity_flags.section(request, viewer)})


def _integrity_xlsx(request: Request, viewer: Viewer, report: Sequence[fleet.DeviceChain], label: str | None,
                    t: Callable[..., str]) -> Response:
    lang = lang_for(request).value
    columns = [t(f"integrity.{key}") for key in (
        "device", "unit_id", "unit", "counter_id", "counter", "verdict", "ratings_held", "last_seq",
        "heartbeat_last_seq", "gaps", "breaks", "conflicts", "cut_tail", "before_enrollment", "placement_mismatches",
        "device_check")]

    def cells(row: fleet.DeviceChain) -> list[Any]:
        i = row.chain
        return [i.device_id, i.unit_id, row.place.unit_label(lang), i.counter_id, row.place.counter_label(lang),
                t("integrity.ok") if i.ok else t("integrity.problem"), i.ratings_held, i.last_seq,
                i.heartbeat_last_seq, gaps_text(i.gaps), ", ".join(str(seq) for seq in i.chain_breaks), i.conflicts,
                t("integrity.answer_yes") if i.missing_tail else t("integrity.answer_no"), i.before_enrollment,
                i.placement_mismatches, _check_text(i.verify_ok, t)]

    name = exports.file_name("integrity", label or "city", city_today().isoformat())
    return exports.xlsx(request, viewer, name, columns, [cells(row) for row in report], sheet="integrity")


def _check_text(verify_ok: bool | None, t: Callable[..., str]) -> str:
    return t("integrity.not_reported") if verify_ok is None else t("integrity.ok" if verify_ok else "integrity.failed")


@router.get("/coverage")
def coverage_fragment(request: Request, viewer: SignedIn) -> Response:
    """The overview's #coverage section (an HTML fragment, no page frame), loaded by htmx."""
    t = translator(lang_for(request))
    with engine_of(request).connect() as conn:
        scope = figures_scope(conn, viewer)
    found = coverage.coverage(engine_of(request), scope.unit_ids, city_today(), now(), settings(request), SILENT_SHOWN)
    return render(request, "partials/coverage.html", {
        "c": found, "silent": found.silent, "more": found.silent_count - len(found.silent),
        "when": when, "span": span(t), "limits": settings(request)})
