"""`evaluator` subcommands.

Exit codes: 0 success, 1 the check failed (e.g. a broken chain), 2 unusable
input (bad config, missing store, bad arguments). No subcommand adds, edits
or deletes a rating: only a press does.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path

from kiosk import __version__
from kiosk.config import ConfigError, Locale, Settings, load
from kiosk.screens.demo import SNAPSHOTS

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Input the command cannot work with; printed without a traceback, exit 2."""


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
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
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.command == "run" else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return args.handler(args)
    except ConfigError as exc:
        print(f"config error:\n{exc}", file=sys.stderr)
        return EXIT_USAGE
    except UsageError as exc:
        print(f"evaluator {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _panel_sim(argv: list[str]) -> int:
    """The simulator (drivers/ knows no config); --config makes it speak like the terminal's panel port."""
    from drivers.simulator import main as simulator_main

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


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="PATH",
                        help="config file (default: ./config.yaml, then /etc/evaluator/config.yaml, "
                             "else the embedded defaults)")
    parser = argparse.ArgumentParser(prog="evaluator", description="Satisfaction evaluator terminal (满意度评价器).")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, handler: Callable[[argparse.Namespace], int], help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, parents=[common], help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        return sub

    run = add("run", _run, "Run the terminal (touchscreen, and the panel if panel.port is set).")
    run.add_argument("--headless", action="store_true",
                     help="no screen: panel, counter link, service and store only (button-only terminals)")
    run.add_argument("--panel", metavar="URL",
                     help="panel port for this run, overriding panel.port (e.g. the path panel-sim prints)")
    # Listed for --help only: main() hands these to their own parsers.
    commands.add_parser("panel-sim", help="A virtual EVP-1 panel on a pty, for development and tests.",
                        add_help=False).add_argument("args", nargs=argparse.REMAINDER)
    snap = add("snapshot", _snapshot, "Render one screen with demo data into a PNG (offscreen).")
    snap.add_argument("screen", nargs="?", choices=SNAPSHOTS, metavar="SCREEN")
    snap.add_argument("--out", type=Path, metavar="FILE.png")
    snap.add_argument("--lang", choices=[loc.value for loc in Locale], help="default: the config's locale")
    snap.add_argument("--size", type=_size, metavar="WxH", help="window size in pixels, e.g. 800x480")
    snap.add_argument("--list", action="store_true", help="name every screen and exit")
    summary = add("summary", _summary, "The day's ratings per level, 好评率, bad-review reasons, unrated count.")
    summary.add_argument("--date", type=_date, metavar="YYYY-MM-DD", help="default: today in the unit's time zone")
    summary.add_argument("--json", action="store_true", help="one JSON object on stdout")
    add("verify", _verify, "Check the local store's hash chain and sequence; exit 1 when broken.")
    export = add("export", _export, "Write the ratings of some days to a CSV file (e.g. on a USB stick).")
    export.add_argument("--since", required=True, type=_date, metavar="YYYY-MM-DD", help="first local day")
    export.add_argument("--until", type=_date, metavar="YYYY-MM-DD", help="last local day (default: today)")
    export.add_argument("--out", required=True, type=Path, metavar="FILE.csv")
    pin = add("set-pin", _set_pin, "Set a staff PIN or the technician password (stored as a salted hash).")
    who = pin.add_argument_group("whose").add_mutually_exclusive_group(required=True)
    who.add_argument("--staff", metavar="工号", help="a staff member of this counter's roster")
    who.add_argument("--technician", action="store_true")
    up = add("upgrade", _upgrade, "Install a release wheel beside the running one, switch to it, roll back if "
                                   "unhealthy.")
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
    status = add("status", _status, "Device, store, sync, panel and clock in one view; exit 1 when unhealthy.")
    status.add_argument("--json", action="store_true", help="one JSON object on stdout")
    prov = add("provision", _provision, "Enroll this terminal with the centre using a one-time code.")
    prov.add_argument("--server", required=True, metavar="URL", help="the centre, e.g. https://pingjia.example.gov.cn")
    prov.add_argument("--code", required=True, help="the enrollment code from `evaluator centre enroll-code`")
    upload = add("sync", _sync, "Upload ratings to the centre: a worker, or --once to drain the queue now.")
    upload.add_argument("--once", action="store_true", help="drain the queue and exit (0 when empty)")
    upload.add_argument("--progress", action="store_true", help="show a progress bar (with --once)")
    commands.add_parser("centre", help="The city's centre (evaluator centre --help).",
                        add_help=False).add_argument("args", nargs=argparse.REMAINDER)
    return parser


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


