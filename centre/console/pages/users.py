"""Users: the city office's page of console accounts — list them, add one, and per account change its role
and scope, set a new password, disable or enable it. The city office only (others get a 403).

Every change is in the audit log with the city office that made it, and ends the changed account's open
sessions (a new role must not ride on an old session). A city office may neither demote nor disable itself:
the one acting is an active city office, so refusing that keeps the city at least one that can act.
Setting one's own password ends one's own session too: the next page asks for the new password.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Connection, select

from centre.console import accounts, audit, sessions
from centre.console.accounts import Account
from centre.console.pages.audit_page import city_time
from centre.console.roles import Role, Viewer
from centre.console.texts import translator
from centre.console.web import PREFIX, Changing, SignedIn, engine_of, lang_for, now, render, router, settings_of
from centre.db.tables import districts, units
from centre.errors import BadInput, Forbidden, NotFound
from contract import iso_utc

# The scope select holds districts and units; a prefix tells them apart (a unit's id may be all digits).
SCOPE_KINDS = {Role.DISTRICT: "district", Role.UNIT: "unit"}
Text = Annotated[str, Form(max_length=256)]


class AccountState(str, Enum):
    ACTIVE = "active"
    LOCKED = "locked"        # too many wrong passwords: until locked_until
    DISABLED = "disabled"


class Done(str, Enum):
    """What the page says after a change (the ?done= of the redirect)."""

    ADDED = "added"
    ROLE = "role"
    PASSWORD = "password"
    DISABLED = "disabled"
    ENABLED = "enabled"


@dataclass(frozen=True)
class Place:
    value: str          # "district:3", "unit:dc-hrss"
    label: str


@dataclass(frozen=True)
class PlaceGroup:
    label: str
    places: list[Place]


@dataclass(frozen=True)
class Places:
    """The registry's districts and units, named in the viewer's language, for the scope select and column."""

    groups: list[PlaceGroup]
    labels: dict[str, str]      # Place.value → label

    def label_of(self, account: Account) -> str:
        if account.scope_id is None:
            return ""
        value = f"{SCOPE_KINDS[account.role]}:{account.scope_id}"
        return self.labels.get(value, account.scope_id)   # a unit the registry lost still shows its id


@dataclass(frozen=True)
class Row:
    account: Account
    scope_label: str
    state: AccountState
    locked_until: str       # in the city's time, when locked
    created: str            # in the city's time


def _places(conn: Connection, t: Callable[..., str], english: bool) -> Places:
    def named(name: str, name_en: str | None) -> str:
        return (name_en or name) if english else name

    district_names = {row.id: named(row.name, row.name_en)
                      for row in conn.execute(select(districts).order_by(districts.c.id))}
    groups = [PlaceGroup(t("users.group_districts"),
                         [Place(f"district:{id_}", name) for id_, name in district_names.items()])]
    by_district: dict[int | None, list[Place]] = {}
    # The units alone (the registry's listing reads each one's counters too: a city's five thousand).
    for unit in conn.execute(select(units.c.id, units.c.name, units.c.name_en, units.c.district_id)
                             .order_by(units.c.id)).all():
        by_district.setdefault(unit.district_id, []).append(
            Place(f"unit:{unit.id}", f"{named(unit.name, unit.name_en)} ({unit.id})"))
    for district_id, places in sorted(by_district.items(), key=lambda item: (item[0] is None, item[0] or 0)):
        where = district_names.get(district_id) if district_id is not None else None
        groups.append(PlaceGroup(t("users.group_units", district=where or t("users.no_district")), places))
    return Places(groups, {place.value: place.label for group in groups for place in group.places})


def _row(account: Account, places: Places, moment: str) -> Row:
    locked = account.locked_until is not None and account.locked_until > moment
    state = AccountState.DISABLED if account.disabled else (AccountState.LOCKED if locked else AccountState.ACTIVE)
    return Row(account, places.label_of(account), state, city_time(account.locked_until)[:16] if locked else "",
               city_time(account.created_at)[:16])


def _scope_id(t: Callable[..., str], role: Role, chosen: str) -> str | None:
    """The scope id accounts.check_scope wants, from the select's "kind:id"; the wrong kind is refused."""
    if not role.needs_scope:
        if chosen:
            raise BadInput(t("users.scope_not_taken", role=t(f"base.role_{role.value}")))
        return None
    kind, _, ident = chosen.partition(":")
    if kind != SCOPE_KINDS[role] or not ident:
        raise BadInput(t(f"users.scope_needs_{SCOPE_KINDS[role]}"))
    return ident


def _require_office(viewer: Viewer) -> None:
    if not viewer.may_change:
        raise Forbidden(f"{viewer.name} ({viewer.role.value}): only the city office manages console accounts")


def _record(conn: Connection, request: Request, viewer: Viewer, action: audit.Action, target: str,
            **detail: Any) -> None:
    audit.record(conn, action, target, actor=viewer.name, role=viewer.role.value, detail=detail,
                 address=request.client.host if request.client else None)


