"""The admission control's two settings (`evaluator centre serve --max-inflight-batches N --max-batch-wait-s S`),
their limits and how they travel to worker processes (the environment); the gate itself is admission.py's."""
from __future__ import annotations

import argparse
import math
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_MAX_INFLIGHT = 4        # batches per worker process
MAX_INFLIGHT = 12               # the pool's 15 connections less three for the routes that are not admitted
DEFAULT_MAX_WAIT_S = 1.0        # seconds
MAX_WAIT_S = 10.0               # a third of the terminal's 30 s read timeout: an admitted batch is answered in time
ENV_MAX_INFLIGHT = "EVALUATOR_CENTRE_MAX_INFLIGHT_BATCHES"
ENV_MAX_WAIT = "EVALUATOR_CENTRE_MAX_BATCH_WAIT_S"            # seconds


@dataclass(frozen=True)
class AdmissionLimits:
    """`evaluator centre serve --max-inflight-batches N --max-batch-wait-s S`."""

    max_inflight: int = DEFAULT_MAX_INFLIGHT   # batches worked on at once per worker process; 0: no admission control
    max_wait_s: float = DEFAULT_MAX_WAIT_S     # seconds a batch may wait for a place before its 503

    def to_env(self) -> dict[str, str]:
        return {ENV_MAX_INFLIGHT: str(self.max_inflight), ENV_MAX_WAIT: repr(self.max_wait_s)}

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> AdmissionLimits:
        return cls(int(env.get(ENV_MAX_INFLIGHT, DEFAULT_MAX_INFLIGHT)),
                   float(env.get(ENV_MAX_WAIT, DEFAULT_MAX_WAIT_S)))


DEFAULT_ADMISSION = AdmissionLimits()


def add_options(serve: argparse.ArgumentParser) -> None:
    """`serve`'s two options (kept here, beside what they set)."""
    serve.add_argument("--max-inflight-batches", type=_inflight, default=DEFAULT_MAX_INFLIGHT, metavar="N",
                       help="ingest requests each worker process works on at once; others wait in line or get 503 "
                            f"with Retry-After (default: %(default)s; 0–{MAX_INFLIGHT}, 0: no limit)")
    serve.add_argument("--max-batch-wait-s", type=_wait, default=DEFAULT_MAX_WAIT_S, metavar="SECONDS",
                       help="how long an ingest request may wait in line before its 503, its body unread "
                            f"(default: %(default)s s; at most {MAX_WAIT_S:g})")


def limits_from(args: argparse.Namespace) -> AdmissionLimits:
    return AdmissionLimits(args.max_inflight_batches, args.max_batch_wait_s)


def _inflight(text: str) -> int:
    if not (text.isdigit() and int(text) <= MAX_INFLIGHT):
        raise argparse.ArgumentTypeError(f"must be a whole number 0–{MAX_INFLIGHT}, got {text!r}")
    return int(text)


def _wait(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not 0 < seconds <= MAX_WAIT_S:
        raise argparse.ArgumentTypeError(f"must be a number of seconds in (0, {MAX_WAIT_S:g}], got {text!r}")
    return seconds
