"""The citizen pages' plumbing: the router, the language, the templates, the error pages and the headers.

The pages live at the root of the centre's origin (/q/…, /c, /r, /results, /digests/…: docs/public.md), each
page module in pages/ adding its routes to `router` when imported. Which paths are the citizen's is read off
the router once the pages are registered (`is_public`): the error handlers of centre/api/app.py answer those
with a plain HTML page that gives the status and the reason, never a trace; the security headers go on them.

The pages need no JavaScript at all: the Content-Security-Policy allows no script, and every form is a plain
POST. Language: ?lang= (remembered in a cookie), then the cookie, then the browser's Accept-Language; Chinese
when none says.
"""
from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine
from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from centre import cityconfig
from centre.public import signed, tokens
from centre.public.settings import PublicSettings
from centre.public.texts import LANG_COOKIE, Lang, from_accept_language, lang_of, translator
from contract import DeviceConfig

HERE = Path(__file__).parent
STATIC_PREFIX = "/static/public"
log = logging.getLogger("centre.public")

templates = Jinja2Templates(directory=str(HERE / "templates"))
router = APIRouter(include_in_schema=False)
# The first path segments of the citizen's routes ("q", "c", "results", …), filled by `install`.
_roots: set[str] = set()


def now() -> datetime:
    return datetime.now(UTC)


def engine_of(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def settings_of(request: Request) -> PublicSettings:
    """The city's `public:` settings: the app's city config when `serve` set one, else this process's."""
    city = getattr(request.app.state, "city", None) or cityconfig.current()
    settings: PublicSettings = city.public
    return settings


def lang_for(request: Request) -> Lang:
    return (lang_of(request.query_params.get("lang")) or lang_of(request.cookies.get(LANG_COOKIE))
            or from_accept_language(request.headers.get("accept-language")))


def url_with(request: Request, **changes: Any) -> str:
    """This page's URL with some query parameters changed (None drops one)."""
    params = dict(request.query_params)
    for key, value in changes.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = str(value)
    return f"{request.url.path}?{urlencode(params)}" if params else request.url.path


def render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    """The template `name` in the request's language, with what the frame needs (t, lang, the switch link)."""
    lang = lang_for(request)
    response = templates.TemplateResponse(request, name, {
        "t": translator(lang), "lang": lang.value, "other_lang": Lang.EN.value if lang is Lang.ZH else Lang.ZH.value,
        "url_with": lambda **changes: url_with(request, **changes), "path": request.url.path,
        "static": STATIC_PREFIX, **context,
    }, status_code=status)
    if lang_of(request.query_params.get("lang")) is not None:
        response.set_cookie(LANG_COOKIE, lang.value, max_age=365 * 86400, samesite="lax", path="/")
    return response


def is_public(path: str) -> bool:
    """Whether `path` is one of the citizen's (a page, or the public stylesheet)."""
    if path.startswith(f"{STATIC_PREFIX}/"):
        return True
    first = path.lstrip("/").split("/", 1)[0]
    return bool(first) and first in _roots


def _wants_json(request: Request) -> bool:
    # The published digests are JSON for programs that check receipts: their refusals stay JSON for them.
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def error_page(request: Request, status: int, message: str) -> Response:
    """A refusal on a citizen page: the status, what went wrong in the citizen's language, and the reason."""
    if _wants_json(request):
        return JSONResponse({"detail": message}, status_code=status)
    return render(request, "error.html", {"status": status, "message": message,
                                          "kind": _kind_of(status)}, status=status)


def _kind_of(status: int) -> str:
    """The key of the plain-words explanation of a status (texts/base.yaml error_*)."""
    known = {400: "bad", 403: "forbidden", 404: "not_found", 409: "bad", 410: "expired", 413: "too_large",
             415: "bad", 422: "bad", 429: "too_many"}
    if status in known:
        return known[status]
    return "server" if status >= 500 else "bad"


class SecurityHeaders:
    """The citizen pages load only the centre's stylesheet: no script of any kind, no other origin, never
    framed; their URLs carry tokens, so no Referer leaves them and nothing is cached. A plain ASGI middleware
    that adds headers to the answer's start, and refuses with a page a body larger than a citizen's form can
    be (PublicSettings.max_body_bytes, far under the centre's own limit for batches, which stays outside)."""

    HEADERS = (
        (b"content-security-policy", b"default-src 'none'; script-src 'none'; style-src 'self'; img-src 'self' data:; "
                                     b"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
        (b"x-frame-options", b"DENY"),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
        (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    )

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not is_public(path):
            await self.app(scope, receive, send)
            return
        extra = list(self.HEADERS)
        if not path.startswith(STATIC_PREFIX):
            extra.append((b"cache-control", b"no-store"))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []), *(h for h in extra if h[0] not in names)]
            await send(message)

        request = Request(scope)
        limit = settings_of(request).max_body_bytes
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await _too_large(request, limit)(scope, receive, send_with_headers)
            return
        await self.app(scope, _bounded(receive, limit), send_with_headers)


def _too_large(request: Request, limit: int) -> Response:
    return error_page(request, 413, f"the form is over the limit of {limit:,} bytes")


def _bounded(receive: Receive, limit: int) -> Receive:
    """`receive`, raising a 413 (answered with the error page) once the body passes `limit` bytes."""
    received = 0

    async def receive_within_limit() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise HTTPException(status_code=413, detail=f"the form is over the limit of {limit:,} bytes")
        return message

    return receive_within_limit


def _route_roots(routes: list[BaseRoute]) -> set[str]:
    roots = set()
    for route in routes:
        path = getattr(route, "path", "")
        first = path.lstrip("/").split("/", 1)[0]
        if first and not first.startswith("{"):
            roots.add(first)
    return roots


def install(app: FastAPI) -> None:
    """Mount the citizen pages on the centre's app: their routes, their stylesheet, their headers."""
    from centre.public import pages  # the routes register themselves on `router`

    pages.register()
    _roots.update(_route_roots(router.routes))
    app.include_router(router)
    app.mount(STATIC_PREFIX, StaticFiles(directory=str(HERE / "static")), name="public-static")
    app.add_middleware(SecurityHeaders)


def device_config(request: Request, config: DeviceConfig) -> DeviceConfig:
    """A terminal's config as the centre's device API sends it, with the counter's questionnaire URL and the
    complaint and receipt pages' bases (centre/public/signed.py with_link_bases)."""
    config = tokens.with_questionnaire_url(engine_of(request), config, now(), settings_of(request))
    return signed.with_link_bases(config, settings_of(request))