def _page(request: Request, viewer: Viewer, account_name: str | None, *, message: str | None = None,
          form: dict[str, str] | None = None, status: int = 200) -> Response:
    """The list (account_name None) or one account's page, with a refusal's reason and the form as sent."""
    lang = lang_for(request)
    t = translator(lang)
    moment = iso_utc(now())
    with engine_of(request).connect() as conn:
        places = _places(conn, t, english=lang.value == "en")
        if account_name is None:
            rows = [_row(account, places, moment) for account in accounts.listing(conn)]
        else:
            rows = [_row(accounts.get(conn, account_name), places, moment)]
    done = request.query_params.get("done")
    notice = t(f"users.done_{done}", name=request.query_params.get("who", "")) \
        if done in {d.value for d in Done} and message is None else None
    return render(request, "users.html", {
        "rows": rows, "account": rows[0] if account_name is not None else None, "places": places,
        "roles": [role.value for role in Role], "message": message, "notice": notice, "form": form or {},
        "min_password": settings_of(request).min_password_chars,
        "is_self": account_name == viewer.name,
    }, status=status)


def _done(done: Done, name: str, on_account: bool) -> Response:
    where = f"{PREFIX}/users/{name}" if on_account else f"{PREFIX}/users"
    return RedirectResponse(f"{where}?{urlencode({'done': done.value, 'who': name})}", status_code=303)


def _check_new_password(t: Callable[..., str], request: Request, password: str, again: str) -> None:
    if password != again:
        raise BadInput(t("users.passwords_differ"))
    shortest = settings_of(request).min_password_chars
    if len(password) < shortest:
        raise BadInput(t("users.password_short", n=shortest))


@router.get("/users")
def users_page(request: Request, viewer: SignedIn) -> Response:
    _require_office(viewer)
    return _page(request, viewer, None)


@router.post("/users")
def add_user(request: Request, viewer: Changing, name: Text = "", role: Text = "", scope: Text = "",
             password: Text = "", again: Text = "") -> Response:
    _require_office(viewer)
    t = translator(lang_for(request))
    try:
        if not accounts.NAME.match(name):
            raise BadInput(t("users.name_bad"))
        chosen = accounts.parse_role(role)
        _check_new_password(t, request, password, again)
        with engine_of(request).begin() as conn:
            account = accounts.add(conn, name, chosen.value, _scope_id(t, chosen, scope), password,
                                   settings_of(request))
            _record(conn, request, viewer, audit.Action.USER_ADDED, account.name, role=account.role.value,
                    scope=account.scope_id)
    except (BadInput, NotFound) as refused:
        return _page(request, viewer, None, message=refused.message, status=BadInput.status,
                     form={"name": name, "role": role, "scope": scope})
    return _done(Done.ADDED, account.name, on_account=False)


@router.get("/users/{name}")
def user_page(request: Request, viewer: SignedIn, name: str) -> Response:
    _require_office(viewer)
    return _page(request, viewer, name)


def _change(request: Request, viewer: Viewer, name: str, change: Callable[[Connection, Account], Done],
            form: dict[str, str] | None = None) -> Response:
    """Apply one change to an existing account (404 if none), its sessions ended; a refusal re-shows the page."""
    _require_office(viewer)
    with engine_of(request).connect() as conn:
        accounts.get(conn, name)
    try:
        with engine_of(request).begin() as conn:
            done = change(conn, accounts.get(conn, name))
    except (BadInput, NotFound) as refused:
        return _page(request, viewer, name, message=refused.message, status=BadInput.status, form=form)
    return _done(done, name, on_account=True)


@router.post("/users/{name}/role")
def change_role(request: Request, viewer: Changing, name: str, role: Text = "", scope: Text = "") -> Response:
    t = translator(lang_for(request))

    def apply(conn: Connection, account: Account) -> Done:
        chosen = accounts.parse_role(role)
        if account.id == viewer.user_id and chosen is not Role.CITY:
            raise BadInput(t("users.not_self_demote"))
        before, after = accounts.change_role(conn, name, chosen.value, _scope_id(t, chosen, scope))
        sessions.end_all(conn, after.id, now())
        _record(conn, request, viewer, audit.Action.ROLE_CHANGED, after.name,
                before=[before.role.value, before.scope_id], after=[after.role.value, after.scope_id])
        return Done.ROLE

    return _change(request, viewer, name, apply, form={"role": role, "scope": scope})


@router.post("/users/{name}/password")
def set_password(request: Request, viewer: Changing, name: str, password: Text = "", again: Text = "") -> Response:
    t = translator(lang_for(request))

    def apply(conn: Connection, account: Account) -> Done:
        _check_new_password(t, request, password, again)
        accounts.set_password(conn, name, password, settings_of(request))
        sessions.end_all(conn, account.id, now())
        _record(conn, request, viewer, audit.Action.PASSWORD_SET, account.name)
        return Done.PASSWORD

    return _change(request, viewer, name, apply)


@router.post("/users/{name}/state")
def set_state(request: Request, viewer: Changing, name: str, state: Text = "") -> Response:
    t = translator(lang_for(request))

    def apply(conn: Connection, account: Account) -> Done:
        if state not in (AccountState.ACTIVE.value, AccountState.DISABLED.value):
            raise BadInput(f"state: {AccountState.ACTIVE.value} or {AccountState.DISABLED.value}, got {state!r}")
        disabling = state == AccountState.DISABLED.value
        if disabling and account.id == viewer.user_id:
            raise BadInput(t("users.not_self_disable"))
        changed = accounts.set_disabled(conn, name, disabling)
        if disabling:
            sessions.end_all(conn, changed.id, now())
        _record(conn, request, viewer, audit.Action.USER_DISABLED if disabling else audit.Action.USER_ENABLED,
                changed.name)
        return Done.DISABLED if disabling else Done.ENABLED

    return _change(request, viewer, name, apply)
