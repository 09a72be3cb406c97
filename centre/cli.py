"""`evaluator centre …` (`python -m centre.cli`): serve, migrate, codes, registry, rosters, reports, tokens.

The CLI opens the database directly, so everything an office needs works
without an admin HTTP endpoint.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import ValidationError
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError

from centre import callbacks, cli_indicators, enroll, reports, tokens
from centre.api import limits
from centre.db.engine import DEFAULT_DB_URL, migrate, open_engine
from centre.errors import BadInput, CentreError
from centre.logs import LOG_FORMATS
from centre.registry import commands as registry_commands
from contract import MAX_PHOTO_BYTES, StaffRecord, encode_photo, hash_secret

N = TypeVar("N", int, float)

EXIT_OK, EXIT_PROBLEM, EXIT_USAGE = 0, 1, 2
MAX_WORKERS = 64


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", default=DEFAULT_DB_URL, metavar="URL",
                        help=f"SQLAlchemy database URL (default: {DEFAULT_DB_URL})")
    parser = argparse.ArgumentParser(prog="evaluator centre", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    _add_database(commands, common)
    cli_indicators.add_commands(commands, common)   # indicators, rollup rebuild

    _add_enroll_code(commands, common)
    registry_commands.add_parsers(commands, common)   # unit import|template|add|list|sectors, counter add, device move

    summary = commands.add_parser("summary", parents=[common], help="A unit's day: levels, 好评率, reasons.")
    summary.add_argument("--unit", required=True)
    summary.add_argument("--date", type=_date, metavar="YYYY-MM-DD", help="default: today in the unit's zone")
    summary.add_argument("--counter")
    summary.add_argument("--staff")
    summary.add_argument("--json", action="store_true", help="one JSON object, the keys of the HTTP summary")

    calls = commands.add_parser("callbacks", parents=[common],
                                help="A unit's call-back requests of a day: the numbers to call, with the rating.")
    calls.add_argument("--unit", required=True)
    calls.add_argument("--date", type=_date, metavar="YYYY-MM-DD", help="default: today in the unit's zone")
    calls.add_argument("--json", action="store_true", help="a JSON list, one object per request")

    check = commands.add_parser("integrity", parents=[common],
                                help="Gaps, chain breaks and cut tails per device; exit 1 when any.")
    check.add_argument("--json", action="store_true")

    roster = commands.add_parser("roster", parents=[common],
                                 help="Set the staff roster of a unit's devices (or one counter's).")
    roster.add_argument("--unit", required=True)
    roster.add_argument("--counter", help="only this counter's devices")
    roster.add_argument("--file", required=True, type=Path, metavar="STAFF.yaml",
                        help="a YAML or JSON list of {id, name, post, name_en, post_en, pin, photo}; a pin (4–16 "
                             "digits) is stored and sent only as a salted hash; a photo is a JPEG or PNG file "
                             f"(relative to STAFF.yaml, at most {MAX_PHOTO_BYTES // 1024} KiB) for the staff card")

    revoke = commands.add_parser("revoke", parents=[common], help="Refuse every later request of a device.")
    revoke.add_argument("device_id", metavar="DEVICE_ID")
    _add_token(common, commands.add_parser("token", help="The read API's client tokens: add, list, revoke."))
    return parser


def _add_enroll_code(commands: argparse._SubParsersAction[argparse.ArgumentParser],
                     common: argparse.ArgumentParser) -> None:
    code = commands.add_parser("enroll-code", parents=[common], help="Print a one-time enrollment code for a "
                                                                     "registered counter of a registered unit.")
    code.add_argument("--unit", required=True, help="unit id (`evaluator centre unit list`)")
    code.add_argument("--counter", required=True, help="counter id")
    code.add_argument("--unit-name", help="override the registry's name of the unit for this code's terminal")
    code.add_argument("--unit-name-en", help="override the registry's English name of the unit")
    code.add_argument("--counter-name", help="override the registry's name of the counter")
    code.add_argument("--counter-name-en", help="override the registry's English name of the counter")
    code.add_argument("--timezone", help="the unit's zone is the registry's; one given here must be it")
    code.add_argument("--ttl-hours", type=_positive_hours, default=24.0, help="validity (default: %(default)s)")


def _add_token(common: argparse.ArgumentParser, token: argparse.ArgumentParser) -> None:
    actions = token.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    add = actions.add_parser("add", parents=[common], help="Issue a token and print it, once: only its hash is stored.")
    add.add_argument("--name", required=True, help="the client it is for, unique (e.g. the city's data platform)")
    add.add_argument("--unit", action="append", default=[], metavar="UNIT",
                     help="read only this unit (repeatable); without --unit the token reads the whole city")
    listing = actions.add_parser("list", parents=[common],
                                 help="Name, scope, created, last used, revoked; never the token.")
    listing.add_argument("--json", action="store_true", help="a JSON list, one object per token")
    revoke = actions.add_parser("revoke", parents=[common], help="Refuse the token from now on (it stays listed).")
    revoke.add_argument("token", metavar="NAME|ID")


def _add_database(commands: argparse._SubParsersAction[argparse.ArgumentParser],
                  common: argparse.ArgumentParser) -> None:
    """`migrate` and `serve`, the two commands that may create a database (the others refuse a missing one)."""
    commands.add_parser("migrate", parents=[common], help="Create the database where there is none and upgrade "
                                                          "its schema to this release's (prints from → to).")
    _add_serve(commands.add_parser("serve", parents=[common], help="Run the HTTP endpoint (and create the "
                                                                   "database where there is none)."))


def _add_serve(serve: argparse.ArgumentParser) -> None:
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=_port, default=8600)
    serve.add_argument("--log-level", default="info", choices=("critical", "error", "warning", "info", "debug"))
    serve.add_argument("--log-format", default="text", choices=LOG_FORMATS,
                       help="json: one JSON object a line (time, level, logger, message, fields), access log "
                            "included, all on stderr (default: %(default)s, uvicorn's)")
    serve.add_argument("--no-metrics", dest="metrics", action="store_false",
                       help="serve no /metrics (Prometheus; on by default, on the same port)")
    serve.add_argument("--max-body-mib", type=_mib, default=limits.DEFAULT_MAX_BODY_MIB, metavar="MiB",
                       help="refuse (413) a request body larger than this as sent, plain or gzipped "
                            "(default: %(default)s MiB)")
    serve.add_argument("--max-inflated-mib", type=_mib, default=limits.DEFAULT_MAX_INFLATED_MIB, metavar="MiB",
                       help="refuse (413) a gzipped body that inflates to more than this (default: %(default)s MiB)")
    serve.add_argument("--workers", type=_workers, default=1, metavar="N",
                       help="worker processes on one PostgreSQL database (default: %(default)s; SQLite takes one); "
                            "each keeps up to 15 database connections, so N × 15 must stay under the server's "
                            "max_connections")


def _in_range(convert: Callable[[str], N], fits: Callable[[N], bool], what: str) -> Callable[[str], N]:
    """An argparse type: `text` converted and checked, or refused with `what` and the text given."""
    def parse(text: str) -> N:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what}, got {text!r}") from None
        if not fits(value):
            raise argparse.ArgumentTypeError(f"{what}, got {text!r}")
        return value
    return parse


_workers = _in_range(int, lambda n: 1 <= n <= MAX_WORKERS, f"workers must be 1–{MAX_WORKERS}")
_port = _in_range(int, lambda n: 1 <= n <= 65535, "port must be 1–65535")
_mib = _in_range(float, lambda mib: 0 < mib <= 1024, "size must be a number of MiB in (0, 1024]")
_positive_hours = _in_range(float, lambda hours: 0 < hours <= 24 * 365,
                            "ttl must be a number of hours in (0, 8760]")


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"date must be YYYY-MM-DD, got {text!r}") from None


# -- handlers -----------------------------------------------------------------------


def _serve(args: argparse.Namespace) -> int:
    from centre import serving

    body_limits = limits.BodyLimits(body=int(args.max_body_mib * limits.MIB),
                                    inflated=int(args.max_inflated_mib * limits.MIB))
    serving.serve(serving.ServeOptions(args.db, body_limits, metrics=args.metrics), host=args.host, port=args.port,
                  workers=args.workers, log_level=args.log_level, log_format=args.log_format)
    return EXIT_OK


def _migrate(args: argparse.Namespace) -> int:
    found, head = migrate(args.db)
    print(f"database schema is at {head}: up to date" if found == head
          else f"database schema {found or 'none (a new database)'} → {head}")
    return EXIT_OK


def _enroll_code(args: argparse.Namespace) -> int:
    code = enroll.create_code(open_engine(args.db, create=False), args.unit, args.counter, unit_name=args.unit_name,
                              counter_name=args.counter_name, unit_name_en=args.unit_name_en,
                              counter_name_en=args.counter_name_en, timezone_name=args.timezone,
                              ttl=timedelta(hours=args.ttl_hours))
    print(code)
    return EXIT_OK


def _summary(args: argparse.Namespace) -> int:
    engine = open_engine(args.db, create=False)
    day = args.date or reports.today_in_unit(engine, args.unit)
    result = reports.summary(engine, args.unit, day, args.counter, args.staff)
    if args.json:
        print(json.dumps(result.model_dump(mode="json"), ensure_ascii=False))
        return EXIT_OK
    rate = "—" if result.good_rate is None else f"{result.good_rate * 100:.1f} %"
    print(f"{args.unit} · {result.date}" + (f" · counter {args.counter}" if args.counter else "")
          + (f" · staff {args.staff}" if args.staff else ""))
    for level in sorted(result.by_level, reverse=True):
        print(f"  level {level}\t{result.by_level[level]:>6}")
    print(f"  total {result.total}   good rate {rate}")
    reasons = ", ".join(f"{code} {n}" for code, n in result.bad_reasons.items())
    print(f"  bad-review reasons: {reasons or '—'}")
    print(f"  unrated {result.unrated}   suppressed presses {result.suppressed}")
    return EXIT_OK


def _callbacks(args: argparse.Namespace) -> int:
    engine = open_engine(args.db, create=False)
    day = args.date or reports.today_in_unit(engine, args.unit)
    requests = callbacks.for_unit_day(engine, args.unit, day)
    if args.json:
        print(json.dumps([request.model_dump(mode="json") for request in requests], ensure_ascii=False))
        return EXIT_OK
    print(f"{args.unit} · {day.isoformat()}: {len(requests)} call-back request(s)")
    for request in requests:
        staff = f"staff {request.staff_id}" if request.staff_id else "no staff signed in"
        print(f"  {request.rated_at[11:16]}  {request.phone:<13}  counter {request.counter_id}, {staff}, "
              f"level {request.level}, reasons: {', '.join(request.reasons) or '—'}  (rating {request.rating_uuid})")
    return EXIT_OK


def _integrity(args: argparse.Namespace) -> int:
    report = reports.integrity(open_engine(args.db, create=False))
    if args.json:
        print(json.dumps(report.model_dump(mode="json"), ensure_ascii=False))
    else:
        for item in report.devices:
            state = "ok" if item.ok else "PROBLEM"
            print(f"{item.device_id} ({item.unit_id}/{item.counter_id}{', revoked' if item.revoked else ''}): "
                  f"{state}; held {item.ratings_held}, last seq {item.last_seq}, gaps {item.gaps}, "
                  f"chain breaks {item.chain_breaks}, conflicts {item.conflicts}, "
                  f"missing tail {item.missing_tail}, device verify {item.verify_ok}")
        if not report.devices:
            print("no devices enrolled")
    return EXIT_OK if report.ok else EXIT_PROBLEM


def _roster(args: argparse.Namespace) -> int:
    try:
        entries = yaml.safe_load(args.file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise BadInput(f"{args.file}: cannot read: {exc}") from None
    if not isinstance(entries, list):
        raise BadInput(f"{args.file}: must be a list of staff members")
    try:
        staff = [StaffRecord.model_validate(_with_photo(_hash_pin(entry), args.file.parent)) for entry in entries]
    except ValidationError as exc:
        error = exc.errors()[0]
        raise BadInput(f"{args.file}: {'.'.join(str(p) for p in error['loc']) or 'entry'}: {error['msg']}") from None
    reached = enroll.set_roster(open_engine(args.db, create=False), args.unit, args.counter, staff)
    print(f"{len(staff)} staff member(s) for {reached} device(s); they apply it at their next config pull")
    return EXIT_OK


def _hash_pin(entry: object) -> object:
    """A roster entry's plain `pin` becomes `pin_hash`: the PIN itself is never stored or sent."""
    if not isinstance(entry, dict) or "pin" not in entry:
        return entry
    entry = dict(entry)
    pin = str(entry.pop("pin"))
    if not (pin.isdigit() and 4 <= len(pin) <= 16):
        raise BadInput(f"staff {entry.get('id')!r}: pin must be 4–16 digits (the terminal has a digit keypad)")
    return {**entry, "pin_hash": hash_secret(pin)}


