"""`evaluator summary`, `verify` and `export`: reading the ratings the terminal stored, never changing them."""
from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from evaluator.commands.common import EXIT_FAILED, EXIT_OK, UsageError, existing_store, load_settings, progress_bar
from kiosk.config import Locale, Settings
from kiosk.store.days import today

if TYPE_CHECKING:
    from kiosk.rating.scoring import DaySummary


def summary(args: argparse.Namespace) -> int:
    from kiosk.rating import scoring

    settings = load_settings(args)
    store = existing_store(settings)
    try:
        day = args.date or today(settings.unit.zone)
        result = scoring.summarize_day(store, day, settings.unit.zone, settings.bad_levels)
    finally:
        store.close()
    if args.json:
        print(json.dumps(result.to_json(), ensure_ascii=False))
    else:
        print(summary_text(settings, result))
    return EXIT_OK


def summary_text(settings: Settings, result: DaySummary) -> str:
    zh = settings.locale is Locale.ZH
    unit = settings.unit.name if zh else settings.unit.name_en
    counter = settings.counter.name if zh else settings.counter.name_en
    lines = [f"{unit} · {counter} · {result.date.isoformat()}"]
    most = max(result.by_level.values(), default=0) or 1
    for level in sorted(settings.levels, key=lambda lv: -lv.level):
        count = result.by_level.get(level.level, 0)
        bar = "█" * round(30 * count / most)
        lines.append(f"  {level.label(settings.locale):<10}\t{count:>6}  {bar}")
    rate = "—" if result.good_rate is None else f"{result.good_rate * 100:.1f} %"
    lines.append(f"  {'合计' if zh else 'total'} {result.total}   {'好评率' if zh else 'good rate'} {rate}")
    labels = {reason.code: reason.label(settings.locale) for reason in settings.bad_reasons}
    reasons = ", ".join(f"{labels.get(code, code)} {n}" for code, n in sorted(result.bad_reasons.items(),
                                                                            key=lambda item: -item[1]))
    lines.append(f"  {'差评原因' if zh else 'bad-review reasons'}: {reasons or '—'}")
    lines.append(f"  {'未评价' if zh else 'unrated'} {result.unrated}   "
                 f"{'无效按键' if zh else 'suppressed presses'} {result.suppressed}")
    return "\n".join(lines)


def verify(args: argparse.Namespace) -> int:
    """The chain (sequence, links, each row's hash), then the store against the centre's acknowledgements (the
    anchor): a cut tail of synced ratings is found too. What it cannot see: README, "Integrity"."""
    from kiosk.store import StorageError
    from kiosk.store.sync_state import read_anchor, verify_store

    settings = load_settings(args)
    store = existing_store(settings)
    try:
        result = verify_store(store, settings.sync.state_dir)
    except StorageError as exc:
        raise UsageError(f"cannot read the rating store: {exc}") from None
    finally:
        store.close()
    if result.ok:
        anchor = read_anchor(settings.sync.state_dir)
        held = f"; holds seq {anchor.seq}, the last the centre acknowledged" if anchor else ""
        print(f"OK: {result.checked} ratings, sequence continuous and hash chain intact{held} "
              f"({settings.store.path})")
        return EXIT_OK
    where = f" at seq {result.first_broken_seq}" if result.first_broken_seq else ""
    print(f"BROKEN{where}: {result.problem} ({result.checked} ratings before it are intact)", file=sys.stderr)
    return EXIT_FAILED


def export(args: argparse.Namespace) -> int:
    from kiosk.store.export import export_csv, on_own_disk

    settings = load_settings(args)
    until = args.until or today(settings.unit.zone)
    if until < args.since:
        raise UsageError(f"--until {until} is before --since {args.since}")
    if not args.out.parent.is_dir():   # a mistyped folder would otherwise be made and the file lost in it
        raise UsageError(f"folder {args.out.parent} does not exist (is the USB stick mounted?); nothing written")
    store = existing_store(settings)
    try:
        done = export_csv(store, settings, args.since, until, args.out,
                          progress=lambda n, total: progress_bar(n, total, "ratings"))
    except OSError as exc:
        raise UsageError(f"cannot write {args.out}: {exc}") from None
    finally:
        store.close()
    print(f"{done.rows} rating(s) from {args.since} to {until} written to {done.path}")
    if on_own_disk(done.path.parent, settings.store.path):
        print(f"note: {done.path.parent} is on the terminal's own disk, not on a USB stick", file=sys.stderr)
    return EXIT_OK
