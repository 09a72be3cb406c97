"""The audit log: who did what, when, from where. Append-only: this module only inserts and reads.

The console records logins (good, wrong, locked, disabled), logouts, accounts added, their role and password
changes, every export, every view of personal data and every decision of the model-unit round; the
auditor and the city office read it on the Audit page.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from sqlalchemy import Connection, func, select

from centre.db.rows import now_text
from centre.db.tables import audit_log


class Action(str, Enum):
    LOGIN = "login"
    LOGIN_WRONG = "login_wrong"
    LOGIN_LOCKED = "login_locked"
    LOGIN_DISABLED = "login_disabled"
    LOGOUT = "logout"
    USER_ADDED = "user_added"
    ROLE_CHANGED = "role_changed"
    PASSWORD_SET = "password_set"
    USER_DISABLED = "user_disabled"
    USER_ENABLED = "user_enabled"
    EXPORT = "export"
    PERSONAL_DATA_VIEWED = "personal_data_viewed"
    ROUND_CHANGED = "round_changed"       # the model-unit round: settings, applications, checks, confirmation
    INTEGRITY_REVIEWED = "integrity_reviewed"   # an integrity flag dismissed or confirmed (centre/integrity/review.py)


@dataclass(frozen=True)
class Entry:
    id: int
    at: str
    actor: str | None
    role: str | None
    action: str
    target: str
    detail: dict[str, Any]
    address: str | None


def record(conn: Connection, action: Action, target: str, *, actor: str | None, role: str | None,
           detail: dict[str, Any] | None = None, address: str | None = None) -> None:
    conn.execute(audit_log.insert().values(at=now_text(), actor=actor, role=role, action=action.value,
                                           target=target, detail=detail or {}, address=address))


def entries(conn: Connection, limit: int, offset: int = 0, action: str | None = None) -> tuple[list[Entry], int]:
    """A page of the log, newest first, and how many entries the whole (filtered) log holds."""
    query = select(audit_log)
    counted = select(func.count()).select_from(audit_log)
    if action:
        query, counted = query.where(audit_log.c.action == action), counted.where(audit_log.c.action == action)
    rows = conn.execute(query.order_by(audit_log.c.id.desc()).limit(limit).offset(offset))
    return ([Entry(id=row.id, at=row.at, actor=row.actor, role=row.role, action=row.action, target=row.target,
                   detail=dict(row.detail or {}), address=row.address) for row in rows],
            int(conn.execute(counted).scalar_one()))
