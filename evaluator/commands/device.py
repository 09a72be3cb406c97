"""`evaluator set-pin`, `upgrade` and `status`: looking after the terminal itself (its secrets, its release, its
health)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from evaluator.commands.common import EXIT_FAILED, EXIT_OK, UsageError, embedded_defaults_note, load_settings
from kiosk.config import find_config

if TYPE_CHECKING:
    from kiosk.store import RatingStore
    from kiosk.store.status import Status


def set_pin(args: argparse.Namespace) -> int:
    import getpass

    from kiosk.rating.access import MIN_SECRET, AccessFile

    settings = load_settings(args)
    if args.staff is not None and settings.staff_member(args.staff) is None:
        raise UsageError(f"{args.staff} is not in the staff roster of this terminal")
    if sys.stdin.isatty():
        secret = getpass.getpass("new PIN (digits): ")
        if getpass.getpass("again: ") != secret:
            raise UsageError("the two entries differ; nothing changed")
    else:
        secret = sys.stdin.readline().strip()
    if not (secret.isdigit() and MIN_SECRET <= len(secret) <= 16):
        raise UsageError(f"a PIN is {MIN_SECRET}–16 digits (the screen has a digit keypad); nothing changed")
    access = AccessFile(settings.sync.state_dir)
    if args.technician:
        access.set_technician_password(secret)
    else:
        access.set_staff_pin(args.staff, secret)
    print(f"{'technician password' if args.technician else 'PIN of ' + args.staff} set in {access.path} (0600)")
    return EXIT_OK


def upgrade(args: argparse.Namespace) -> int:
    import functools

    from evaluator import upgrade as rollout

    config = Path(args.config) if args.config else rollout.DEFAULT_CONFIG
    if args.settle >= args.timeout:
        raise UsageError(f"--settle {args.settle:g} must be shorter than --timeout {args.timeout:g}")
    keep_free = rollout.KEEP_FREE_BYTES if args.keep_free_mb is None else args.keep_free_mb << 20
    try:
        result = rollout.upgrade(
            args.wheel, args.base, restart=rollout.restart_services,
            health_check=functools.partial(rollout.check_health, config=config, services=rollout.SERVICES),
            timeout_s=args.timeout, settle_s=args.settle, find_links=args.find_links, no_index=args.no_index,
            keep_free_bytes=keep_free)
    except rollout.WheelNameError as exc:
        raise UsageError(str(exc)) from None
    except rollout.UpgradeError as exc:
        print(f"evaluator upgrade: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt as exc:     # Ctrl-C, SIGHUP or SIGTERM mid-check: upgrade() rolled back first
        print(f"evaluator upgrade: interrupted ({exc or 'Ctrl-C'}); the previous release is current again",
              file=sys.stderr)
        return EXIT_FAILED
    print(result)
    return EXIT_FAILED if result.outcome is rollout.Outcome.ROLLED_BACK else EXIT_OK


def status(args: argparse.Namespace) -> int:
    from evaluator.terminal import open_store
    from kiosk.store import StorageError
    from kiosk.store.status import gather

    settings = load_settings(args)
    store: RatingStore | None = None
    problem = None
    if not settings.store.path.is_file():     # opening would make one: status only looks
        problem = f"no store at {settings.store.path} (nothing rated yet)"
    else:
        try:
            store = open_store(settings, migrate=False)
        except StorageError as exc:
            problem = f"rating store unusable: {exc}"
    try:
        found = gather(settings, store)
    finally:
        if store is not None:
            store.close()
    source = find_config(args.config)
    found.device["config"] = str(source) if source is not None else embedded_defaults_note()
    if problem:
        found.problems.insert(0, problem)
    if args.json:
        print(json.dumps(found.to_json(), ensure_ascii=False))
    else:
        print(status_text(found))
    return EXIT_OK if found.healthy else EXIT_FAILED


def status_text(status: Status) -> str:
    lines = []
    for part in ("device", "store", "sync", "panel", "clock"):
        values = getattr(status, part)
        lines.append(f"{part}:")
        lines.extend(f"  {key:<20} {'—' if value is None else value}" for key, value in values.items())
    lines.append("healthy" if status.healthy else "PROBLEMS:\n" + "\n".join(f"  - {p}" for p in status.all_problems()))
    if status.warnings:
        lines.append("WARNINGS:\n" + "\n".join(f"  - {w}" for w in status.warnings))
    return "\n".join(lines)