def _with_photo(entry: object, folder: Path) -> object:
    """A roster entry's `photo` names an image file; the roster carries the image itself (base64), checked here."""
    if not isinstance(entry, dict) or entry.get("photo") is None:
        return entry
    path = folder / str(entry["photo"])
    where = f"staff {entry.get('id')!r}: photo {path}"
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise BadInput(f"{where}: file not found") from None
    except OSError as exc:
        raise BadInput(f"{where}: cannot read: {exc.strerror or exc}") from None
    try:
        return {**entry, "photo": encode_photo(data)}
    except ValueError as exc:
        raise BadInput(f"{where}: {exc}") from None


def _revoke(args: argparse.Namespace) -> int:
    changed = enroll.revoke(open_engine(args.db, create=False), args.device_id)
    print(f"{args.device_id} revoked" if changed else f"{args.device_id} was already revoked")
    return EXIT_OK


def _token(args: argparse.Namespace) -> int:
    engine = open_engine(args.db, create=False)
    if args.token_command == "add":
        issued = tokens.issue(engine, args.name, args.unit)
        print(issued.token)
        print(f"token {issued.info.id} ({issued.info.name}, {issued.info.scope.label()}): shown this once, only "
              "its hash is stored; send it as `Authorization: Bearer <token>`", file=sys.stderr)
    elif args.token_command == "revoke":
        info, changed = tokens.revoke(engine, args.token)
        print(f"{info.name} ({info.id}) {'revoked' if changed else 'was already revoked'}")
    elif args.json:
        print(json.dumps([item.as_json() for item in tokens.list_tokens(engine)], ensure_ascii=False))
    else:
        _print_tokens(tokens.list_tokens(engine))
    return EXIT_OK


def _print_tokens(found: list[tokens.TokenInfo]) -> None:
    def when(text: str | None) -> str:
        return f"{text[:19]}Z" if text else "—"

    for item in found:
        print(f"{item.id}  {item.name}  [{item.scope.label()}]  created {when(item.created_at)}  "
              f"last used {when(item.last_used_at)}  revoked {when(item.revoked_at)}")
    if not found:
        print("no API tokens")


HANDLERS = {"serve": _serve, "migrate": _migrate, "enroll-code": _enroll_code, "summary": _summary,
            "callbacks": _callbacks, "integrity": _integrity,
            "roster": _roster, "revoke": _revoke, "token": _token, **cli_indicators.HANDLERS,
            **registry_commands.HANDLERS}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return HANDLERS[args.command](args)
    except CentreError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
    except (ArgumentError, NoSuchModuleError) as exc:
        print(f"error: bad --db URL {args.db!r}: {exc}", file=sys.stderr)
    except OperationalError as exc:
        print(f"error: cannot use the database {args.db!r}: {exc.orig}", file=sys.stderr)
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
