"""`evaluator centre …` (`python -m centre.cli`): serve, migrate, codes, registry, rosters, reports, tokens.

The CLI opens the database directly, so everything an office needs works
without an admin HTTP endpoint.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from typing import TextIO, TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError

from centre import callbacks, chain_recheck, cli_indicators, cli_tokens, enroll, enroll_batch, reports
from centre.alerts import commands as alert_commands
from centre.api import admission_limits, limits
from centre.cases import calendar_commands
from centre.console import commands as console_commands
from centre.db.engine import DEFAULT_DB_URL, migrate, open_engine
from centre.demo import commands as demo_commands
from centre.errors import CentreError
from centre.integrity import commands as integrity_commands
from centre.logs import LOG_FORMATS
from centre.province import commands as province_commands
from centre.public import commands as public_commands
from centre.registry import commands as registry_commands
from centre.registry import staff_commands

N = TypeVar("N", int, float)

EXIT_OK, EXIT_PROBLEM, EXIT_USAGE = 0, 1, 2
MAX_WORKERS = 64
PROGRESS_EVERY_S = 5.0


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
                                help="Gaps, chain breaks and cut tails per device, as the ingest checked each batch; "
                                     "exit 1 when any.")
    check.add_argument("--json", action="store_true")
    check.add_argument("--recheck", action="store_true",
                       help="first check every chain again from the raw ratings (minutes on a big database; progress "
                            "on stderr), store the results and name each device whose stored result differed "
                            "(exit 1 if any did)")
    integrity_commands.add_actions(check, common)   # integrity analyse|flags: the manipulation signals

    staff_commands.add_parsers(commands, common)   # staff set|list, roster (= staff set)
    console_commands.add_parsers(commands, common)   # user add|list|role|password|disable|enable

    revoke = commands.add_parser("revoke", parents=[common], help="Refuse every later request of a device.")
    revoke.add_argument("device_id", metavar="DEVICE_ID")
    cli_tokens.add_commands(commands, common)   # token add|list|revoke
    calendar_commands.add_parsers(commands, common)   # calendar import|show|template
    demo_commands.add_commands(commands, common)   # demo: a synthetic city through the real path
    alert_commands.add_commands(commands, common)   # duty set|list|remove: the units' alert addresses
    public_commands.add_commands(commands, common)   # digest publish|verify: the published daily digests
    province_commands.add_commands(commands, common)   # province check|records|push|receiver: the upstream report
    return parser


def _add_enroll_code(commands: argparse._SubParsersAction[argparse.ArgumentParser],
                     common: argparse.ArgumentParser) -> None:
    code = commands.add_parser("enroll-code", parents=[common], help="Print a one-time enrollment code for a "
                                                                     "registered counter of a registered unit "
                                                                     "(--file: for every counter of a sheet).")
    code.add_argument("--unit", help="unit id (`evaluator centre unit list`)")
    code.add_argument("--counter", help="counter id")
    enroll_batch.add_arguments(code)   # --file COUNTERS.csv, --out
    code.add_argument("--unit-name", help="override the registry's name of the unit for this code's terminal")
    code.add_argument("--unit-name-en", help="override the registry's English name of the unit")
    code.add_argument("--counter-name", help="override the registry's name of the counter")
    code.add_argument("--counter-name-en", help="override the registry's English name of the counter")
    code.add_argument("--timezone", help="the unit's zone is the registry's; one given here must be it")
    code.add_argument("--ttl-hours", type=_positive_hours, default=24.0, help="validity (default: %(default)s)")


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
    admission_limits.add_options(serve)   # --max-inflight-batches, --max-batch-wait-s
    serve.add_argument("--config", metavar="FILE", help="the city config file: cases' deadlines, alerts (SMTP, "
                                                        "webhook), the digest (deploy/centre.example.yaml); "
                                                        "without it, the defaults with alerts off")


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
    options = serving.ServeOptions(args.db, body_limits, metrics=args.metrics,
                                   admission=admission_limits.limits_from(args), config_path=args.config)
    serving.serve(options, host=args.host, port=args.port, workers=args.workers, log_level=args.log_level,
                  log_format=args.log_format)
    return EXIT_OK


def _migrate(args: argparse.Namespace) -> int:
    found, head = migrate(args.db)
    print(f"database schema is at {head}: up to date" if found == head
          else f"database schema {found or 'none (a new database)'} → {head}")
    return EXIT_OK


def _enroll_code(args: argparse.Namespace) -> int:
    if not enroll_batch.single_form(args):
        return enroll_batch.run(args)   # --file, or the refusal of a form half given
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
    if integrity_commands.chosen(args):
        return integrity_commands.run(args)
    engine = open_engine(args.db, create=False)
    differed = _recheck(engine, sys.stderr if args.json else sys.stdout) if args.recheck else 0
    report = reports.integrity(engine)
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
    return EXIT_OK if report.ok and not differed else EXIT_PROBLEM


def _recheck(engine: Engine, out: TextIO) -> int:
    """`integrity --recheck`: every chain recounted from the raw rows (chains.recheck); how many differed."""
    shown = time.monotonic()

    def progress(done: int, total: int, ratings: int) -> None:
        nonlocal shown
        if done < total and time.monotonic() - shown >= PROGRESS_EVERY_S:
            shown = time.monotonic()
            print(f"rechecked {done:,} of {total:,} devices, {ratings:,} ratings", file=sys.stderr, flush=True)

    done = chain_recheck.recheck(engine, progress)
    for item in done.differed:
        print(item.describe(), file=out)
    print(f"rechecked {done.devices} device(s), {done.ratings} rating(s) from the raw rows: "
          f"{len(done.differed)} stored result(s) differed", file=out)
    return len(done.differed)


def _revoke(args: argparse.Namespace) -> int:
    changed = enroll.revoke(open_engine(args.db, create=False), args.device_id)
    print(f"{args.device_id} revoked" if changed else f"{args.device_id} was already revoked")
    return EXIT_OK


HANDLERS = {"serve": _serve, "migrate": _migrate, "enroll-code": _enroll_code, "summary": _summary,
            "callbacks": _callbacks, "integrity": _integrity,
            "revoke": _revoke, **cli_tokens.HANDLERS, **cli_indicators.HANDLERS,
            **registry_commands.HANDLERS, **staff_commands.HANDLERS, **demo_commands.HANDLERS,
            **console_commands.HANDLERS, **calendar_commands.HANDLERS,
            **alert_commands.HANDLERS, **public_commands.HANDLERS, **province_commands.HANDLERS}


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
