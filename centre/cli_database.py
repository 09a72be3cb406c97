"""`evaluator centre migrate` and `serve`, registered by centre/cli.py: the two commands that may create a database
(the others refuse a missing one)."""
from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TypeVar

from centre.api import admission_limits, limits
from centre.db.engine import migrate
from centre.logs import LOG_FORMATS

N = TypeVar("N", int, float)

EXIT_OK = 0
MAX_WORKERS = 64


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser],
                 common: argparse.ArgumentParser) -> None:
    commands.add_parser("migrate", parents=[common], help="Create the database where there is none and upgrade "
                                                          "its schema to this release's (prints from → to).")
    _add_serve(commands.add_parser("serve", parents=[common], help="Run the HTTP endpoint (and create the "
                                                                   "database where there is none)."))


def _add_serve(serve: argparse.ArgumentParser) -> None:
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=_port, default=8600)
    serve.add_argument("--log-level", default="info", choices=("critical", "error", "warning", "info", "debug"))
    serve.add_argument("--log-format", default="text", choices=LOG_FORMATS,
                       help="json: one JSON object a line (time, level, logger, message, fields), access log "
                            "included, all on stderr (default: %(default)s, uvicorn's)")
    serve.add_argument("--no-metrics", dest="metrics", action="store_false",
                       help="serve no /metrics (Prometheus; on by default, on the same port)")
    serve.add_argument("--max-body-mib", type=_mib, default=limits.DEFAULT_MAX_BODY_MIB, metavar="MiB",
                       help="refuse (413) a request body larger than this as sent, plain or gzipped "
                            "(default: %(default)s MiB)")
    serve.add_argument("--max-inflated-mib", type=_mib, default=limits.DEFAULT_MAX_INFLATED_MIB, metavar="MiB",
                       help="refuse (413) a gzipped body that inflates to more than this (default: %(default)s MiB)")
    serve.add_argument("--workers", type=_workers, default=1, metavar="N",
                       help="worker processes on one PostgreSQL database (default: %(default)s; SQLite takes one); "
                            "each keeps up to 15 database connections, so N × 15 must stay under the server's "
                            "max_connections")
    admission_limits.add_options(serve)   # --max-inflight-batches, --max-batch-wait-s
    serve.add_argument("--config", metavar="FILE", help="the city config file: cases' deadlines, alerts (SMTP, "
                                                        "webhook), the digest (deploy/centre.example.yaml); "
                                                        "without it, the defaults with alerts off")


def _in_range(convert: Callable[[str], N], fits: Callable[[N], bool], what: str) -> Callable[[str], N]:
    """An argparse type: `text` converted and checked, or refused with `what` and the text given."""
    def parse(text: str) -> N:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what}, got {text!r}") from None
        if not fits(value):
            raise argparse.ArgumentTypeError(f"{what}, got {text!r}")
        return value
    return parse


_workers = _in_range(int, lambda n: 1 <= n <= MAX_WORKERS, f"workers must be 1–{MAX_WORKERS}")
_port = _in_range(int, lambda n: 1 <= n <= 65535, "port must be 1–65535")
_mib = _in_range(float, lambda mib: 0 < mib <= 1024, "size must be a number of MiB in (0, 1024]")


def _serve(args: argparse.Namespace) -> int:
    from centre import serving

    body_limits = limits.BodyLimits(body=int(args.max_body_mib * limits.MIB),
                                    inflated=int(args.max_inflated_mib * limits.MIB))
    options = serving.ServeOptions(args.db, body_limits, metrics=args.metrics,
                                   admission=admission_limits.limits_from(args), config_path=args.config)
    serving.serve(options, host=args.host, port=args.port, workers=args.workers, log_level=args.log_level,
                  log_format=args.log_format)
    return EXIT_OK


def _migrate(args: argparse.Namespace) -> int:
    found, head = migrate(args.db)
    print(f"database schema is at {head}: up to date" if found == head
          else f"database schema {found or 'none (a new database)'} → {head}")
    return EXIT_OK


HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {"migrate": _migrate, "serve": _serve}
