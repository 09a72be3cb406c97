"""`evaluator centre token add|list|revoke`: the read API's client tokens, registered by centre/cli.py.

Apart from cli.py so that file stays small; the tokens themselves are centre/tokens.py's, their scopes
centre/scopes.py's.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

from centre import scopes, tokens
from centre.db.engine import open_engine

EXIT_OK = 0


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser],
                 common: argparse.ArgumentParser) -> None:
    token = commands.add_parser("token", help="The read API's client tokens: add, list, revoke.")
    actions = token.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    add = actions.add_parser("add", parents=[common], help="Issue a token and print it, once: only its hash is "
                                                           "stored. Scope: nothing given, the whole city.")
    add.add_argument("--name", required=True, help="the client it is for, unique (e.g. the city's data platform)")
    add.add_argument("--district", action="append", default=[], metavar="NAME|ID",
                     help="read only this district's units (repeatable; `evaluator centre unit list`)")
    add.add_argument("--sector", action="append", default=[], metavar="CODE|NAME",
                     help="read only this sector's units, city-wide (repeatable); with --district: the sector "
                          "within the district (a district's sector bureau)")
    add.add_argument("--unit", action="append", default=[], metavar="UNIT",
                     help="read only this unit (repeatable; not with --district or --sector)")
    listing = actions.add_parser("list", parents=[common],
                                 help="Name, scope, created, last used, revoked; never the token.")
    listing.add_argument("--json", action="store_true", help="a JSON list, one object per token")
    revoke = actions.add_parser("revoke", parents=[common], help="Refuse the token from now on (it stays listed).")
    revoke.add_argument("token", metavar="NAME|ID")


def _token(args: argparse.Namespace) -> int:
    engine = open_engine(args.db, create=False)
    if args.token_command == "add":
        issued = tokens.issue(engine, args.name, args.unit, districts=args.district, sectors=args.sector)
        print(issued.token)
        print(f"token {issued.info.id} ({issued.info.name}, {_reach(engine, issued.info.scope)}): shown this "
              "once, only its hash is stored; send it as `Authorization: Bearer <token>`", file=sys.stderr)
    elif args.token_command == "revoke":
        info, changed = tokens.revoke(engine, args.token)
        print(f"{info.name} ({info.id}) {'revoked' if changed else 'was already revoked'}")
    elif args.json:
        print(json.dumps(_listed(engine), ensure_ascii=False))
    else:
        _print_tokens(_listed(engine))
    return EXIT_OK


def _reach(engine: Engine, scope: scopes.Scope) -> str:
    """The scope in words and, for a district or sector, how many units it holds today (it follows moves)."""
    with engine.connect() as conn:
        said, held = scopes.describe(conn, scope), scopes.unit_ids(conn, scope)
    if scope.districts or scope.sectors:
        return f"{said}: {len(held or ())} unit(s) today, the registry's at each request"
    return said


def _listed(engine: Engine) -> list[dict[str, Any]]:
    """Each token as `as_json` has it, with its scope in words (`scope_text`)."""
    found = tokens.list_tokens(engine)
    with engine.connect() as conn:
        return [{**item.as_json(), "scope_text": scopes.describe(conn, item.scope)} for item in found]


def _print_tokens(found: list[dict[str, Any]]) -> None:
    def when(text: str | None) -> str:
        return f"{text[:19]}Z" if text else "—"

    for item in found:
        print(f"{item['id']}  {item['name']}  [{item['scope_text']}]  created {when(item['created_at'])}  "
              f"last used {when(item['last_used_at'])}  revoked {when(item['revoked_at'])}")
    if not found:
        print("no API tokens")


HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {"token": _token}
