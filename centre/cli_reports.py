"""`evaluator centre summary`, `callbacks` and `integrity`, registered by centre/cli.py: a unit's day, its call-back
requests, and each device's chain as the ingest checked it (the manipulation signals, `integrity analyse|flags`,
are centre/integrity/commands.py's)."""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from typing import TextIO

from sqlalchemy import Engine

from centre import chain_recheck, reports
from centre.cliargs import iso_day
from centre.db.engine import open_engine
from centre.integrity import commands as integrity_commands

EXIT_OK, EXIT_PROBLEM = 0, 1
PROGRESS_EVERY_S = 5.0


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser],
                 common: argparse.ArgumentParser) -> None:
    summary = commands.add_parser("summary", parents=[common], help="A unit's day: levels, 好评率, reasons.")
    summary.add_argument("--unit", required=True)
    summary.add_argument("--date", type=iso_day, metavar="YYYY-MM-DD", help="default: today in the unit's zone")
    summary.add_argument("--counter")
    summary.add_argument("--staff")
    summary.add_argument("--json", action="store_true", help="one JSON object, the keys of the HTTP summary")

    calls = commands.add_parser("callbacks", parents=[common],
                                help="A unit's call-back requests of a day: the numbers to call, with the rating.")
    calls.add_argument("--unit", required=True)
    calls.add_argument("--date", type=iso_day, metavar="YYYY-MM-DD", help="default: today in the unit's zone")
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
    # Imported here: with the cases it opens, ~20 ms that `summary` and `integrity`, registered beside, need not pay.
    from centre import callbacks

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


HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {"summary": _summary, "callbacks": _callbacks,
                                                           "integrity": _integrity}
