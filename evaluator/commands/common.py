"""What every subcommand shares: the exit codes, the usage error, reading the config, opening the store read-only,
the progress bar."""
from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from kiosk.config import DEFAULT_PATHS, Settings, find_config, load

if TYPE_CHECKING:
    from kiosk.store import RatingStore

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Input the command cannot work with; printed without a traceback, exit 2."""


def embedded_defaults_note() -> str:
    return f"no config file ({' nor '.join(map(str, DEFAULT_PATHS))}): using the embedded defaults"


def load_settings(args: argparse.Namespace) -> Settings:
    """The settings of `--config`, else of the first default file; says so on stderr when there is none at all,
    for the terminal then works on defaults its technician may not expect (e.g. the store in ./var)."""
    if find_config(args.config) is None:
        print(f"note: {embedded_defaults_note()}", file=sys.stderr)
    return load(args.config)


def existing_store(settings: Settings) -> RatingStore:
    """Open the store only if the terminal made one: a read command must not create files."""
    from evaluator.terminal import open_store
    from kiosk.store import StorageError

    if not settings.store.path.is_file():
        raise UsageError(f"no rating store at {settings.store.path} (nothing rated yet: "
                         "has the terminal run with this config?)")
    try:
        return open_store(settings, migrate=False)
    except StorageError as exc:
        raise UsageError(f"cannot read the rating store: {exc}") from None


def progress_bar(done: int, total: int, unit: str, width: int = 30) -> None:
    """One line on stderr, redrawn in place; ends the line when done."""
    total = max(total, done, 1)
    filled = round(width * done / total)
    end = "\n" if done >= total else ""
    print(f"\r[{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,} {unit}", end=end, file=sys.stderr,
          flush=True)
