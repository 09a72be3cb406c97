"""`evaluator centre demo`, registered by centre/cli.py: build a synthetic city, show progress on stderr, end
with a summary on stdout."""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.engine import make_url

from centre.cliargs import iso_day
from centre.demo import build, manipulate, workdays
from centre.errors import BadInput
from centre.registry.model import DEFAULT_TIMEZONE

EXIT_OK = 0
# Not the centre's own database (DEFAULT_DB_URL): a demo city there would mix with the real one.
DEMO_DB_URL = "sqlite:///var/demo.db"
LIMITS = {"units": 999, "counters-per-unit": 20, "days": 366}


def _count(name: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        if not text.isdigit() or not 1 <= int(text) <= LIMITS[name]:
            raise argparse.ArgumentTypeError(f"--{name} must be a whole number from 1 to {LIMITS[name]}, "
                                             f"got {text!r}")
        return int(text)
    return parse



def _seed(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--seed must be a whole number, got {text!r}") from None


def _manipulate(text: str) -> manipulate.Wanted:
    try:
        return manipulate.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser],
                 common: argparse.ArgumentParser) -> None:
    """`demo` beside the other commands; its own --db default (`common`'s is the centre's real database)."""
    demo = commands.add_parser(
        "demo", help="Build a synthetic city in an empty database through the real path: registered units, "
                     "enrolled devices, signed batches with real hash chains (docs/demo.md).")
    demo.add_argument("--units", type=_count("units"), default=20, metavar="N",
                      help="service units (default: %(default)s)")
    demo.add_argument("--counters-per-unit", type=_count("counters-per-unit"), default=3, metavar="K",
                      help="counters, each with its terminal, per unit (default: %(default)s)")
    demo.add_argument("--days", type=_count("days"), default=30, metavar="D",
                      help="days of ratings, ending with --until (default: %(default)s)")
    demo.add_argument("--until", type=iso_day, metavar="YYYY-MM-DD",
                      help=f"the last day (default: yesterday in {DEFAULT_TIMEZONE})")
    demo.add_argument("--seed", type=_seed, default=1, metavar="S",
                      help="the same seed and days build the same city and rows (default: %(default)s)")
    demo.add_argument("--db", default=DEMO_DB_URL, metavar="URL",
                      help="an empty or missing database, created if need be; one holding units, devices or "
                           "ratings is refused (default: %(default)s)")
    demo.add_argument("--manipulate", type=_manipulate, metavar="KIND:COUNT,…",
                      help="plant dishonest behaviour: COUNT units, counters, staff or devices of each KIND "
                           "(centre/integrity's signal kinds), beside a few honest but unusual units; `none`: "
                           "the unusual units alone (docs/demo.md)")
    demo.add_argument("--truth", type=Path, metavar="FILE",
                      help="with --manipulate: write what was planted where, as JSON lines (never in the database)")


def _yesterday() -> date:
    return datetime.now(UTC).astimezone(ZoneInfo(DEFAULT_TIMEZONE)).date() - timedelta(days=1)


def _demo(args: argparse.Namespace) -> int:
    if (args.manipulate is None) != (args.truth is None):
        raise BadInput("--manipulate and --truth go together: the ground truth of what is planted is written "
                       "apart from the database")
    options = build.Options(units=args.units, counters_per_unit=args.counters_per_unit, days=args.days,
                            seed=args.seed, until=args.until or _yesterday(), db_url=args.db,
                            manipulate=args.manipulate, truth=args.truth)
    built = build.build(options, progress=lambda line: print(line, file=sys.stderr, flush=True))
    print("\n".join(summary(built, options)))
    return EXIT_OK


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f} %" if whole else "—"


def summary(built: build.Built, options: build.Options) -> list[str]:
    city, total = built.city, built.total
    shown = make_url(options.db_url).render_as_string(hide_password=True)
    first, last = built.days[0], built.days[-1]
    staff = sum(len(unit.staff) for unit in city.units)
    return [
        f"demo city built in {shown} (seed {options.seed}, {first} – {last}, {len(built.days)} days)",
        f"  units        {len(city.units)} in {city.districts} districts and {city.sectors} sectors; "
        f"{len(built.below_line)} below the 80 % good rate",
        f"  counters     {city.counters}, each with its enrolled device; {city.skewed} with a clock minutes off "
        "(corrected by the ingest)",
        f"  staff        {staff} on the units' rosters, {total.sign_ins:,} sign-ins",
        f"  ratings      {total.ratings:,}, good rate {_percent(total.ratings - total.bad, total.ratings)}",
        f"  bad reviews  {total.bad:,} with {total.reasons:,} reasons; their cases: {built.worked.rectified:,} "
        f"rectified, {built.worked.closed:,} closed, the rest still worked or overdue",
        f"  requests     {total.solicited:,} solicited, {total.unrated:,} unrated; "
        f"{total.suppressed:,} suppressed presses",
        f"  batches      {built.batches:,}, gzipped and signed, checked and ingested in-process",
        f"  calendar     {workdays.calendar_used(built.days)}",
        *_planted(built, options),
        f"  time         {built.seconds:.1f} s ({total.ratings / max(built.seconds, 1e-9):,.0f} ratings/s)",
        f"look: evaluator centre indicators --db {shown} --from {first} --to {last}",
    ]


def _planted(built: build.Built, options: build.Options) -> list[str]:
    scenario = built.scenario
    if scenario is None:
        return []
    kinds = len({plant.kind for plant in scenario.plants})
    return [f"  planted      {len(scenario.plants)} manipulation(s) of {kinds} kind(s), each in a unit of its own; "
            f"{len(scenario.odd)} honest but unusual unit(s); the truth in {options.truth}",
            f"  withheld     {built.withheld:,} rating(s) recorded or shown on a terminal, never delivered "
            "(deleted or swallowed)"]


HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {"demo": _demo}
