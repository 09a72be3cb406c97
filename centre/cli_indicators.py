"""`evaluator centre indicators` and `evaluator centre rollup rebuild`, registered by centre/cli.py.

Apart from cli.py so that file stays small; the figures come from centre/indicators.py, the same
function the API's /v1/indicators calls, so both print the same numbers.
"""
from __future__ import annotations

import argparse
import json
from collections.abc import Callable

from centre import indicators, rollups, scopes
from centre.cliargs import iso_day
from centre.db.engine import open_engine

EXIT_OK = 0
NOT_SHOWN = "—"



def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"must be a whole number ≥ 0, got {text!r}")
    return int(text)


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser],
                 common: argparse.ArgumentParser) -> None:
    figures = commands.add_parser("indicators", parents=[common],
                                  help="The standard indicators of units (or the city) over a period.")
    figures.add_argument("--unit", action="append", default=[], metavar="UNIT",
                         help="a unit (repeatable); without --unit, --district or --sector, the whole city")
    figures.add_argument("--district", action="append", default=[], metavar="NAME|ID",
                         help="a district's units, those it holds now (repeatable)")
    figures.add_argument("--sector", action="append", default=[], metavar="CODE|NAME",
                         help="a sector's units (repeatable); with --district, within the district")
    figures.add_argument("--period", choices=[kind.value for kind in indicators.PeriodKind if kind.value != "custom"],
                         help="the day, week (Monday–Sunday), month, quarter or year holding --date (default: day)")
    figures.add_argument("--date", type=iso_day, metavar="YYYY-MM-DD", help="default: today in the (first) unit's zone")
    figures.add_argument("--from", dest="date_from", type=iso_day, metavar="YYYY-MM-DD",
                         help="a custom period's first day (with --to; both included)")
    figures.add_argument("--to", dest="date_to", type=iso_day, metavar="YYYY-MM-DD")
    figures.add_argument("--min-ratings", type=_count, default=indicators.MIN_RATINGS, metavar="N",
                         help="fewer ratings than this are 'too few' to rank (default: %(default)s)")
    figures.add_argument("--json", action="store_true", help="one JSON object, the body of GET /v1/indicators")
    rollup = commands.add_parser("rollup", help="The rollups the indicators read.")
    actions = rollup.add_subparsers(dest="rollup_command", required=True, metavar="ACTION")
    actions.add_parser("rebuild", parents=[common],
                       help="Recount the rollups from the raw ratings, reasons and events (prints what changed).")


def _indicators(args: argparse.Namespace) -> int:
    engine = open_engine(args.db, create=False)
    with engine.connect() as conn:   # what GET /v1/indicators answers a city token
        chosen = scopes.within(conn, scopes.CITY, args.unit, args.district, args.sector)
    result = indicators.answer_scope(engine, chosen, args.period, args.date, args.date_from, args.date_to,
                                     args.min_ratings)
    if args.json:
        print(json.dumps(result.model_dump(mode="json", by_alias=True), ensure_ascii=False))
    else:
        print("\n".join(describe(result)))
    return EXIT_OK


def _percent(value: float | None) -> str:
    return NOT_SHOWN if value is None else f"{value * 100:.1f} %"


def describe(result: indicators.Indicators) -> list[str]:
    """The text report: the same figures as the JSON, named as docs/indicators.md names them."""
    interval = result.good_rate_interval
    bound = f" (95 % interval {_percent(interval.low)} – {_percent(interval.high)})" if interval else ""
    few = f"   too few to rank (fewer than {result.min_ratings})" if result.too_few else ""
    reasons = ", ".join(f"{code} {n}" for code, n in result.bad_reasons.items()) or NOT_SHOWN
    return [
        f"{result.scope} · {result.date_from} – {result.date_to} ({result.period.value})",
        f"  评价数 rated               {result.rated}{few}",
        "  by level                  " + "  ".join(f"{level}: {n}" for level, n in sorted(result.by_level.items())),
        f"  好评率 good rate           {_percent(result.good_rate)}{bound}",
        f"  差评数 bad reviews         {result.bad}   差评率 bad rate {_percent(result.bad_rate)}",
        f"  bad-review reasons        {reasons}",
        f"  未评率 unrated rate        {_percent(result.unrated_rate)} "
        f"({result.unrated} of {result.requests} requests)",
        f"  主动评价率 active rate     {_percent(result.active_rate)}",
        f"  suppressed presses        {result.suppressed}",
        f"  before enrollment         {result.before_enrollment} (in no figure)",
        f"  差评回复率 / 回访整改率 / 回访整改满意率: {result.loop.status}"
        + (f": {_percent(result.loop.reply_rate)} / {_percent(result.loop.rectified_rate)} / "
           f"{_percent(result.loop.rectified_satisfied_rate)}; 回访率 {_percent(result.loop.callback_rate)}; "
           f"overdue {result.loop.overdue}" if result.loop.cases is not None else ""),
    ]


def _rollup(args: argparse.Namespace) -> int:
    done = rollups.rebuild(open_engine(args.db, create=False))
    print(f"rollups rebuilt from the raw rows: {done.rows} row(s); {done.differed} differed from the recount, "
          f"and {done.coarse_differed} of their day and month sums")
    return EXIT_OK


HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {"indicators": _indicators, "rollup": _rollup}
