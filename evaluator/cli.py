"""`evaluator` subcommands: the parser and the dispatch; the handlers live in evaluator.commands, one module per job.

Exit codes: 0 success, 1 the check failed (e.g. a broken chain), 2 unusable
input (bad config, missing store, bad arguments). No subcommand adds, edits
or deletes a rating: only a press does.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path

# evaluator.commands.common's, not imported from there: the terminal's modules (evaluator.commands, kiosk.config,
# the screens) are imported only where a terminal command needs them, so that `evaluator centre …`, handed on
# first, pays nothing for them (~0.1 s of each start beyond the centre's own imports, which they share).
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

__all__ = ["EXIT_FAILED", "EXIT_OK", "EXIT_USAGE", "main"]

Handler = Callable[[argparse.Namespace], int]


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand; its exit code. Output cut short by the reader (`evaluator status | head`) ends quietly,
    as the Python docs advise (signal.SIGPIPE notes): stdout goes to devnull so the flush at exit cannot fail."""
    try:
        try:
            return _dispatch(sys.argv[1:] if argv is None else argv)
        finally:
            sys.stdout.flush()   # inside the try: a pipe closed early fails here, not at interpreter exit
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_FAILED


def _dispatch(argv: list[str]) -> int:
    if argv[:1] == ["panel-sim"]:  # these tools own all of their arguments, --help included
        return _panel_sim(argv[1:])
    if argv[:1] == ["centre"]:
        try:
            from centre.cli import main as centre_main
        except ImportError as exc:
            print(f"evaluator centre: needs the [centre] extra ({exc}); "
                  "pip install 'satisfaction-evaluator[centre]'", file=sys.stderr)
            return EXIT_USAGE
        return centre_main(argv[1:])
    return _terminal(argv)


