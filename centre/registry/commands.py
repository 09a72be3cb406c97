"""`evaluator centre unit …`, `counter add` and `device move`: the registry from the command line."""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

from centre.db.engine import open_engine
from centre.db.tables import units
from centre.errors import BadInput, NotFound
from centre.registry import codes, importer, placements, queries, sectors
from centre.registry.model import DEFAULT_TIMEZONE, CounterSpec, UnitSpec, refuse
from centre.registry.sheet import write_template


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser],
                common: argparse.ArgumentParser) -> None:
    """The `unit`, `counter` and `device` commands, beside the others of `evaluator centre`."""
    unit = commands.add_parser("unit", help="The registry of service units: import, template, add, list, sectors.")
    actions = unit.add_subparsers(dest="unit_command", required=True, metavar="ACTION")
    loaded = actions.add_parser("import", parents=[common], help="Add or update units and counters from a CSV or "
                                "xlsx file, one row per counter; all or nothing, idempotent.")
    loaded.add_argument("file", type=Path, metavar="FILE.csv|FILE.xlsx")
    template = actions.add_parser("template", parents=[common],
                                  help="Write the import template: headers and one example row.")
    template.add_argument("--out", required=True, type=Path, metavar="FILE.xlsx|FILE.csv")
    _add_unit_add(actions.add_parser("add", parents=[common], help="Register one unit (then `counter add`)."))
    listing = actions.add_parser("list", parents=[common], help="The registered units and their counters.")
    listing.add_argument("--district", help="only this district (its name or id)")
    listing.add_argument("--sector", help="only this sector (its code, Chinese or English name)")
    listing.add_argument("--json", action="store_true", help="a JSON list, one object per unit")
    sector = actions.add_parser("sectors", parents=[common], help="The sector list; --add merges the office's own.")
    sector.add_argument("--add", type=Path, metavar="FILE.yaml", help="a YAML list of {code, name, name_en}")
    sector.add_argument("--json", action="store_true")
    counter = commands.add_parser("counter", help="A unit's counters.")
    counter_add = counter.add_subparsers(dest="counter_command", required=True, metavar="ACTION").add_parser(
        "add", parents=[common], help="Register a counter of a registered unit.")
    for flag in ("--unit", "--id", "--name"):
        counter_add.add_argument(flag, required=True)
    counter_add.add_argument("--name-en")
    device = commands.add_parser("device", help="Enrolled devices: move to another counter.")
    move = device.add_subparsers(dest="device_command", required=True, metavar="ACTION").add_parser(
        "move", parents=[common], help="Place the device at another registered counter from now; its earlier "
                                       "ratings stay with the counter it served when they were given.")
    move.add_argument("device_id", metavar="DEVICE_ID")
    move.add_argument("--to", required=True, metavar="UNIT/COUNTER", type=_unit_counter)


def _add_unit_add(add: argparse.ArgumentParser) -> None:
    add.add_argument("--id", required=True, help="the unit id (letters, digits, _ . -; at most 40)")
    add.add_argument("--name", required=True, help="its name on the terminals (at most 60 characters)")
    add.add_argument("--name-en", help="its English name (at most 80)")
    add.add_argument("--district", required=True, help="its district (县/市/区), by name; a new one is added")
    add.add_argument("--district-en", help="the district's English name")
    add.add_argument("--sector", required=True, help="its sector: code, Chinese or English name")
    add.add_argument("--timezone", default=DEFAULT_TIMEZONE, help="IANA zone (default: %(default)s)")
    add.add_argument("--hours", default="", help="opening hours, e.g. 'mon-fri 09:00-12:00 13:30-17:30'")
    add.add_argument("--address")
    add.add_argument("--credit-code", help="its 统一社会信用代码 (18 characters), for the province's records")
    add.add_argument("--region-code", help="its 行政区划 code (6 or 12 digits), the same")


def _unit_counter(text: str) -> tuple[str, str]:
    unit, slash, counter = text.partition("/")
    if not slash or not unit or not counter:
        raise argparse.ArgumentTypeError(f"give UNIT/COUNTER, e.g. u-301/c-3, got {text!r}")
    return unit, counter


