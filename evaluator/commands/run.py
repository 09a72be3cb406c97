"""`evaluator run` and `evaluator snapshot`: the terminal itself, on a screen, headless, or as one picture."""
from __future__ import annotations

import argparse
import sys

from evaluator.commands.common import EXIT_FAILED, EXIT_OK, UsageError, load_settings
from kiosk.config import Locale
from kiosk.screens.demo import SNAPSHOTS


def run(args: argparse.Namespace) -> int:
    from evaluator.terminal import run_terminal
    from kiosk.store import StorageError
    from kiosk.ui.fonts import FontError

    settings = load_settings(args)
    if args.panel:
        settings = settings.model_copy(update={"panel": settings.panel.model_copy(update={"port": args.panel})})
    if args.headless:
        from evaluator.terminal import run_headless

        if settings.panel.port is None and settings.counter_link.port is None:
            raise UsageError("--headless needs panel.port (or counter_link.port) in the config")
        try:
            return run_headless(settings)
        except StorageError as exc:
            print(f"evaluator run: cannot open the rating store: {exc}", file=sys.stderr)
            return EXIT_FAILED
    try:
        return run_terminal(settings, args.config)
    except FontError as exc:
        raise UsageError(str(exc)) from None
    except StorageError as exc:
        print(f"evaluator run: cannot open the rating store: {exc}", file=sys.stderr)
        return EXIT_FAILED


def snapshot(args: argparse.Namespace) -> int:
    if args.list:
        print("\n".join(SNAPSHOTS))
        return EXIT_OK
    if args.screen is None or args.out is None:
        raise UsageError("give a SCREEN and --out FILE.png (or --list)")
    from evaluator.terminal import render_snapshot
    from kiosk.ui.fonts import FontError

    settings = load_settings(args)
    locale = Locale(args.lang) if args.lang else settings.locale
    try:
        out = render_snapshot(settings, args.screen, args.out, locale, args.size)
    except FontError as exc:
        raise UsageError(str(exc)) from None
    print(out)
    return EXIT_OK
