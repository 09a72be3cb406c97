"""The console's plumbing: the router under /console, its templates, the signed-in viewer, CSRF, the period a
page names, and the error pages (a clear page with the reason, never a stack trace)."""
from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from centre.console import sessions
from centre.console.roles import Viewer
from centre.console.settings import DEFAULT_SETTINGS, ConsoleSettings
from centre.console.texts import LANG_COOKIE, Lang, lang_of, translator
from centre.enroll import DEFAULT_TIMEZONE, check_timezone
from centre.errors import BadInput, CentreError, Forbidden
from centre.indicators import Period, PeriodKind, choose_period

PREFIX = "/console"
HERE = Path(__file__).parent
STATIC = HERE / "static"
VENDOR_FILES = ("htmx.min.js", "echarts.min.js")
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"
LOGIN_CSRF_COOKIE = "console_login_csrf"
log = logging.getLogger("centre.console")

templates = Jinja2Templates(directory=str(HERE / "templates"))
router = APIRouter(prefix=PREFIX, include_in_schema=False)


class LoginRequired(CentreError):
    """No session: pages answer with the login page (htmx requests with a full reload to it)."""

    status = 401


class VendorMissing(CentreError):
    status = 503


def now() -> datetime:
    return datetime.now(UTC)


def engine_of(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def settings_of(request: Request) -> ConsoleSettings:
    return getattr(request.app.state, "console_settings", DEFAULT_SETTINGS)


def lang_for(request: Request) -> Lang:
    return lang_of(request.query_params.get("lang") or request.cookies.get(LANG_COOKIE))


def current_viewer(request: Request) -> Viewer:
    with engine_of(request).begin() as conn:
        found = sessions.viewer(conn, request.cookies.get(sessions.COOKIE), now())
    if found is None:
        raise LoginRequired("log in to see the console")
    request.state.viewer = found
    return found


SignedIn = Annotated[Viewer, Depends(current_viewer)]


async def checked_viewer(request: Request, viewer: SignedIn) -> Viewer:
    """The viewer of a state-changing request, which must carry the session's CSRF token back."""
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        sent = str((await request.form()).get(CSRF_FIELD) or "")
    if not sent or not secrets.compare_digest(sent, viewer.csrf):
        raise Forbidden("the form's CSRF token is missing or wrong: reload the page and try again")
    return viewer


Changing = Annotated[Viewer, Depends(checked_viewer)]


def city_today() -> date:
    return now().astimezone(check_timezone(DEFAULT_TIMEZONE)).date()


def _date_param(request: Request, name: str) -> date | None:
    raw = request.query_params.get(name)
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise BadInput(f"{name}: a date as YYYY-MM-DD, got {raw!r}") from None


def period_param(request: Request) -> Period:
    """The period a page names: ?period=day|week|month|quarter|year[&date=…], or ?from=…&to=… (default: the
    month that holds today in the city's zone)."""
    start, end = _date_param(request, "from"), _date_param(request, "to")
    kind = request.query_params.get("period") or (None if start or end else PeriodKind.MONTH.value)
    period = choose_period(kind, _date_param(request, "date"), start, end, city_today())
    if (period.end - period.start).days > 366 * 5:
        raise BadInput("the period is longer than five years: choose a shorter one")
    return period


PeriodParam = Annotated[Period, Depends(period_param)]


@dataclass(frozen=True)
class Nav:
    key: str
    href: str


def navigation(viewer: Viewer) -> list[Nav]:
    items = [Nav("nav_overview", f"{PREFIX}/"), Nav("nav_drill", f"{PREFIX}/drill"),
             Nav("nav_rankings", f"{PREFIX}/rankings"), Nav("nav_round", f"{PREFIX}/round"),
             Nav("nav_fleet", f"{PREFIX}/fleet"), Nav("nav_integrity", f"{PREFIX}/integrity")]
    if viewer.may_change:
        items.append(Nav("nav_users", f"{PREFIX}/users"))
    if viewer.sees_audit_log:
        items.append(Nav("nav_audit", f"{PREFIX}/audit"))
    return items


def url_with(request: Request, **changes: Any) -> str:
    """This page's URL with some query parameters changed (None drops one). The answer to a POST (a form sent
    back with its error) is not a page one can GET again: its links lead to the page the form was on."""
    path, params = request.url.path, dict(request.query_params)
    if request.method not in ("GET", "HEAD"):
        path, params = _form_page(request)
    for key, value in changes.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = str(value)
    return f"{path}?{urlencode(params)}" if params else path


def _form_page(request: Request) -> tuple[str, dict[str, str]]:
    """The console page a POST came from, by its Referer when that is one of ours, else the overview."""
    referer = urlsplit(request.headers.get("referer", ""))
    same_site = not referer.netloc or referer.netloc == request.url.netloc
    if same_site and (referer.path == PREFIX or referer.path.startswith(PREFIX + "/")):
        return referer.path, dict(parse_qsl(referer.query))
    return PREFIX + "/", {}


def render(request: Request, template: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    """A page in the request's language, with what every page's frame needs."""
    lang = lang_for(request)
    viewer: Viewer | None = getattr(request.state, "viewer", None)
    response = templates.TemplateResponse(request, template, {
        "t": translator(lang), "lang": lang.value, "other_lang": Lang.EN.value if lang is Lang.ZH else Lang.ZH.value,
        "viewer": viewer, "nav": navigation(viewer) if viewer else [], "prefix": PREFIX,
        "url_with": lambda **changes: url_with(request, **changes), "path": request.url.path, **context,
    }, status_code=status)
    if request.query_params.get("lang") in (Lang.ZH.value, Lang.EN.value):
        response.set_cookie(LANG_COOKIE, lang.value, max_age=365 * 86400, samesite="lax", path=PREFIX)
    return response


def error_page(request: Request, status: int, message: str) -> Response:
    if status == LoginRequired.status:
        target = f"{PREFIX}/login?next={quote(str(request.url.path))}"
        if request.headers.get("HX-Request"):
            return Response(status_code=200, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)
    return render(request, "error.html", {"status": status, "message": message}, status=status)


class SecurityHeaders:
    """The console's pages load only what the centre serves (no inline script, no other origin) and are never
    framed by another site; its figures and names are never cached. A plain ASGI middleware that only adds
    headers to the answer's start: it never touches the request's body, which the admission control outside
    it watches for clients that hung up."""

    HEADERS = (
        (b"content-security-policy", b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                                     b"img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; "
                                     b"base-uri 'none'"),
        (b"x-frame-options", b"DENY"),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"same-origin"),
    )

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not path.startswith(PREFIX):
            await self.app(scope, receive, send)
            return
        extra = list(self.HEADERS)
        if not path.startswith(f"{PREFIX}/static"):
            extra.append((b"cache-control", b"no-store"))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []), *(h for h in extra if h[0] not in names)]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def vendor_missing() -> list[str]:
    return [name for name in VENDOR_FILES if not (STATIC / "vendor" / name).is_file()]


def install(app: FastAPI, settings: ConsoleSettings = DEFAULT_SETTINGS) -> None:
    """Mount the console on the centre's app: its pages, its static files, its headers."""
    from centre.console import pages  # the routes register themselves on `router`

    pages.register()
    app.state.console_settings = settings
    app.include_router(router)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=str(STATIC)), name="console-static")
    app.add_middleware(SecurityHeaders)
    missing = vendor_missing()
    if missing:
        log.warning("console: %s missing from %s: run `make frontend` (charts and partial updates are off)",
                    ", ".join(missing), STATIC / "vendor")
