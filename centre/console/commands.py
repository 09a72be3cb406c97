"""`evaluator centre user add|list|role|password|disable|enable`: the console's accounts from the command line
(the first city-office account comes from here; the Users page does the rest). Each change is in the audit
log as done by "cli:<the operating-system user>"."""
from __future__ import annotations

import argparse
import getpass
import os
import sys
from datetime import UTC, datetime

from sqlalchemy import Connection

from centre.console import accounts, audit, sessions
from centre.console.roles import Role
from centre.db.engine import open_engine
from centre.errors import BadInput
from contract import iso_utc

PASSWORD_ENV = "EVALUATOR_CONSOLE_PASSWORD"


def now() -> datetime:
    return datetime.now(UTC)


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser],
                common: argparse.ArgumentParser) -> None:
    group = commands.add_parser("user", help="Console accounts: add, list, change role or password, disable.")
    actions = group.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    roles = ", ".join(role.value for role in Role)
    add = actions.add_parser("add", parents=[common], help="Add an account. The password is asked for (or read "
                             f"from ${PASSWORD_ENV}, or from standard input when it is not a terminal).")
    add.add_argument("--name", required=True)
    add.add_argument("--role", required=True, help=f"one of {roles}")
    add.add_argument("--scope", help="the district (id or name) of a district office, the unit id of a unit manager")
    actions.add_parser("list", parents=[common], help="Every account: name, role, scope, locked or disabled.")
    role = actions.add_parser("role", parents=[common], help="Change an account's role (its sessions end).")
    role.add_argument("--name", required=True)
    role.add_argument("--role", required=True, help=f"one of {roles}")
    role.add_argument("--scope")
    for action, text in (("password", "Set a new password (its sessions end, a lock is lifted)."),
                         ("disable", "Stop an account from logging in (its sessions end); nothing is deleted."),
                         ("enable", "Let a disabled account log in again.")):
        command = actions.add_parser(action, parents=[common], help=text)
        command.add_argument("--name", required=True)


def _password() -> str:
    if os.environ.get(PASSWORD_ENV):
        return os.environ[PASSWORD_ENV]
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first, second = getpass.getpass("password: "), getpass.getpass("again: ")
    if first != second:
        raise BadInput("the two passwords differ")
    return first


def _operator() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _record(conn: Connection, action: audit.Action, target: str, **detail: object) -> None:
    audit.record(conn, action, target, actor=_operator(), role=None, detail=dict(detail))


def _role_text(account: accounts.Account) -> str:
    return account.role.value + (f" of {account.scope_id}" if account.scope_id else "")


def run(args: argparse.Namespace) -> int:
    engine = open_engine(args.db, create=False)
    command = args.user_command
    with engine.begin() as conn:
        if command == "list":
            for account in accounts.listing(conn):
                locked = account.locked_until is not None and account.locked_until > iso_utc(now())
                state = "disabled" if account.disabled else (
                    f"locked until {account.locked_until}" if locked else "active")
                print(f"{account.name}  {account.role.value}  {account.scope_id or '-'}  {state}")
            return 0
        if command == "add":
            account = accounts.add(conn, args.name, args.role, args.scope, _password())
            _record(conn, audit.Action.USER_ADDED, account.name, role=account.role.value, scope=account.scope_id)
            print(f"account {account.name}: {_role_text(account)}")
        elif command == "role":
            before, after = accounts.change_role(conn, args.name, args.role, args.scope)
            sessions.end_all(conn, after.id, now())
            _record(conn, audit.Action.ROLE_CHANGED, after.name, before=[before.role.value, before.scope_id],
                    after=[after.role.value, after.scope_id])
            print(f"account {after.name}: {_role_text(after)}")
        elif command == "password":
            account = accounts.set_password(conn, args.name, _password())
            sessions.end_all(conn, account.id, now())
            _record(conn, audit.Action.PASSWORD_SET, account.name)
            print(f"account {account.name}: new password set")
        else:
            account = accounts.set_disabled(conn, args.name, command == "disable")
            if account.disabled:
                sessions.end_all(conn, account.id, now())
            _record(conn, audit.Action.USER_DISABLED if account.disabled else audit.Action.USER_ENABLED, account.name)
            print(f"account {account.name}: {'disabled' if account.disabled else 'enabled'}")
    return 0


HANDLERS = {"user": run}
