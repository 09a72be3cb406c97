"""`evaluator centre staff set|list` and `evaluator centre roster` (the earlier name of `staff set`)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from centre.db.engine import open_engine
from centre.errors import BadInput
from centre.registry import staff, staff_file


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser],
                common: argparse.ArgumentParser) -> None:
    """The `staff` and `roster` commands, beside the others of `evaluator centre`."""
    group = commands.add_parser("staff", help="A unit's staff roster: set it from a file, list it.")
    actions = group.add_subparsers(dest="staff_command", required=True, metavar="ACTION")
    _add_set(actions.add_parser("set", parents=[common], help="Make a file the unit's roster: members not in it "
                                "leave (kept, with the date), those back return; every terminal of the unit "
                                "takes it at its next config pull."))
    listing = actions.add_parser("list", parents=[common], help="The unit's members, those who left included; "
                                                                "whether a PIN and a photo are set, never either.")
    listing.add_argument("--unit", required=True)
    listing.add_argument("--json", action="store_true", help="a JSON list, one object per member")
    roster = commands.add_parser("roster", parents=[common], help="Set the staff roster of a unit: the same as "
                                                                  "`staff set`.")
    _add_set(roster)
    roster.add_argument("--counter", help=argparse.SUPPRESS)   # refused with its reason, not "unrecognized"


def _add_set(command: argparse.ArgumentParser) -> None:
    command.add_argument("--unit", required=True, help="unit id (`evaluator centre unit list`)")
    command.add_argument("--file", required=True, type=Path, metavar="STAFF.yaml", help=staff_file.HELP)


def run_set(args: argparse.Namespace) -> int:
    if getattr(args, "counter", None) is not None:
        raise BadInput(f"--counter {args.counter}: a roster is the unit's since schema 0005, and every terminal "
                       f"of unit {args.unit} gets it (staff sign in at the counter they serve, and cover for each "
                       "other); give the unit's whole roster without --counter")
    entries = staff_file.read(args.file)
    done = staff.set_roster(open_engine(args.db, create=False), args.unit, entries)
    for change in done.changes:
        print(change)
    print(f"unit {done.unit_id}: {done.members} member(s) on the roster; "
          + (f"{len(done.changes)} change(s), {done.devices} device(s) take it at their next config pull"
             if done.changes else "no change"))
    return 0


def run_list(args: argparse.Namespace) -> int:
    with open_engine(args.db, create=False).connect() as conn:
        members = staff.listing(conn, args.unit)
    if args.json:
        print(json.dumps(members, ensure_ascii=False))
    elif not members:
        print(f"unit {args.unit}: no roster yet (`evaluator centre staff set --unit {args.unit} --file staff.yaml`)")
    else:
        print("\n".join(_line(member) for member in members))
    return 0


def _line(member: dict[str, Any]) -> str:
    def both(first: str, second: str | None) -> str:
        return " / ".join(part for part in (first, second) if part)

    return "  ".join([member["id"], both(member["name"], member["name_en"]),
                      f"[{both(member['post'], member['post_en']) or 'no post'}]",
                      "PIN set" if member["pin_set"] else "no PIN", "photo" if member["photo"] else "no photo",
                      f"left {member['left_at'][:10]}" if member["left_at"] else "on the roster"])


def run(args: argparse.Namespace) -> int:
    return run_list(args) if getattr(args, "staff_command", None) == "list" else run_set(args)


HANDLERS = {"staff": run, "roster": run_set}
