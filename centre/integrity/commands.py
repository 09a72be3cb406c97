"""`evaluator centre integrity analyse|flags`: run the signals over a span, list the flags.

Plain `evaluator centre integrity` (no action) stays the chain report it was (centre/cli.py).
"""
from __future__ import annotations

import argparse
import sys
import time

from centre.cliargs import iso_day
from centre.db.engine import open_engine
from centre.errors import BadInput
from centre.integrity import flags as stored_flags
from centre.integrity.model import FlagState, SignalKind

EXIT_OK = 0
PROGRESS_EVERY_S = 2.0


def add_actions(integrity: argparse.ArgumentParser, common: argparse.ArgumentParser) -> None:
    actions = integrity.add_subparsers(dest="integrity_action", metavar="ACTION")
    run = actions.add_parser("analyse", parents=[common], help="Run every manipulation signal over the units' "
                                                              "days from --from to --to and store the flags.")
    run.add_argument("--from", dest="day_from", required=True, type=iso_day, metavar="YYYY-MM-DD")
    run.add_argument("--to", dest="day_to", required=True, type=iso_day, metavar="YYYY-MM-DD")
    run.add_argument("--workers", type=int, default=None, metavar="N",
                     help="processes reading units in parallel (default: 2)")
    run.add_argument("--config", metavar="FILE", help="the city's config file: its integrity: section sets the "
                                                      "signals' thresholds (default: the documented ones)")
    listed = actions.add_parser("flags", parents=[common], help="The integrity flags, newest days first.")
    listed.add_argument("--state", choices=[state.value for state in FlagState])
    listed.add_argument("--unit", metavar="UNIT_ID")
    listed.add_argument("--kind", choices=[kind.value for kind in SignalKind])


def chosen(args: argparse.Namespace) -> bool:
    """Whether the command line named an action (analyse, flags) rather than the chain report."""
    return getattr(args, "integrity_action", None) is not None


def run(args: argparse.Namespace) -> int:
    return {"analyse": _analyse, "flags": _flags}[args.integrity_action](args)



def _analyse(args: argparse.Namespace) -> int:
    # Imported here: this module's parser is built for `summary`, `callbacks` and the plain `integrity` too, which
    # need neither the city config nor the signals (~0.1 s of each start).
    from centre import cityconfig
    from centre.integrity.analysis import analyse
    from centre.integrity.settings import IntegritySettings

    if args.day_to < args.day_from:
        raise BadInput(f"--to {args.day_to} is before --from {args.day_from}")
    settings = cityconfig.load(args.config).integrity if args.config else IntegritySettings()
    if args.workers is not None:
        settings = IntegritySettings.model_validate({**settings.model_dump(), "workers": args.workers})
    engine = open_engine(args.db, create=False)
    shown = time.monotonic()

    def progress(done: int, of: int, what: str) -> None:
        nonlocal shown
        if done == of or time.monotonic() - shown >= PROGRESS_EVERY_S:
            shown = time.monotonic()
            print(f"{done:,} of {of:,} {what}", file=sys.stderr, flush=True)

    result = analyse(engine, args.day_from, args.day_to, settings, progress)
    print(f"integrity analysis {result.day_from} – {result.day_to}: {result.units:,} units, "
          f"{len(result.findings):,} findings in {result.seconds:.1f} s")
    for kind, n in result.by_kind.items():
        print(f"  {kind.value:<24} {n:>6,}")
    print(f"flags: {result.created:,} new, {result.updated:,} updated, {result.reviewed:,} already reviewed")
    return EXIT_OK


def _flags(args: argparse.Namespace) -> int:
    engine = open_engine(args.db, create=False)
    with engine.connect() as conn:
        found = stored_flags.flags(conn, state=FlagState(args.state) if args.state else None,
                                   unit_ids=[args.unit] if args.unit else None,
                                   kind=SignalKind(args.kind) if args.kind else None)
    for flag in found:
        subject = "/".join(part for part in (flag.unit_id, flag.counter_id, flag.staff_id, flag.device_id) if part)
        print(f"#{flag.id} {flag.state.value:<9} {flag.kind.value:<24} {subject} {flag.day_from}–{flag.day_to} "
              f"figure {flag.figure} vs {flag.threshold}; evidence {flag.evidence.ratings_total} ratings, "
              f"{flag.evidence.events_total} events")
    if not found:
        print("no flags")
    return EXIT_OK
