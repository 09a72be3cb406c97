"""`evaluator centre province …`: the report to the province from the command line.

- `check --since D [--until D]`: the dry run (check.py); exit 0 when no record would be refused, 1 when any
  would (so a script or a timer unit sees it), 2 for bad input;
- `records`: the records made so far, filtered by state, rule or unit (what the console shows, for a shell);
- `remake [--rule R] [--unit U]`: the invalid records made again once their cause is mended (remake.py);
- `push`, `receiver`: the upload worker and the reference receiver (push_commands.py).
"""
from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select

from centre.cliargs import iso_day
from centre.db.engine import open_engine
from centre.db.province_tables import province_records
from centre.errors import BadInput
from centre.province import push_commands
from centre.province.check import EXAMPLES, run_check
from centre.province.mapping import load_mapping
from centre.province.model import RecordState
from centre.province.remake import remake_invalid
from centre.province.rules import Rule

EXIT_OK, EXIT_PROBLEM = 0, 1
CITY_ZONE = "Asia/Shanghai"


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser],
                 common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser("province", help="The report to the provincial 好差评 platform: check, records, "
                                                  "push, receiver.")
    actions = parser.add_subparsers(dest="province_command", required=True, metavar="ACTION")
    check = actions.add_parser("check", parents=[common], help="Dry run: what the ratings counted on these days "
                               "would make, checked by the rules; exit 1 when any record would be refused.")
    check.add_argument("--since", required=True, type=iso_day, metavar="YYYY-MM-DD", help="the first day")
    check.add_argument("--until", type=iso_day, metavar="YYYY-MM-DD", help="the last day (default: today)")
    check.add_argument("--zone", type=_zone, default=ZoneInfo(CITY_ZONE), metavar="ZONE",
                       help=f"the zone of the city's days (default: {CITY_ZONE})")
    check.add_argument("--mapping", type=Path, metavar="FILE", help="the mapping (default: the shipped one)")
    check.add_argument("--examples", type=int, default=EXAMPLES, metavar="N", help="records shown per rule")
    check.add_argument("--format", choices=("text", "json"), default="text")
    listing = actions.add_parser("records", parents=[common], help="The records made so far (newest first).")
    listing.add_argument("--state", choices=[state.value for state in RecordState])
    listing.add_argument("--rule", choices=[rule.value for rule in Rule])
    listing.add_argument("--unit", help="one unit's")
    listing.add_argument("--limit", type=int, default=50, help="at most this many (default: %(default)s)")
    listing.add_argument("--json", action="store_true", help="JSON, one record a line, with its fields")
    remake = actions.add_parser("remake", parents=[common], help="Make the invalid records again (after the "
                                "cause is mended: a unit's codes, the mapping); each takes the state it now has.")
    remake.add_argument("--rule", choices=[rule.value for rule in Rule], help="only those refused by this rule")
    remake.add_argument("--unit", help="only this unit's")
    remake.add_argument("--mapping", type=Path, metavar="FILE", help="the mapping (default: the shipped one)")
    push_commands.add_push_commands(actions, common)   # push, receiver



def _zone(text: str) -> ZoneInfo:
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise argparse.ArgumentTypeError(f"unknown time zone {text!r} (an IANA name, e.g. {CITY_ZONE})") from None


def _check(args: argparse.Namespace) -> int:
    mapping = load_mapping(args.mapping)
    now = datetime.now(UTC)
    until = args.until or now.astimezone(args.zone).date()
    if until < args.since:
        raise BadInput(f"province check: --until {until} is before --since {args.since}")
    result = run_check(open_engine(args.db, create=False), mapping, args.since, until, args.zone, now,
                       max(0, args.examples))
    if args.format == "json":
        print(json.dumps(result.as_json(), ensure_ascii=False))
    else:
        print("\n".join(result.lines()))
    return EXIT_PROBLEM if result.refused_total else EXIT_OK


def _records(args: argparse.Namespace) -> int:
    query = select(province_records).order_by(province_records.c.made_at.desc(), province_records.c.record_id)
    for column, value in (("state", args.state), ("rule", args.rule), ("unit_id", args.unit)):
        if value is not None:
            query = query.where(province_records.c[column] == value)
    with open_engine(args.db, create=False).connect() as conn:
        rows = list(conn.execute(query.limit(max(1, args.limit))).mappings())
    for row in rows:
        if args.json:
            print(json.dumps(dict(row), ensure_ascii=False))
        else:
            print(f"{row['record_id']}  {row['state']}{' (' + row['rule'] + ')' if row['rule'] else ''}  unit "
                  f"{row['unit_id']}  case {row['case_no'] or '-'}  {row['evaluated_at']}"
                  + (f"  {row['answer_code']}: {row['answer_text'] or ''}" if row["answer_code"] else "")
                  + (f"\n    {row['problem']}" if row["problem"] else ""))
    if not rows and not args.json:
        print("no records")
    return EXIT_OK


def _remake(args: argparse.Namespace) -> int:
    now_in = remake_invalid(open_engine(args.db, create=False), load_mapping(args.mapping), datetime.now(UTC),
                            rule=args.rule, unit_id=args.unit)
    print(f"remade {sum(now_in.values())} invalid record(s): " + (", ".join(
        f"{count} {state}" for state, count in sorted(now_in.items())) or "none held"))
    return EXIT_OK


ACTIONS: dict[str, Callable[[argparse.Namespace], int]] = {"check": _check, "records": _records, "remake": _remake,
                                                           **push_commands.ACTIONS}


def run(args: argparse.Namespace) -> int:
    return ACTIONS[args.province_command](args)


HANDLERS = {"province": run}
