"""The terminal's waits are drawn at random, so terminals that are told the same thing, or start together, never
act in step (docs/sync-protocol.md, "Retry rules"): the centre's Retry-After and a random share of it, the
interval ± its jitter, the first drain after start within a spread.

The bounds are asserted on every draw. Where a spread is asserted, it is over thousands of draws and with a
margin that a uniform draw misses with a probability below 10⁻⁴⁰: these tests cannot flake.
"""
from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest

from evaluator.terminal import open_store
from kiosk.config import SyncSettings
from sync.client import TransientError
from sync.uploader import SyncWorker, after_retry_after, interval_wait, start_wait, transient_wait
from tests.sync.conftest import fill, provisioned
from tests.sync.fault_proxy import FaultProxy

DRAWS = 2000
DEFAULTS = SyncSettings()


def spread(draws: list[float], low: float, high: float) -> float:
    """The share of [low, high] that the draws span."""
    return (max(draws) - min(draws)) / (high - low)


@pytest.mark.parametrize("retry_after_s", [1, 3, 10, 60, 600])
def test_a_retry_after_is_waited_at_least_and_at_most_its_share_more(retry_after_s: int) -> None:
    share, cap = DEFAULTS.retry_after_jitter, DEFAULTS.retry_after_jitter_max_s
    high = retry_after_s + min(share * retry_after_s, cap)
    waits = [transient_wait(TransientError("HTTP 503", retry_after_s), attempt, DEFAULTS)
             for attempt in range(1, DRAWS + 1)]      # the attempt count does not matter when the centre says when
    assert all(retry_after_s <= wait <= high for wait in waits)
    assert spread(waits, retry_after_s, high) > 0.9   # P(a draw-free 5 % at either end) < 2 × 0.95²⁰⁰⁰


def test_terminals_told_the_same_second_come_back_apart() -> None:
    # A busy centre answers many refusals in the same second with the same Retry-After: 100 terminals told
    # 10 s return over 10–15 s (the 5 s cap), never all at once. Each terminal is its own process, so its own
    # generator, seeded from the OS; one each here.
    returns = [after_retry_after(10, 1.0, 5.0, random.Random()) for _ in range(100)]
    assert len(set(returns)) == 100 and all(10 <= wait <= 15 for wait in returns)
    per_second = Counter(int(wait) for wait in returns)
    assert max(per_second.values()) <= 50          # 20 expected in each of the five seconds


def test_each_terminal_process_draws_its_own_waits() -> None:
    # The module's generator is seeded from the OS in each process: two terminals never draw the same waits.
    draw = "from sync.uploader import after_retry_after, interval_wait; " \
           "print(after_retry_after(10, 1.0, 5.0), interval_wait(60, 0.1))"
    outputs = [subprocess.run([sys.executable, "-c", draw], capture_output=True, text=True, timeout=60, check=True)
               .stdout for _ in range(3)]
    assert len(set(outputs)) == 3, outputs


def test_a_zero_retry_after_is_no_wait_and_without_one_the_backoff_holds() -> None:
    assert transient_wait(TransientError("HTTP 503", 0.0), 1, DEFAULTS) == 0.0
    waits = [transient_wait(TransientError("reset"), 3, DEFAULTS) for _ in range(DRAWS)]
    assert all(0 <= wait <= DEFAULTS.backoff_base_s * 2 ** 3 for wait in waits)


@pytest.mark.parametrize("share", [0.0, 0.1, 0.5])
def test_the_interval_is_jittered_within_its_share(share: float) -> None:
    waits = [interval_wait(60.0, share) for _ in range(DRAWS)]
    assert all(60 * (1 - share) <= wait <= 60 * (1 + share) for wait in waits)
    if share:
        assert spread(waits, 60 * (1 - share), 60 * (1 + share)) > 0.9
    else:
        assert set(waits) == {60.0}


def test_the_first_drain_is_spread_within_the_start_spread_and_one_interval() -> None:
    waits = [start_wait(DEFAULTS) for _ in range(DRAWS)]
    assert all(0 <= wait <= DEFAULTS.start_spread_s for wait in waits) and spread(waits, 0, 30) > 0.9
    short = DEFAULTS.model_copy(update={"interval_s": 5.0})
    assert all(0 <= start_wait(short) <= 5.0 for _ in range(DRAWS))
    assert start_wait(DEFAULTS.model_copy(update={"start_spread_s": 0.0})) == 0.0


def test_the_worker_waits_out_the_retry_after_and_at_most_its_share_more(collector, terminal_config) -> None:
    """The real worker through a proxy that answers its first request 503 with Retry-After: 1."""
    settings = provisioned(collector, terminal_config())
    fill(settings, 3)
    with TimedProxy(collector.url, ["503"] + [None] * 50, retry_after_s=1) as proxy:
        run_worker_until(settings, proxy, lambda: len(proxy.arrivals) >= 2)
    (refused_at, fault), (again_at, _) = proxy.arrivals[:2]
    assert fault == "503"
    # Never sooner than asked; at most 1 s more (100 % of 1 s), with room for a loaded machine.
    assert 1.0 <= again_at - refused_at <= 2.0 + 3.0, again_at - refused_at


class TimedProxy(FaultProxy):
    """The fault proxy, noting when each request arrived (monotonic) and the fault it got."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.arrivals: list[tuple[float, str | None]] = []

    def next_fault(self) -> str | None:
        fault = super().next_fault()
        self.arrivals.append((time.monotonic(), fault))
        return fault


def run_worker_until(settings, proxy: FaultProxy, condition, timeout_s: float = 30) -> None:
    """Run the real worker, its device key pointed at the proxy, until `condition()` holds."""
    credentials = settings.sync.state_dir / "device.json"
    credentials.write_text(json.dumps({**json.loads(credentials.read_text()), "server": proxy.url}))
    store = open_store(settings)
    stop = threading.Event()
    thread = threading.Thread(target=SyncWorker(settings, store, stop).run)
    thread.start()
    try:
        deadline = time.monotonic() + timeout_s
        while not condition():
            assert time.monotonic() < deadline, "the worker did not come back"
            stop.wait(0.01)
    finally:
        stop.set()
        thread.join(30)
        store.close()