# -- handlers -------------------------------------------------------------------


def _run(args: argparse.Namespace) -> int:
    from evaluator.terminal import run_terminal
    from kiosk.store import StorageError
    from kiosk.ui.fonts import FontError

    settings = load(args.config)
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


def _snapshot(args: argparse.Namespace) -> int:
    if args.list:
        print("\n".join(SNAPSHOTS))
        return EXIT_OK
    if args.screen is None or args.out is None:
        raise UsageError("give a SCREEN and --out FILE.png (or --list)")
    from evaluator.terminal import render_snapshot
    from kiosk.ui.fonts import FontError

    settings = load(args.config)
    locale = Locale(args.lang) if args.lang else settings.locale
    try:
        out = render_snapshot(settings, args.screen, args.out, locale, args.size)
    except FontError as exc:
        raise UsageError(str(exc)) from None
    print(out)
    return EXIT_OK


def _existing_store(settings: Settings):
    """Open the store only if the terminal made one: a read command must not create files."""
    from evaluator.terminal import open_store
    from kiosk.store import StorageError

    if not settings.store.path.is_file():
        raise UsageError(f"no rating store at {settings.store.path} (has the terminal run with this config?)")
    try:
        return open_store(settings, migrate=False)
    except StorageError as exc:
        raise UsageError(f"cannot read the rating store: {exc}") from None


def _summary(args: argparse.Namespace) -> int:
    from kiosk.rating import scoring

    settings = load(args.config)
    store = _existing_store(settings)
    try:
        day = args.date or scoring.today(settings.unit.zone)
        result = scoring.summarize_day(store, day, settings.unit.zone, settings.bad_levels)
    finally:
        store.close()
    if args.json:
        print(json.dumps(result.to_json(), ensure_ascii=False))
    else:
        print(_summary_text(settings, result))
    return EXIT_OK


def _summary_text(settings: Settings, result) -> str:
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


def _verify(args: argparse.Namespace) -> int:
    from kiosk.store import StorageError

    settings = load(args.config)
    store = _existing_store(settings)
    try:
        result = store.verify()
    except StorageError as exc:
        raise UsageError(f"cannot read the rating store: {exc}") from None
    finally:
        store.close()
    if result.ok:
        print(f"OK: {result.checked} ratings, sequence continuous and hash chain intact ({settings.store.path})")
        return EXIT_OK
    print(f"BROKEN at seq {result.first_broken_seq}: {result.problem} "
          f"({result.checked} ratings before it are intact)", file=sys.stderr)
    return EXIT_FAILED


def _export(args: argparse.Namespace) -> int:
    from kiosk.rating import scoring
    from kiosk.store.export import export_csv, on_own_disk

    settings = load(args.config)
    until = args.until or scoring.today(settings.unit.zone)
    if until < args.since:
        raise UsageError(f"--until {until} is before --since {args.since}")
    store = _existing_store(settings)
    try:
        done = export_csv(store, settings, args.since, until, args.out,
                          progress=lambda n, total: _progress_bar(n, total, "ratings"))
    except OSError as exc:
        raise UsageError(f"cannot write {args.out}: {exc}") from None
    finally:
        store.close()
    print(f"{done.rows} rating(s) from {args.since} to {until} written to {done.path}")
    if on_own_disk(done.path.parent, settings.store.path):
        print(f"note: {done.path.parent} is on the terminal's own disk, not on a USB stick", file=sys.stderr)
    return EXIT_OK


def _set_pin(args: argparse.Namespace) -> int:
    import getpass

    from kiosk.rating.access import MIN_SECRET, AccessFile

    settings = load(args.config)
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


