"""`evaluator centre enroll-code` and `revoke`, registered by centre/cli.py: a terminal's one-time enrollment code
(for every counter of a sheet: centre/enroll_batch.py), and the refusal of an enrolled device."""
from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import timedelta

from centre import enroll, enroll_batch
from centre.db.engine import open_engine

EXIT_OK = 0
MAX_TTL_HOURS = 24 * 365


def add_enroll_code(commands: argparse._SubParsersAction[argparse.ArgumentParser],
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


def add_revoke(commands: argparse._SubParsersAction[argparse.ArgumentParser],
               common: argparse.ArgumentParser) -> None:
    revoke = commands.add_parser("revoke", parents=[common], help="Refuse every later request of a device.")
    revoke.add_argument("device_id", metavar="DEVICE_ID")


def _positive_hours(text: str) -> float:
    """An argparse type: hours in (0, 8760], or refused with the text given (nan and inf too)."""
    refused = argparse.ArgumentTypeError(f"ttl must be a number of hours in (0, {MAX_TTL_HOURS}], got {text!r}")
    try:
        hours = float(text)
    except ValueError:
        raise refused from None
    if not 0 < hours <= MAX_TTL_HOURS:
        raise refused
    return hours


def _enroll_code(args: argparse.Namespace) -> int:
    if not enroll_batch.single_form(args):
        return enroll_batch.run(args)   # --file, or the refusal of a form half given
    code = enroll.create_code(open_engine(args.db, create=False), args.unit, args.counter, unit_name=args.unit_name,
                              counter_name=args.counter_name, unit_name_en=args.unit_name_en,
                              counter_name_en=args.counter_name_en, timezone_name=args.timezone,
                              ttl=timedelta(hours=args.ttl_hours))
    print(code)
    return EXIT_OK


def _revoke(args: argparse.Namespace) -> int:
    changed = enroll.revoke(open_engine(args.db, create=False), args.device_id)
    print(f"{args.device_id} revoked" if changed else f"{args.device_id} was already revoked")
    return EXIT_OK


HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {"enroll-code": _enroll_code, "revoke": _revoke}
