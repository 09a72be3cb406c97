"""`evaluator centre duty set|list|remove`: the units' duty addresses for alerts, registered by centre/cli.py."""
from __future__ import annotations

import argparse
import dataclasses
import json

from centre.alerts import duty
from centre.db.engine import open_engine

EXIT_OK = 0


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser],
                 common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser("duty", help="Who gets a unit's bad-review alerts by e-mail: set, list, remove.")
    actions = parser.add_subparsers(dest="duty_command", required=True, metavar="ACTION")
    setting = actions.add_parser("set", parents=[common], help="Set (or replace) a unit's duty manager and address.")
    setting.add_argument("--unit", required=True, help="unit id (`evaluator centre unit list`)")
    setting.add_argument("--email", required=True, metavar="ADDRESS", help="where the unit's alerts go")
    setting.add_argument("--name", required=True, help="the duty manager's name")
    listing = actions.add_parser("list", parents=[common], help="Every unit's duty manager and address.")
    listing.add_argument("--json", action="store_true", help="a JSON list, one object per unit")
    removing = actions.add_parser("remove", parents=[common], help="The unit gets no more e-mail alerts.")
    removing.add_argument("--unit", required=True)


def _duty(args: argparse.Namespace) -> int:
    engine = open_engine(args.db, create=False)
    if args.duty_command == "set":
        new = duty.set_duty(engine, args.unit, args.email, args.name)
        print(f"{args.unit}: alerts go to {args.name} <{args.email.strip()}>" + ("" if new else " (replaced)"))
    elif args.duty_command == "remove":
        removed = duty.remove_duty(engine, args.unit)
        print(f"{args.unit}: no duty address any more" if removed else f"{args.unit} had no duty address")
    elif args.json:
        print(json.dumps([dataclasses.asdict(item) for item in duty.list_duty(engine)], ensure_ascii=False))
    else:
        found = duty.list_duty(engine)
        for item in found:
            print(f"{item.unit_id}\t{item.unit_name}\t{item.name} <{item.email}>\t(set {item.updated_at[:19]}Z)")
        if not found:
            print("no unit has a duty address (`evaluator centre duty set --unit ID --email ADDRESS --name NAME`)")
    return EXIT_OK


HANDLERS = {"duty": _duty}