def _terminal(argv: list[str]) -> int:
    """A command of the terminal itself: the parser below, the handlers in evaluator.commands."""
    from evaluator.commands.common import UsageError
    from kiosk.config import ConfigError

    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.command == "run" else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    handler: Handler = args.handler
    try:
        return handler(args)
    except ConfigError as exc:
        print(f"config error:\n{exc}", file=sys.stderr)
        return EXIT_USAGE
    except UsageError as exc:
        print(f"evaluator {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _panel_sim(argv: list[str]) -> int:
    """The simulator (drivers/ knows no config); --config makes it speak like the terminal's panel port."""
    from drivers.simulator import main as simulator_main
    from kiosk.config import ConfigError, load

    wanted = argparse.ArgumentParser(add_help=False)
    wanted.add_argument("--config")
    known, rest = wanted.parse_known_args(argv)
    if known.config is not None:
        try:
            settings = load(known.config)
        except ConfigError as exc:
            print(f"config error:\n{exc}", file=sys.stderr)
            return EXIT_USAGE
        if settings.panel.checksum and "--checksum" not in rest:
            rest.append("--checksum")
    return simulator_main(rest)


# -- the parser -------------------------------------------------------------------


class _Commands:
    """The subcommands as they are declared, in the order --help lists them; each takes --config."""

    def __init__(self, parser: argparse.ArgumentParser) -> None:
        self._common = argparse.ArgumentParser(add_help=False)
        self._common.add_argument("--config", metavar="PATH",
                                  help="config file (default: ./config.yaml, then /etc/evaluator/config.yaml, "
                                       "else the embedded defaults)")
        self._subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(self, name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        sub = self._subparsers.add_parser(name, parents=[self._common], help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        return sub

    def listed(self, name: str, help_text: str) -> None:
        """Listed for --help only: main() hands these to their own parsers."""
        self._subparsers.add_parser(name, help=help_text, add_help=False).add_argument(
            "args", nargs=argparse.REMAINDER)


def _parser() -> argparse.ArgumentParser:
    from kiosk import __version__

    parser = argparse.ArgumentParser(prog="evaluator", description="Satisfaction evaluator terminal (满意度评价器).")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = _Commands(parser)
    _add_terminal(commands)
    _add_records(commands)
    _add_device(commands)
    _add_centre(commands)
    return parser


def _add_terminal(commands: _Commands) -> None:
    from evaluator.commands import run
    from kiosk.config import Locale
    from kiosk.screens.demo import SNAPSHOTS

    running = commands.add("run", run.run, "Run the terminal (touchscreen, and the panel if panel.port is set).")
    running.add_argument("--headless", action="store_true",
                         help="no screen: panel, counter link, service and store only (button-only terminals)")
    running.add_argument("--panel", metavar="URL",
                         help="panel port for this run, overriding panel.port (e.g. the path panel-sim prints)")
    commands.listed("panel-sim", "A virtual EVP-1 panel on a pty, for development and tests.")
    snap = commands.add("snapshot", run.snapshot, "Render one screen with demo data into a PNG (offscreen).")
    snap.add_argument("screen", nargs="?", choices=SNAPSHOTS, metavar="SCREEN")
    snap.add_argument("--out", type=Path, metavar="FILE.png")
    snap.add_argument("--lang", choices=[loc.value for loc in Locale], help="default: the config's locale")
    snap.add_argument("--size", type=_size, metavar="WxH", help="window size in pixels, e.g. 800x480")
    snap.add_argument("--list", action="store_true", help="name every screen and exit")


def _add_records(commands: _Commands) -> None:
    from evaluator.commands import records

    summary = commands.add("summary", records.summary,
                           "The day's ratings per level, 好评率, bad-review reasons, unrated count.")
    summary.add_argument("--date", type=_date, metavar="YYYY-MM-DD", help="default: today in the unit's time zone")
    summary.add_argument("--json", action="store_true", help="one JSON object on stdout")
    commands.add("verify", records.verify, "Check the local store's hash chain and sequence; exit 1 when broken.")
    export = commands.add("export", records.export,
                          "Write the ratings of some days to a CSV file (e.g. on a USB stick).")
    export.add_argument("--since", required=True, type=_date, metavar="YYYY-MM-DD", help="first local day")
    export.add_argument("--until", type=_date, metavar="YYYY-MM-DD", help="last local day (default: today)")
    export.add_argument("--out", required=True, type=Path, metavar="FILE.csv")


def _add_device(commands: _Commands) -> None:
    from evaluator.commands import device

    pin = commands.add("set-pin", device.set_pin,
                       "Set a staff PIN or the technician password (stored as a salted hash).")
    who = pin.add_argument_group("whose").add_mutually_exclusive_group(required=True)
    who.add_argument("--staff", metavar="工号", help="a staff member of this counter's roster")
    who.add_argument("--technician", action="store_true")
    up = commands.add("upgrade", device.upgrade,
                      "Install a release wheel beside the running one, switch to it, roll back if unhealthy.")
    up.add_argument("wheel", type=Path, metavar="WHEEL")
    up.add_argument("--base", type=Path, default=Path("/opt/evaluator"), metavar="DIR",
                    help="where releases/ and current live (default: %(default)s)")
    up.add_argument("--timeout", type=float, default=90.0, metavar="S",
                    help="how long the new release has to turn healthy and stay so (default: %(default)s)")
    up.add_argument("--settle", type=float, default=30.0, metavar="S",
                    help="how long it must stay healthy, its services running without a crash, before it is "
                         "kept (default: %(default)s)")
    up.add_argument("--find-links", type=Path, action="append", default=[], metavar="DIR")
    up.add_argument("--no-index", action="store_true", help="install only from --find-links (offline)")
    up.add_argument("--keep-free-mb", type=int, metavar="MB",
                    help="refuse unless this much disk stays free for the ratings once the release is built "
                         "(default: 256)")
    status = commands.add("status", device.status,
                          "Device, store, sync, panel and clock in one view; exit 1 when unhealthy.")
    status.add_argument("--json", action="store_true", help="one JSON object on stdout")


def _add_centre(commands: _Commands) -> None:
    from evaluator.commands import centre_link

    prov = commands.add("provision", centre_link.provision,
                        "Enroll this terminal with the centre using a one-time code.")
    prov.add_argument("--server", required=True, metavar="URL",
                      help="the centre, e.g. https://pingjia.example.gov.cn")
    prov.add_argument("--code", required=True, help="the enrollment code from `evaluator centre enroll-code`")
    upload = commands.add("sync", centre_link.sync,
                          "Upload ratings to the centre: a worker, or --once to drain the queue now.")
    upload.add_argument("--once", action="store_true",
                        help="drain the queue and exit (1 when the centre rejected rows or the upload failed)")
    upload.add_argument("--progress", action="store_true", help="show a progress bar (with --once)")
    commands.listed("centre", "The city's centre (evaluator centre --help).")


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 1280x800, got {text!r}") from None
    if not (320 <= width <= 7680 and 240 <= height <= 7680):
        raise argparse.ArgumentTypeError(f"size {text} is outside 320x240…7680x7680")
    return width, height


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"date must be YYYY-MM-DD, got {text!r}") from None


if __name__ == "__main__":
    sys.exit(main())
