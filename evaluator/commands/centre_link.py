"""`evaluator provision` and `sync`: the terminal's link to the city's centre (enrolling, uploading)."""
from __future__ import annotations

import argparse
import logging
import sys
from typing import TYPE_CHECKING

from evaluator.commands.common import EXIT_FAILED, EXIT_OK, existing_store, load_settings, progress_bar
from kiosk.config import Settings

if TYPE_CHECKING:
    from kiosk.store import RatingStore
    from sync.uploader import DrainResult


def provision(args: argparse.Namespace) -> int:
    from sync.client import SyncError
    from sync.provision import provision as enroll

    settings = load_settings(args)
    try:
        done = enroll(settings, args.server, args.code, args.config)
    except SyncError as exc:
        print(f"evaluator provision: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(f"provisioned as {done.device_id}")
    print(f"  key:    {done.credentials_path} (0600)")
    print(f"  config: {done.config_path} (overlays {args.config or 'config.yaml'})")
    return EXIT_OK


def sync(args: argparse.Namespace) -> int:
    from sync.client import SyncError

    settings = load_settings(args)
    store = existing_store(settings)
    try:
        if not args.once:
            _work(settings, store, args.config)
            return EXIT_OK
        result = _drain(settings, store, args.progress)
    except SyncError as exc:
        print(f"\nevaluator sync: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        store.close()
    print(f"sent {result.batches} batch(es): {result.accepted} accepted, {result.duplicate} duplicate, "
          f"{len(result.rejected)} rejected (kept on the device)")
    return EXIT_OK


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


def _drain(settings: Settings, store: RatingStore, progress: bool) -> DrainResult:
    """Send everything pending now; raises SyncError (before enrollment, or when the centre fails)."""
    from kiosk.store.outbox import Outbox
    from sync.client import enrolled_client
    from sync.uploader import Uploader

    credentials, client = enrolled_client(settings.sync)
    try:
        return Uploader(Outbox(store), client, credentials.device_id, settings.sync.batch_size).drain(
            progress=(lambda n, total: progress_bar(n, total, "ratings")) if progress else None)
    finally:
        client.close()