def run_unit(args: argparse.Namespace) -> int:
    if args.unit_command == "template":
        write_template(args.out)
        print(f"wrote {args.out}: fill one row per counter, then `evaluator centre unit import {args.out}`")
        return 0
    engine = open_engine(args.db, create=False)
    if args.unit_command == "import":
        done = importer.import_file(engine, args.file)
        for change in done.changes:
            print(change)
        print(f"{args.file}: {done.units} unit(s), {done.counters} counter(s): "
              + (f"{len(done.changes)} change(s)" if done.changes else "no change, the registry already holds them"))
    elif args.unit_command == "add":
        _unit_add(engine, args)
    elif args.unit_command == "sectors":
        _sectors(engine, args)
    else:
        with engine.connect() as conn:
            found = queries.listing(conn, args.district, args.sector)
        print(json.dumps(found, ensure_ascii=False) if args.json else "\n".join(_unit_lines(found)) or "no units")
    return 0


def _unit_add(engine: Any, args: argparse.Namespace) -> None:
    spec = UnitSpec(id=args.id, name=args.name, name_en=args.name_en, district=args.district,
                    district_en=args.district_en, sector=args.sector, timezone=args.timezone,
                    opening_hours=args.hours, address=args.address, credit_code=codes.normalised(args.credit_code),
                    region_code=codes.normalised(args.region_code))
    refuse(spec.problems())
    with engine.begin() as conn:
        if conn.execute(select(units.c.id).where(units.c.id == args.id)).first() is not None:
            raise BadInput(f"unit {args.id} exists: change it with `evaluator centre unit import`")
        for change in queries.save(conn, [spec], []):
            print(change)


def _sectors(engine: Any, args: argparse.Namespace) -> None:
    given = sectors.read_file(args.add) if args.add else []
    with engine.begin() as conn:
        changes = sectors.merge(conn, given)
        found = sectors.all_sectors(conn)
    if args.json:
        print(json.dumps([sector.as_json() for sector in found], ensure_ascii=False))
        return
    for line in changes or ([f"{args.add}: no change"] if args.add else []):
        print(line)
    for sector in found:
        print(f"{sector.code}\t{sector.name}\t{sector.name_en or ''}")


def _unit_lines(found: list[dict[str, Any]]) -> list[str]:
    lines = []
    for unit in found:
        lines.append(f"{unit['id']}  {unit['name']}" + (f" / {unit['name_en']}" if unit["name_en"] else "")
                     + f"  [{unit['district'] or 'no district'} · {unit['sector'] or 'no sector'}]  "
                       f"{unit['timezone']}  {unit['opening_hours'] or 'no hours'}"
                     + f"  {unit['credit_code'] or 'no credit code'} · {unit['region_code'] or 'no region code'}")
        lines.extend(f"    {counter['id']}  {counter['name']}" + (f" / {counter['name_en']}" if counter["name_en"]
                                                                     else "") for counter in unit["counters"])
    return lines


def run_counter(args: argparse.Namespace) -> int:
    spec = CounterSpec(unit_id=args.unit, id=args.id, name=args.name, name_en=args.name_en)
    refuse(spec.problems())
    with open_engine(args.db, create=False).begin() as conn:
        try:
            queries.place(conn, args.unit, args.id)
        except NotFound as exc:
            if not exc.message.startswith("unknown counter"):
                raise
        else:
            raise BadInput(f"counter {args.unit}/{args.id} exists: change it with `evaluator centre unit import`")
        for change in queries.save(conn, [], [spec]):
            print(change)
    return 0


def run_device(args: argparse.Namespace) -> int:
    unit_id, counter_id = args.to
    moved = placements.move(open_engine(args.db, create=False), args.device_id, unit_id, counter_id)
    print(f"{moved.device_id}: {'/'.join(moved.before)} → {'/'.join(moved.after)} from {moved.at}; ratings "
          f"recorded before stay with {'/'.join(moved.before)}; the terminal takes its new names"
          + (f" and unit {unit_id}'s roster (`evaluator centre staff list --unit {unit_id}`)"
             if moved.before[0] != unit_id else "") + " at its next config pull")
    return 0


HANDLERS = {"unit": run_unit, "counter": run_counter, "device": run_device}
