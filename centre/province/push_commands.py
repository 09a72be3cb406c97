"""`evaluator centre province push|receiver`: the upload worker and the reference receiver from the command line.

`push` reads the city config's `province:` section (`--config centre.yaml`) or takes the endpoint and the key
file on the command line (each given option overrides the file's); it runs until stopped (Ctrl-C or SIGTERM,
between batches), or with `--once` one cycle, printing what it did (exit 1 when a request failed, so a timer
unit shows it). `receiver` serves the reference receiver until stopped.
"""
from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from centre import cityconfig
from centre.db.engine import open_engine
from centre.errors import BadInput
from centre.province import push
from centre.province.mapping import load_mapping
from centre.province.receiver.faults import FaultScript, parse_faults
from centre.province.receiver.server import Receiver, make_server
from centre.province.receiver.store import ReceiverStore
from centre.province.settings import ProvinceSettings
from centre.province.signing import load_signer, load_verifier

EXIT_OK, EXIT_PROBLEM = 0, 1


def add_push_commands(actions: argparse._SubParsersAction[argparse.ArgumentParser],
                      common: argparse.ArgumentParser) -> None:
    """`push` and `receiver` under `evaluator centre province` (`actions`: its subparsers)."""
    worker = actions.add_parser("push", parents=[common], help="Upload the pending records to the province, "
                                "signed, and keep each one's answer; until stopped, or --once.")
    worker.add_argument("--once", action="store_true", help="one cycle until nothing is due, then a summary")
    worker.add_argument("--config", type=Path, metavar="FILE", help="the city config (its province: section)")
    worker.add_argument("--endpoint", metavar="URL", help="the province's upload address")
    worker.add_argument("--key-file", type=Path, metavar="FILE", help="the HMAC secret or the SM2 private key")
    worker.add_argument("--key-id", metavar="ID", help="names our key to the province")
    worker.add_argument("--mapping", type=Path, metavar="FILE", help="the mapping (default: the shipped one)")
    worker.add_argument("--retry-held", action="store_true",
                        help="also send the records that reached max_attempts (after the fault is mended)")
    receiver = actions.add_parser("receiver", help="Run the reference receiver (the province's side) until "
                                  "stopped.")
    receiver.add_argument("--host", default="127.0.0.1", help="the address to listen on (default: 127.0.0.1)")
    receiver.add_argument("--port", type=int, required=True, help="the port (0: a free one, printed)")
    receiver.add_argument("--db", type=Path, required=True, metavar="FILE", help="its SQLite file")
    receiver.add_argument("--mapping", type=Path, metavar="FILE", help="the mapping (default: the shipped one)")
    receiver.add_argument("--key-file", type=Path, required=True, metavar="FILE",
                          help="the HMAC secret or the centre's SM2 public key")
    receiver.add_argument("--key-id", metavar="ID", help="take only this key id (default: any)")
    receiver.add_argument("--faults", default="", metavar="SPEC",
                          help='successive requests\' faults, e.g. "500,ok,slow:3,lost,garbled" (tests)')


def settings_of(args: argparse.Namespace) -> ProvinceSettings:
    """The province settings: the config file's, with the command line's options over them."""
    base = cityconfig.load(args.config).province if args.config is not None else ProvinceSettings()
    if args.config is not None and not base.enabled and args.endpoint is None:
        raise BadInput(f"{args.config}: province.enabled is false (set it, or give --endpoint)")
    changes = {name: value for name, value in (("endpoint_url", args.endpoint), ("key_file", args.key_file),
                                               ("key_id", args.key_id), ("mapping_file", args.mapping))
               if value is not None}
    merged = {**base.model_dump(), **changes, "enabled": True}
    if merged["endpoint_url"] is None:
        raise BadInput("province push: give --endpoint URL (or --config with province.endpoint_url)")
    if merged["key_file"] is None:
        raise BadInput("province push: give --key-file FILE (or --config with province.key_file)")
    try:
        return ProvinceSettings.model_validate(merged)
    except ValueError as exc:
        raise BadInput(f"province push: {exc}") from None


def _stop_on_signals(stop: threading.Event) -> None:
    def handler(signum: int, _frame: FrameType | None) -> None:
        logging.getLogger("centre.province").info("province: %s: stopping after this batch",
                                                  signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def _push(args: argparse.Namespace) -> int:
    settings = settings_of(args)
    mapping = load_mapping(settings.mapping_file)
    assert settings.key_file is not None   # settings_of requires it
    job = push.PushJob(settings, mapping, load_signer(mapping.upload.signing, settings.key_file),
                       retry_held=args.retry_held)
    engine = open_engine(args.db, create=False)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    if args.once:
        done = push.cycle(engine, job)
    else:
        stop = threading.Event()
        _stop_on_signals(stop)
        logging.getLogger("centre.province").info("province: pushing to %s every %g s",
                                                  settings.endpoint_url, settings.idle_s)
        done = push.run(engine, job, stop)
    print(f"province push: {done.words()}")
    print(f"sent {done.sent}, accepted {done.accepted}, refused {done.refused}, failed {done.failed}")
    return EXIT_PROBLEM if done.failed_requests else EXIT_OK


def _receiver(args: argparse.Namespace) -> int:
    mapping = load_mapping(args.mapping)
    try:
        faults = FaultScript(parse_faults(args.faults))
        store = ReceiverStore(args.db, mapping)
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    receiver = Receiver(store, load_verifier(mapping.upload.signing, args.key_file), faults, args.key_id)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    server = make_server(args.host, args.port, receiver)

    def handler(_signum: int, _frame: FrameType | None) -> None:
        receiver.stopping.set()
        threading.Thread(target=server.shutdown, daemon=True).start()   # shutdown() waits for serve_forever

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    host, port = server.server_address[:2]
    print(f"receiver listening on http://{host!s}:{port} ({mapping.upload.signing.value}, {args.db})", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        store.close()
    return EXIT_OK


ACTIONS = {"push": _push, "receiver": _receiver}
