"""`evaluator centre …` (`python -m centre.cli`): serve, migrate, codes, registry, rosters, reports, tokens.

The CLI opens the database directly, so everything an office needs works
without an admin HTTP endpoint.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Iterable

from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError

from centre.db.engine import DB_ENV, DEFAULT_DB_URL
from centre.errors import CentreError

EXIT_OK, EXIT_USAGE = 0, 2

Handler = Callable[[argparse.Namespace], int]

# Each command, in the order --help lists them, and the function that adds its parser ("module:function"; it may
# add the module's other commands beside it); the module's HANDLERS run it. A module is imported only when one of
# its commands is chosen: each start of `evaluator centre token list` imported every command's module (the
# console, the province's push, the demo city, …), a third of a second of CPU. A command added to a module's
# function is added here too (tests/centre/test_cli_commands.py compares the two).
COMMANDS: dict[str, str] = {
    "migrate": "centre.cli_database:add_commands",
    "serve": "centre.cli_database:add_commands",
    "indicators": "centre.cli_indicators:add_commands",
    "rollup": "centre.cli_indicators:add_commands",   # rollup rebuild
    "enroll-code": "centre.cli_enroll:add_enroll_code",
    "unit": "centre.registry.commands:add_parsers",   # unit import|template|add|list|sectors
    "counter": "centre.registry.commands:add_parsers",   # counter add
    "device": "centre.registry.commands:add_parsers",   # device move
    "summary": "centre.cli_reports:add_commands",
    "callbacks": "centre.cli_reports:add_commands",
    "integrity": "centre.cli_reports:add_commands",   # and integrity analyse|flags, the manipulation signals
    "staff": "centre.registry.staff_commands:add_parsers",   # staff set|list
    "roster": "centre.registry.staff_commands:add_parsers",   # = staff set
    "user": "centre.console.commands:add_parsers",   # user add|list|role|password|disable|enable
    "revoke": "centre.cli_enroll:add_revoke",
    "token": "centre.cli_tokens:add_commands",   # token add|list|revoke
    "calendar": "centre.cases.calendar_commands:add_parsers",   # calendar import|show|template
    "demo": "centre.demo.commands:add_commands",   # a synthetic city through the real path
    "duty": "centre.alerts.commands:add_commands",   # duty set|list|remove: the units' alert addresses
    "digest": "centre.public.commands:add_commands",   # digest publish|verify: the published daily digests
    "province": "centre.province.commands:add_commands",   # province check|records|remake|push|receiver
}


def build_parser(names: Iterable[str] = COMMANDS) -> tuple[argparse.ArgumentParser, dict[str, Handler]]:
    """The parser of these commands (and of those their functions add beside them), and their handlers."""
    common = argparse.ArgumentParser(add_help=False)
    # From the environment, so that a service's URL (and its password) stays out of the command line, which
    # every user of the machine can read (ps); never shown in --help.
    common.add_argument("--db", default=os.environ.get(DB_ENV) or DEFAULT_DB_URL, metavar="URL",
                        help=f"SQLAlchemy database URL (default: ${DB_ENV} if set, else {DEFAULT_DB_URL})")
    parser = argparse.ArgumentParser(prog="evaluator centre", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    handlers: dict[str, Handler] = {}
    for adder in dict.fromkeys(COMMANDS[name] for name in names):   # each once, in the order given
        module_name, function = adder.split(":")
        module = importlib.import_module(module_name)
        getattr(module, function)(commands, common)
        handlers.update(module.HANDLERS)
    return parser, handlers


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # The chosen command's module alone. Without a command first (--help, nothing) or with one unknown, all of
    # them: argparse then lists every command, as it does when the parser is whole.
    parser, handlers = build_parser(argv[:1] if argv and argv[0] in COMMANDS else COMMANDS)
    args = parser.parse_args(argv)
    try:
        return handlers[args.command](args)
    except CentreError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
    except (ArgumentError, NoSuchModuleError) as exc:
        print(f"error: bad --db URL {args.db!r}: {exc}", file=sys.stderr)
    except OperationalError as exc:
        print(f"error: cannot use the database {args.db!r}: {exc.orig}", file=sys.stderr)
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
