"""`evaluator provision` and `sync`: the terminal's link to the city's centre (enrolling, uploading)."""
from __future__ import annotations

import argparse
import logging
import sys
from typing import TYPE_CHECKING

from evaluator.commands.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, existing_store, load_settings, progress_bar
from kiosk.config import Settings

if TYPE_CHECKING:
    from kiosk.store import RatingStore
    from sync.uploader import DrainResult


def provision(args: argparse.Namespace) -> int:
    from kiosk.config import Locale
    from kiosk.screens.texts import say
    from sync.client import SyncError
    from sync.provision import ProvisionError
    from sync.provision import provision as enroll

    settings = load_settings(args)
    try:
        done = enroll(settings, args.server, args.code, args.config)
    except ProvisionError as exc:       # the screen's words, in English: one line, no traceback
        print(f"evaluator provision: {say('technician.provision_' + exc.problem.value, Locale.EN, **exc.values)}",
              file=sys.stderr)
        return EXIT_USAGE if exc.problem.usage else EXIT_FAILED
    except SyncError as exc:
        print(f"evaluator provision: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(f"provisioned as {done.device_id}")
    for line in done.changes:
        print(f"  {line}")
    print(f"  key:    {done.credentials_path} (0600)")
    print(f"  config: {done.config_path} (overlays {args.config or 'config.yaml'})")
    return EXIT_OK


def sync(args: argparse.Namespace) -> int:
    """The worker; or with --once one sync attempt (drain, config, heartbeat), recorded as the worker's are.

    --once exits 1 when the attempt failed, and when the centre rejected rows: they stay on the device
    (status and the technician screen count them by reason) but are an error a technician must see."""
    from sync.client import SyncError

    settings = load_settings(args)
    store = existing_store(settings)
    try:
        if not args.once:
            _work(settings, store, args.config)
            return EXIT_OK
        result, note = _attempt(settings, store, args.config, args.progress)
    except SyncError as exc:
        print(f"\nevaluator sync: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        store.close()
    print(f"sent {result.batches} batch(es): {result.accepted} accepted, {result.duplicate} duplicate, "
          f"{len(result.rejected)} rejected (kept on the device)")
    if note:
        print(f"evaluator sync: note: {note}", file=sys.stderr)
    if result.rejected:
        print(f"evaluator sync: {rejected_line(result.rejected)}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def rejected_line(rejected: dict[str, str]) -> str:
    """`{uuid: reason}` → '2 rows rejected by the centre: device_id is not the signing device (2)'."""
    from collections import Counter

    from kiosk.store.sync_state import rejected_text

    count = len(rejected)
    return (f"{count} row{'s' if count != 1 else ''} rejected by the centre: "
            + rejected_text(dict(Counter(rejected.values()))))


def _work(settings: Settings, store: RatingStore, config_path: str | None) -> None:
    """The upload worker, until SIGTERM or Ctrl-C."""
    import signal
    import threading

    from sync.uploader import SyncWorker

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_args: stop.set())
    logging.getLogger().setLevel(logging.INFO)
    SyncWorker(settings, store, stop, config_path=config_path).run()


def _attempt(settings: Settings, store: RatingStore, config_path: str | None,
             progress: bool) -> tuple[DrainResult, str | None]:
    """The worker's sync attempt, once: its result and the error it recorded though it went through (a config
    from the centre refused here); raises SyncError (before enrollment, or when the centre fails)."""
    from sync.uploader import SyncAttempt

    attempt = SyncAttempt(settings, store, config_path)
    result = attempt.run(progress=(lambda n, total: progress_bar(n, total, "ratings")) if progress else None)
    return result, attempt.last_error
