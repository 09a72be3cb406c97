"""`evaluator centre digest publish|verify`: the published digests from the command line (centre/public/digests.py).

`publish --day D [--unit U]` publishes a local day now (as the housekeeping of `serve` does after each unit's
midnight and grace), for one unit or every unit: the same function, so the same digest. `verify` checks that
the ratings held still give each published root (`--day`), or prints a rating's inclusion proof and checks it
(`--rating UUID`), exit 1 when anything fails: what an auditor runs after a suspicion.
"""
from __future__ import annotations

import argparse
import json

from sqlalchemy import Engine, select

from centre.cliargs import iso_day
from centre.db.engine import open_engine
from centre.db.tables import units
from centre.errors import BadInput
from centre.public import digests

EXIT_OK, EXIT_PROBLEM = 0, 1


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser],
                 common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser("digest", help="The units' published daily digests: publish a day, verify.")
    actions = parser.add_subparsers(dest="digest_command", required=True, metavar="ACTION")
    publish = actions.add_parser("publish", parents=[common],
                                 help="Publish a local day's digest of one unit or every unit (idempotent; late "
                                      "ratings make a newer digest, the older marked superseded).")
    verify = actions.add_parser("verify", parents=[common],
                                help="Check the published digests of a day against the ratings held, or a rating's "
                                     "inclusion proof; exit 1 when any fails.")
    for action in (publish, verify):
        action.add_argument("--day", type=iso_day, metavar="YYYY-MM-DD", help="the units' local day")
        action.add_argument("--unit", help="one unit (default: every unit)")
        action.add_argument("--json", action="store_true", help="JSON, one object a line")
    verify.add_argument("--rating", metavar="UUID", help="the inclusion proof of this rating instead")



def _units(engine: Engine, unit: str | None) -> list[str]:
    if unit is not None:
        return [unit]
    with engine.connect() as conn:
        return list(conn.execute(select(units.c.id).order_by(units.c.id)).scalars())


def _publish(engine: Engine, args: argparse.Namespace) -> int:
    if args.day is None:
        raise BadInput("digest publish: give --day YYYY-MM-DD")
    worst = EXIT_OK
    for unit_id in _units(engine, args.unit):
        done = digests.publish_day(engine, unit_id, args.day)
        worst = EXIT_PROBLEM if done.outcome is digests.Outcome.MISMATCH else worst
        digest = done.digest
        if args.json:
            print(json.dumps({"outcome": done.outcome.value, **(digest.as_json() if digest else {})},
                             ensure_ascii=False))
        elif digest is not None:
            print(f"{unit_id} {done.day}: {done.outcome.value}; root {digest.root}, {digest.ratings} rating(s), "
                  f"published {digest.published_at}")
    return worst


def _verify_day(engine: Engine, args: argparse.Namespace) -> int:
    if args.day is None:
        raise BadInput("digest verify: give --day YYYY-MM-DD or --rating UUID")
    worst = EXIT_OK
    with engine.connect() as conn:
        for unit_id in _units(engine, args.unit):
            digest, ok = digests.holds(conn, unit_id, args.day)
            worst = worst if ok else EXIT_PROBLEM
            if args.json:
                print(json.dumps({"unit_id": unit_id, "day": args.day.isoformat(), "holds": ok,
                                  "digest": digest.as_json() if digest else None}, ensure_ascii=False))
            elif digest is None:
                print(f"{unit_id} {args.day.isoformat()}: not published")
            else:
                print(f"{unit_id} {args.day.isoformat()}: {'holds' if ok else 'MISMATCH'}; root {digest.root}, "
                      f"{digest.ratings} rating(s) published {digest.published_at}")
    return worst


def _verify_rating(engine: Engine, args: argparse.Namespace) -> int:
    with engine.connect() as conn:
        found = digests.proof(conn, args.rating)
    if args.json:
        print(json.dumps(found.as_json(), ensure_ascii=False))
    else:
        print(f"rating {found.rating_uuid}: {found.state.value}")
        if found.digest is not None and found.index is not None:
            print(f"  unit {found.unit_id}, day {found.day}: leaf {found.index} of {found.digest.ratings}, "
                  f"root {found.digest.root} (published {found.digest.published_at})")
            print(f"  leaf {found.leaf}")
            for step in found.path:
                print(f"  path {step}")
    return EXIT_OK if found.verified else EXIT_PROBLEM


def _digest(args: argparse.Namespace) -> int:
    engine = open_engine(args.db, create=False)
    try:
        if args.digest_command == "publish":
            return _publish(engine, args)
        if args.rating:
            return _verify_rating(engine, args)
        return _verify_day(engine, args)
    finally:
        engine.dispose()


HANDLERS = {"digest": _digest}
