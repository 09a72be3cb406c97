"""Audit log: who did what, when, from where — newest first, fifty a page, filtered by action, and the
filtered log as xlsx (the export is itself an entry). The auditor and the city office only.

Reading the log is not itself audited: it holds no citizen's personal data (a view of a phone number is
logged as that view, never with the number).
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from centre.console import audit, exports
from centre.console.roles import Role, Viewer
from centre.console.texts import catalogue, translator
from centre.console.web import SignedIn, city_today, engine_of, lang_for, render, router, settings_of
from centre.enroll import DEFAULT_TIMEZONE, check_timezone
from centre.errors import BadInput, Forbidden

PAGE_SIZE = 50
ACTION_PARAM, PAGE_PARAM = "action", "page"


def city_time(stored: str | None) -> str:
    """A stored UTC time as the city's wall-clock time, to the second ("2026-07-01 14:03:22")."""
    if not stored:
        return ""
    moment = datetime.fromisoformat(stored).astimezone(check_timezone(DEFAULT_TIMEZONE))
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def role_label(t: Callable[..., str], role: str | None) -> str:
    """An account's role in words; the CLI acts with no role ("—")."""
    return t(f"base.role_{role}") if role in {r.value for r in Role} else (role or "—")


def action_label(t: Callable[..., str], action: str) -> str:
    """An action in words; one a newer page records before its words are written shows as its code."""
    key = f"audit.action_{action}"
    return t(key) if key in catalogue() else action


def detail_text(detail: dict[str, Any]) -> str:
    """`key: value; …`, lists and mappings as compact JSON (a role change's before and after)."""
    return "; ".join(f"{key}: {value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)}"
                     for key, value in detail.items())


@dataclass(frozen=True)
class Line:
    """One entry as the page shows it."""

    at: str
    actor: str
    role: str
    action: str
    action_label: str
    target: str
    detail: str
    address: str


def _chosen_action(request: Request) -> str | None:
    raw = request.query_params.get(ACTION_PARAM) or None
    if raw is not None and raw not in {action.value for action in audit.Action}:
        raise BadInput(f"action: one of {', '.join(a.value for a in audit.Action)}, got {raw!r}")
    return raw


def _chosen_page(request: Request) -> int:
    raw = request.query_params.get(PAGE_PARAM) or "1"
    if not raw.isdigit() or int(raw) < 1:
        raise BadInput(f"page: a page number from 1, got {raw!r}")
    return int(raw)


def _require_reader(viewer: Viewer) -> None:
    if not viewer.sees_audit_log:
        raise Forbidden(f"{viewer.name} ({viewer.role.value}): only the auditor and the city office read the "
                        "audit log")


def _export(request: Request, viewer: Viewer, action: str | None) -> Response:
    t = translator(lang_for(request))
    # One more than an export may hold, so that exports.xlsx refuses an oversized log with the reason.
    with engine_of(request).connect() as conn:
        found, _ = audit.entries(conn, settings_of(request).export_max_rows + 1, 0, action)
    columns = [t("audit.col_at_utc"), t("audit.col_actor"), t("audit.col_role"), t("audit.col_action"),
               t("audit.col_target"), t("audit.col_detail"), t("audit.col_address")]
    rows = [[entry.at, entry.actor or "", entry.role or "", entry.action, entry.target,
             json.dumps(entry.detail, ensure_ascii=False) if entry.detail else "", entry.address or ""]
            for entry in found]
    name = exports.file_name("audit", action or "all", city_today().isoformat())
    return exports.xlsx(request, viewer, name, columns, rows, sheet="audit")


@router.get("/audit")
def audit_log(request: Request, viewer: SignedIn) -> Response:
    _require_reader(viewer)
    action = _chosen_action(request)
    if exports.wanted(request):
        return _export(request, viewer, action)
    number = _chosen_page(request)
    with engine_of(request).connect() as conn:
        found, total = audit.entries(conn, PAGE_SIZE, (number - 1) * PAGE_SIZE, action)
    pages = max(1, -(-total // PAGE_SIZE))
    if number > pages:
        raise BadInput(f"page: this log has {pages} page(s) of {PAGE_SIZE}, not {number}")
    t = translator(lang_for(request))
    lines = [Line(at=city_time(entry.at), actor=entry.actor or "—", role=role_label(t, entry.role),
                  action=entry.action, action_label=action_label(t, entry.action), target=entry.target,
                  detail=detail_text(entry.detail), address=entry.address or "")
             for entry in found]
    return render(request, "audit.html", {
        "lines": lines, "total": total, "page": number, "pages": pages, "chosen": action or "",
        "actions": [(a.value, action_label(t, a.value)) for a in audit.Action], "zone": DEFAULT_TIMEZONE,
    })
