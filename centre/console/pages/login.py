"""Log in and out. The login form carries its own CSRF token (a cookie and a field that must match: there is
no session yet to hold one), so another site cannot log a browser into an account of its choosing."""
from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import RedirectResponse, Response

from centre.console import accounts, audit, sessions
from centre.console.accounts import LoginOutcome
from centre.console.texts import translator
from centre.console.web import (
    LOGIN_CSRF_COOKIE,
    PREFIX,
    Changing,
    engine_of,
    lang_for,
    now,
    render,
    router,
    settings_of,
)
from centre.errors import Forbidden


def _safe_next(target: str | None) -> str:
    """Only a console path of this centre (never another site: an open redirect would help phishing)."""
    if target and target.startswith(f"{PREFIX}/") and not target.startswith("//") and "\\" not in target:
        return target
    return f"{PREFIX}/"


def _login_page(request: Request, message: str | None = None, status: int = 200) -> Response:
    token = secrets.token_urlsafe(24)
    response = render(request, "login.html", {"message": message, "login_csrf": token,
                                              "next": _safe_next(request.query_params.get("next"))}, status=status)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", path=PREFIX,
                        secure=request.url.scheme == "https")
    return response


@router.get("/login")
def login_form(request: Request) -> Response:
    return _login_page(request)


@router.post("/login")
def login(request: Request, name: Annotated[str, Form(max_length=64)], password: Annotated[str, Form(max_length=256)],
          csrf: Annotated[str, Form(max_length=64)] = "", next: Annotated[str, Form(max_length=512)] = "") -> Response:
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not csrf or not cookie or not secrets.compare_digest(csrf, cookie):
        raise Forbidden("the login form's CSRF token is missing or wrong: reload the page and try again")
    address = request.client.host if request.client else None
    settings = settings_of(request)
    t = translator(lang_for(request))
    with engine_of(request).begin() as conn:
        result = accounts.login(conn, name, password, now(), settings)
        account = result.account
        action = {LoginOutcome.OK: audit.Action.LOGIN, LoginOutcome.WRONG: audit.Action.LOGIN_WRONG,
                  LoginOutcome.LOCKED: audit.Action.LOGIN_LOCKED,
                  LoginOutcome.DISABLED: audit.Action.LOGIN_DISABLED}[result.outcome]
        audit.record(conn, action, name, actor=account.name if account else None,
                     role=account.role.value if account else None, address=address)
        token = sessions.open_session(conn, account.id, now(), settings) \
            if result.outcome is LoginOutcome.OK and account else None
    if token is None:
        message = {LoginOutcome.WRONG: t("login.wrong"), LoginOutcome.DISABLED: t("login.disabled"),
                   LoginOutcome.LOCKED: t("login.locked", until=(result.locked_until or "")[:16].replace("T", " ")
                                          + " UTC")}[result.outcome]
        return _login_page(request, message, status=401 if result.outcome is LoginOutcome.WRONG else 403)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(sessions.COOKIE, token, httponly=True, samesite="strict", path=PREFIX,
                        secure=request.url.scheme == "https", max_age=int(settings.session_hours * 3600))
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=PREFIX)
    return response


@router.post("/logout")
def logout(request: Request, viewer: Changing) -> Response:
    with engine_of(request).begin() as conn:
        sessions.end(conn, request.cookies.get(sessions.COOKIE, ""), now())
        audit.record(conn, audit.Action.LOGOUT, viewer.name, actor=viewer.name, role=viewer.role.value,
                     address=request.client.host if request.client else None)
    response = RedirectResponse(f"{PREFIX}/login", status_code=303)
    response.delete_cookie(sessions.COOKIE, path=PREFIX)
    return response
