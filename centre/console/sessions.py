"""Console sessions, kept at the centre: a logout, a role change or a disabled account ends them at once.

The cookie carries 32 random bytes; the database keeps only their SHA-256, so a copy of the database opens
no session. Each session has its own CSRF token, which every state-changing request must carry back
(a form field or htmx's header): a page of another site can make the browser send the cookie, never the token.
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import Connection, select, update

from centre.console.roles import Role, Viewer
from centre.console.settings import DEFAULT_SETTINGS, ConsoleSettings
from centre.db.tables import console_sessions, console_users
from contract import iso_utc

COOKIE = "evaluator_console"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(conn: Connection, user_id: int, now: datetime,
                 settings: ConsoleSettings = DEFAULT_SETTINGS) -> str:
    """A new session's cookie token."""
    token = secrets.token_urlsafe(32)
    conn.execute(console_sessions.insert().values(
        token_hash=_digest(token), user_id=user_id, csrf=secrets.token_urlsafe(32), created_at=iso_utc(now),
        expires_at=iso_utc(now + timedelta(hours=settings.session_hours)), ended_at=None))
    return token


def viewer(conn: Connection, token: str | None, now: datetime) -> Viewer | None:
    """The account a cookie token signs in, or None (no such session, ended, expired, account disabled)."""
    if not token or len(token) > 128:
        return None
    row = conn.execute(
        select(console_users.c.id, console_users.c.name, console_users.c.role, console_users.c.scope_id,
               console_users.c.disabled, console_sessions.c.csrf, console_sessions.c.expires_at,
               console_sessions.c.ended_at)
        .join(console_users, console_users.c.id == console_sessions.c.user_id)
        .where(console_sessions.c.token_hash == _digest(token))).first()
    if row is None or row.disabled or row.ended_at is not None or row.expires_at <= iso_utc(now):
        return None
    return Viewer(user_id=row.id, name=row.name, role=Role(row.role), scope_id=row.scope_id, csrf=row.csrf)


def end(conn: Connection, token: str, now: datetime) -> None:
    conn.execute(update(console_sessions).where(console_sessions.c.token_hash == _digest(token),
                                                console_sessions.c.ended_at.is_(None)).values(ended_at=iso_utc(now)))


def end_all(conn: Connection, user_id: int, now: datetime) -> None:
    """Every open session of an account: after a role change, a new password or disabling it."""
    conn.execute(update(console_sessions).where(console_sessions.c.user_id == user_id,
                                                console_sessions.c.ended_at.is_(None)).values(ended_at=iso_utc(now)))
