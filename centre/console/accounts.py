"""Console accounts: add, change role, set password, disable; and the login check with its lockout.

Only an argon2id hash of a password is kept (argon2-cffi's defaults). Five wrong passwords in a row lock
the account for 15 minutes (ConsoleSettings); while locked, even the right password is refused, so that
a guesser learns nothing from the answer. An unknown name costs the same hash as a known one, for the same
reason. Every change is in the audit log (the caller records it: it knows who asked and from where).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from functools import cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, select, update

from centre.console.roles import Role
from centre.console.settings import DEFAULT_SETTINGS, ConsoleSettings
from centre.db.rows import now_text
from centre.db.tables import console_users, districts, units
from centre.errors import BadInput, NotFound
from contract import iso_utc

NAME = re.compile(r"^[A-Za-z0-9_.@-]{2,64}\Z")   # \Z, not $: "office\n" is not "office"
_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """Verified against when the name is unknown, so a wrong name takes as long as a wrong password. Made at
    the first login, not at import: every `evaluator centre` command imports this module."""
    return _hasher.hash("not a password of anyone's")


class LoginOutcome(str, Enum):
    OK = "ok"
    WRONG = "wrong"            # unknown name or wrong password: one answer for both
    LOCKED = "locked"
    DISABLED = "disabled"


@dataclass(frozen=True)
class Account:
    id: int
    name: str
    role: Role
    scope_id: str | None
    disabled: bool
    locked_until: str | None
    created_at: str

    @classmethod
    def of(cls, row: Any) -> Account:
        return cls(id=row.id, name=row.name, role=Role(row.role), scope_id=row.scope_id,
                   disabled=bool(row.disabled), locked_until=row.locked_until, created_at=row.created_at)


@dataclass(frozen=True)
class LoginResult:
    outcome: LoginOutcome
    account: Account | None
    locked_until: str | None = None


def check_password(password: str, settings: ConsoleSettings = DEFAULT_SETTINGS) -> None:
    if len(password) < settings.min_password_chars:
        raise BadInput(f"password: at least {settings.min_password_chars} characters, got {len(password)}")


def check_scope(conn: Connection, role: Role, scope_id: str | None) -> str | None:
    """The scope a role needs: a district id for a district office, a unit id for a unit manager; none else."""
    if not role.needs_scope:
        if scope_id:
            raise BadInput(f"scope: a {role.value} account sees the whole city and takes no scope")
        return None
    if not scope_id:
        raise BadInput(f"scope: a {role.value} account needs its {role.value} id (--scope)")
    if role is Role.DISTRICT:
        # a district by its id or its name, as `evaluator centre unit list` shows both
        # (a digit string too long for an integer column is no id: the database would overflow, not answer)
        where = districts.c.id == int(scope_id) if scope_id.isdigit() and len(scope_id) < 10 \
            else districts.c.name == scope_id
        found = conn.execute(select(districts.c.id).where(where)).first()
        if found is None:
            raise NotFound(f"scope: no district {scope_id!r} in the registry")
        return str(found.id)
    if conn.execute(select(units.c.id).where(units.c.id == scope_id)).first() is None:
        raise NotFound(f"scope: no unit {scope_id!r} in the registry")
    return scope_id


def add(conn: Connection, name: str, role: str, scope_id: str | None, password: str,
        settings: ConsoleSettings = DEFAULT_SETTINGS) -> Account:
    if not NAME.match(name):
        raise BadInput(f"name: 2–64 letters, digits or _ . @ -, got {name!r}")
    chosen = parse_role(role)
    check_password(password, settings)
    scope = check_scope(conn, chosen, scope_id)
    if conn.execute(select(console_users.c.id).where(console_users.c.name == name)).first() is not None:
        raise BadInput(f"name: an account {name!r} exists already")
    conn.execute(console_users.insert().values(
        name=name, role=chosen.value, scope_id=scope, password_hash=_hasher.hash(password), failed_logins=0,
        locked_until=None, disabled=False, created_at=now_text()))
    return get(conn, name)


def parse_role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise BadInput(f"role: one of {', '.join(r.value for r in Role)}, got {role!r}") from None


def get(conn: Connection, name: str) -> Account:
    row = conn.execute(select(console_users).where(console_users.c.name == name)).first()
    if row is None:
        raise NotFound(f"no console account {name!r}")
    return Account.of(row)


def listing(conn: Connection) -> list[Account]:
    return [Account.of(row) for row in conn.execute(select(console_users).order_by(console_users.c.name))]


def change_role(conn: Connection, name: str, role: str, scope_id: str | None) -> tuple[Account, Account]:
    """(before, after): the caller ends the account's sessions and records the change."""
    before = get(conn, name)
    chosen = parse_role(role)
    scope = check_scope(conn, chosen, scope_id)
    conn.execute(update(console_users).where(console_users.c.id == before.id)
                 .values(role=chosen.value, scope_id=scope))
    return before, get(conn, name)


def set_password(conn: Connection, name: str, password: str, settings: ConsoleSettings = DEFAULT_SETTINGS) -> Account:
    account = get(conn, name)
    check_password(password, settings)
    conn.execute(update(console_users).where(console_users.c.id == account.id)
                 .values(password_hash=_hasher.hash(password), failed_logins=0, locked_until=None))
    return get(conn, name)


def set_disabled(conn: Connection, name: str, disabled: bool) -> Account:
    account = get(conn, name)
    conn.execute(update(console_users).where(console_users.c.id == account.id).values(disabled=disabled))
    return get(conn, name)


def login(conn: Connection, name: str, password: str, now: datetime,
          settings: ConsoleSettings = DEFAULT_SETTINGS) -> LoginResult:
    """Check a name and password, counting wrong ones; the caller opens the session and audits the outcome."""
    row = conn.execute(select(console_users).where(console_users.c.name == name).with_for_update()).first()
    if row is None:
        _verify(_dummy_hash(), password)
        return LoginResult(LoginOutcome.WRONG, None)
    account = Account.of(row)
    if row.locked_until is not None and row.locked_until > iso_utc(now):
        return LoginResult(LoginOutcome.LOCKED, account, row.locked_until)
    if not _verify(row.password_hash, password):
        failures = (0 if row.locked_until is not None else row.failed_logins) + 1   # a lock that ran out: anew
        locked = failures >= settings.lock_after_failures
        until = iso_utc(now + timedelta(minutes=settings.lock_minutes)) if locked else None
        conn.execute(update(console_users).where(console_users.c.id == row.id).values(
            failed_logins=0 if locked else failures, locked_until=until))
        if locked:
            return LoginResult(LoginOutcome.LOCKED, account, until)
        return LoginResult(LoginOutcome.WRONG, account)
    if row.disabled:
        return LoginResult(LoginOutcome.DISABLED, account)
    conn.execute(update(console_users).where(console_users.c.id == row.id).values(failed_logins=0, locked_until=None))
    return LoginResult(LoginOutcome.OK, account)


def _verify(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False