def _upgrade(args: argparse.Namespace) -> int:
    import functools

    from evaluator.upgrade import (
        DEFAULT_CONFIG,
        KEEP_FREE_BYTES,
        SERVICES,
        Outcome,
        UpgradeError,
        WheelNameError,
        check_health,
        restart_services,
        upgrade,
    )

    config = Path(args.config) if args.config else DEFAULT_CONFIG
    if args.settle >= args.timeout:
        raise UsageError(f"--settle {args.settle:g} must be shorter than --timeout {args.timeout:g}")
    try:
        result = upgrade(args.wheel, args.base, restart=restart_services,
                         health_check=functools.partial(check_health, config=config, services=SERVICES),
                         timeout_s=args.timeout, settle_s=args.settle,
                         find_links=args.find_links, no_index=args.no_index,
                         keep_free_bytes=KEEP_FREE_BYTES if args.keep_free_mb is None else args.keep_free_mb << 20)
    except WheelNameError as exc:
        raise UsageError(str(exc)) from None
    except UpgradeError as exc:
        print(f"evaluator upgrade: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt as exc:     # Ctrl-C, SIGHUP or SIGTERM mid-check: upgrade() rolled back first
        print(f"evaluator upgrade: interrupted ({exc or 'Ctrl-C'}); the previous release is current again",
              file=sys.stderr)
        return EXIT_FAILED
    print(result)
    return EXIT_FAILED if result.outcome is Outcome.ROLLED_BACK else EXIT_OK


def _status(args: argparse.Namespace) -> int:
    from evaluator.terminal import open_store
    from kiosk.store import StorageError
    from kiosk.store.status import gather

    settings = load(args.config)
    store, problem = None, None
    try:
        store = open_store(settings, migrate=False)
    except StorageError as exc:
        problem = f"rating store unusable: {exc}"
    try:
        status = gather(settings, store)
    finally:
        if store is not None:
            store.close()
    if problem:
        status.problems.insert(0, problem)
    if args.json:
        print(json.dumps(status.to_json(), ensure_ascii=False))
    else:
        print(_status_text(status))
    return EXIT_OK if status.healthy else EXIT_FAILED


def _status_text(status) -> str:
    lines = []
    for part in ("device", "store", "sync", "panel", "clock"):
        values = getattr(status, part)
        lines.append(f"{part}:")
        lines.extend(f"  {key:<20} {'—' if value is None else value}" for key, value in values.items())
    lines.append("healthy" if status.healthy else "PROBLEMS:\n" + "\n".join(f"  - {p}" for p in status.problems))
    if status.warnings:
        lines.append("WARNINGS:\n" + "\n".join(f"  - {w}" for w in status.warnings))
    return "\n".join(lines)


def _provision(args: argparse.Namespace) -> int:
    from sync.client import SyncError
    from sync.provision import provision

    settings = load(args.config)
    try:
        done = provision(settings, args.server, args.code, args.config)
    except SyncError as exc:
        print(f"evaluator provision: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(f"provisioned as {done.device_id}")
    print(f"  key:    {done.credentials_path} (0600)")
    print(f"  config: {done.config_path} (overlays {args.config or 'config.yaml'})")
    return EXIT_OK


def _sync(args: argparse.Namespace) -> int:
    import signal
    import threading

    from kiosk.store.outbox import Outbox
    from sync.client import CentreClient, Credentials, SyncError
    from sync.uploader import SyncWorker, Uploader

    settings = load(args.config)
    store = _existing_store(settings)
    try:
        if not args.once:
            stop = threading.Event()
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, lambda *_args: stop.set())
            logging.getLogger().setLevel(logging.INFO)
            SyncWorker(settings, store, stop, config_path=args.config).run()
            return EXIT_OK
        sync = settings.sync
        credentials = Credentials.load(sync.state_dir)
        client = CentreClient(credentials.server, credentials, sync.connect_timeout_s, sync.read_timeout_s)
        try:
            result = Uploader(Outbox(store), client, credentials.device_id, sync.batch_size).drain(
                progress=(lambda n, total: _progress_bar(n, total, "ratings")) if args.progress else None)
        finally:
            client.close()
    except SyncError as exc:
        print(f"\nevaluator sync: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        store.close()
    print(f"sent {result.batches} batch(es): {result.accepted} accepted, {result.duplicate} duplicate, "
          f"{len(result.rejected)} rejected (kept on the device)")
    return EXIT_OK


def _progress_bar(done: int, total: int, unit: str, width: int = 30) -> None:
    """One line on stderr, redrawn in place; ends the line when done."""
    total = max(total, done, 1)
    filled = round(width * done / total)
    end = "\n" if done >= total else ""
    print(f"\r[{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,} {unit}", end=end, file=sys.stderr,
          flush=True)


if __name__ == "__main__":
    sys.exit(main())
