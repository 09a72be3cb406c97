"""Centre under load: thousands of terminals uploading their day at once to `evaluator centre serve` on PostgreSQL.

What: a real centre (`evaluator centre serve --workers N`, its defaults, admission control included) on
127.0.0.1, on a fresh PostgreSQL database per scenario (deploy/postgres.sh's server, or
EVALUATOR_TEST_PG_URL). Each terminal has its own key: its counter is registered from a generated sheet
(units of twenty counters, read as `unit import` reads it), a one-time code is made in-process, and the
terminal enrolls through the centre's route with its own client. A terminal's upload is its day: 200
chained ratings (a third solicited), the bad reviews' reasons and the day's events in one gzipped batch,
then a heartbeat, as a sync attempt sends them.
How: the days are built and gzipped before the clock starts (bench/centre_terminals.py); the terminal's own
client signs each request as it goes (sync.client.CentreClient: nonce, timestamp; `sent_at` too) with its
real timeouts (5 s connect, 30 s read); after a TransientError a terminal waits what
sync.uploader.transient_wait says (the worker's one policy: the centre's Retry-After and a random share of
it, else full jitter) and tries again, the batch only until it is acknowledged. Generator processes
(`--procs` at least) run a thread per terminal, at most `--threads` (150) a process: at 750 a process spent
more CPU handing the GIL around than sending. They run at nice 19, on what the centre and PostgreSQL leave
(terminals are devices of their own), with a long GIL switch interval (thousands of threads waiting for the GIL
woke every 5 ms and kept both cores in the kernel); bench/centre_terminals.py's generator_main says why. Their
CPU is printed beside the centre's and PostgreSQL's.
Every scenario prints ratings/s, batch latency p50/p99 (send to ack, as the terminal sees it), non-2xx
answers and client faults by kind, requests per upload, the work done for clients that had given up, the
admission control's refusals, the exactly-once check and the CPU of each party. Goals:
- capacity: `--workers 1` and `--workers 2`, each a closed loop of `--concurrency` uploads back to back
  (8 a worker by default: the 4 batches its admission control works on at once, 4 in line): ≥ 20,000
  ratings/s, the better of the two; the 2-to-1 ratio, its bound on this machine and the CPU per rating,
  extrapolated to more cores. It is the burst's baseline, in the same run.
- steady: 2,000 terminals, each at a random moment within 60 s (terminals with jittered intervals):
  no error (every request 2xx, no retry), exactly 400,000 ratings, p99 batch latency ≤ 1 s.
- burst: 3,000 terminals at the same instant (a city's network back after an outage, every retry timer
  firing at once: the worst case; `start_spread_s` is for a power-on, not modelled): exactly once; drained
  (every day acknowledged, every heartbeat answered) within 1.5× the work-conserving time, the ratings ÷ the
  capacity measured in this run at the same `--workers`; ≤ 5 % of the centre's batches done for clients
  that had already given up.
Work for clients that had given up: the centre counts each ingest it answered with an Ack (`/metrics`:
evaluator_batches_total{outcome="accepted"}, all workers summed, read before and after); the terminals
count each Ack they received. On loopback an answer is lost only when its client had stopped waiting (a
read timeout), so the difference is exactly the batches validated, stored or found duplicate, and committed,
for nobody; each batch is one day, so it is also that share of the ratings processed. Refusals (admission
control's 503s, answered before the body is read) and requests dropped unread are counted apart: they
are the cheap way to say no. Heartbeats are not in the share.
Exactly once (else exit 2): the centre holds each finished terminal's day whole and once (seq 1–200, every
reason and event once) and its heartbeat; a terminal that gave up (a retry due after `--deadline-s`) has
its day whole or not at all; every rating chains to its predecessor; no conflict. A terminal that gave up
is a burst not drained, not an exactly-once failure.
CPU: the centre's process tree, the PostgreSQL backends connected to the scenario's database (the server's
shared background processes left out), the generators' own usage, and the rest of the machine ("others").
Run: .venv/bin/python bench/centre_load.py [--quick] [--scenario capacity steady burst]   (full: minutes)
`--quick`: 200 steady terminals within 6 s (the same arrival rate), a burst of 300, 200 days per capacity run.
`--serve-arg=--max-inflight-batches=0`: the centre without admission control (the retry storm it prevents).
"""
from __future__ import annotations

import argparse
import math
import multiprocessing
import multiprocessing.connection
import os
import random
import resource
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing.sharedctypes import SynchronizedArray
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.centre_fleet import (
    Centre,
    DatabaseCpu,
    busiest_others,
    cpu_snapshot,
    enroll_fleet,
    exactly_once,
    postgres_url,
    scratch_database,
    sessions_opened,
)
from bench.centre_load_report import Outcome, burst_goals, capacity_goals, describe, steady_goals, verdict
from bench.centre_terminals import (
    PROGRESS,
    Recorder,
    Tally,
    TerminalKey,
    build_day,
    generator_main,
    run_lane,
)
from centre.db.engine import open_engine
from kiosk.config import SyncSettings

WARMUP = 16                  # terminals uploaded before the clock: the centre's first statements compiled
WARMUP_LANES = 8             # connections at once in the warm-up: every worker process takes some
T0 = time.monotonic()
Lane = list[tuple[TerminalKey, float]]
Lanes = Callable[[list[TerminalKey]], list[Lane]]
_SYNC = SyncSettings()
POLICY = (f"timeouts {_SYNC.connect_timeout_s:g} s connect, {_SYNC.read_timeout_s:g} s read; Retry-After + up to "
          f"{_SYNC.retry_after_jitter:.0%} of it, ≤ {_SYNC.retry_after_jitter_max_s:g} s; else full jitter "
          f"{_SYNC.backoff_base_s:g}–{_SYNC.backoff_cap_s:g} s")


def note(message: str) -> None:
    print(f"[centre_load {time.monotonic() - T0:7.1f} s] {message}", file=sys.stderr, flush=True)


# -- running a scenario -------------------------------------------------------------------------------


def scenario(args: argparse.Namespace, folder: Path, name: str, workers: int, terminals: int,
             lanes_of: Lanes, deadline_s: float) -> Outcome:
    """A fresh database and centre, the fleet enrolled and warmed up, then the lanes run and checked."""
    with scratch_database(args.pg) as db_url:
        engine = open_engine(db_url)
        centre = Centre(db_url, folder, workers, args.serve_arg)
        try:
            note(f"{name}: centre --workers {workers} at {centre.url}; enrolling {terminals + WARMUP:,} terminals")
            keys = enroll_fleet(engine, centre.url, terminals + WARMUP, folder, name)
            warm_up(centre.url, keys[:WARMUP])
            keys = keys[WARMUP:]
            note(f"{name}: enrolled and warmed up; building the days")
            opened = sessions_opened(engine)
            tally, seconds, server, cpu, others = generate(args, centre, lanes_of(keys), deadline_s, name)
            time.sleep(1.5)     # PostgreSQL publishes its counts within a second
            server["database sessions"] = sessions_opened(engine) - opened - 1
            note(f"{name}: checking what the centre holds")
            held, problems = exactly_once(engine, tally.days, tally.finished)
        finally:
            centre.close()
            engine.dispose()
    return Outcome(name, terminals, workers, tally, seconds, server, cpu, others, held, problems)


def warm_up(server: str, keys: list[TerminalKey]) -> None:
    """A few days uploaded from this process before the clock, nothing of it counted: each worker process's
    statements compiled and caches filled, as in a centre that has been running. Over WARMUP_LANES connections at
    once, so that every worker takes some: over one keep-alive connection it reached one worker, and in a burst
    the other measured its rate on its first, cold batches (3 a second where it serves 15–20) and booked the
    refused terminals' returns at that rate."""
    recorder = Recorder(multiprocessing.Array("q", len(PROGRESS)))
    end, rng = datetime.now(UTC) - timedelta(minutes=5), random.Random(0)
    days = [(build_day(key, rng, end), 0.0) for key in keys]
    start = time.monotonic()
    lanes = [threading.Thread(target=run_lane, args=(server, days[index::WARMUP_LANES], start, start + 120,
                                                     recorder)) for index in range(WARMUP_LANES)]
    for lane in lanes:
        lane.start()
    for lane in lanes:
        lane.join()
    if recorder.tally.failures:
        raise SystemExit(f"warm-up failed: {dict(recorder.tally.failures)}")


def generate(args: argparse.Namespace, centre: Centre, lanes: list[Lane], deadline_s: float,
             name: str) -> tuple[Tally, float, dict[str, float], dict[str, float], list[tuple[str, float]]]:
    """Run the lanes in generator processes of at most `--threads` threads each (beyond a few hundred threads a
    process spends its CPU handing the GIL around) from a common start; (tally, seconds, metrics, CPU)."""
    context = multiprocessing.get_context("spawn")
    progress = context.Array("q", len(PROGRESS))
    pipes, processes = [], []
    procs = max(args.procs, math.ceil(len(lanes) / args.threads))
    for index in range(procs):
        ours, theirs = context.Pipe()
        process = context.Process(target=generator_main, args=(theirs, centre.url, lanes[index::procs],
                                                               args.seed + index, progress), daemon=True)
        process.start()
        pipes.append(ours)
        processes.append(process)
    for pipe in pipes:
        if pipe.recv() != "ready":
            raise SystemExit("a generator process did not get ready")
    database = DatabaseCpu(centre.database)
    cpu_before, own_before = cpu_snapshot(centre.process.pid), _own_cpu()
    before = centre.metrics()
    window = time.monotonic()
    start = time.time() + 2.0        # every generator's threads started and waiting by then
    for pipe in pipes:
        pipe.send((start, deadline_s))
    total = sum(len(lane) for lane in lanes)
    tallies = _collect(pipes, progress, total, name, start)
    cpu_after, own_after, database_s = cpu_snapshot(centre.process.pid), _own_cpu(), database.stop()
    after = centre.metrics()
    window = time.monotonic() - window
    for process in processes:
        process.join(timeout=30)
    tally = Tally()
    for part in tallies:
        tally.merge(part)
    cpu = {key: getattr(cpu_after, key) - getattr(cpu_before, key) for key in ("server", "machine")}
    cpu.update(database=database_s, generator=tally.cpu_s + own_after - own_before, window=window)
    others = busiest_others(cpu_before, cpu_after, {os.getpid(), *database.pids,
                                                    *(process.pid or 0 for process in processes)})
    server = {key: after.get(key, 0.0) - before.get(key, 0.0) for key in after}
    return tally, max(tally.done_at, default=0.0), server, cpu, others


def _collect(pipes: list[multiprocessing.connection.Connection], progress: SynchronizedArray[int], total: int,
             name: str, start: float) -> list[Tally]:
    """Each generator's tally, noting the progress every five seconds meanwhile."""
    tallies: list[Tally] = []
    waiting, last = list(pipes), time.monotonic()
    while waiting:
        for pipe in multiprocessing.connection.wait(waiting, timeout=1.0):
            assert isinstance(pipe, multiprocessing.connection.Connection)
            tallies.append(pipe.recv())
            waiting.remove(pipe)
        if time.monotonic() - last >= 5 and time.time() > start:
            last = time.monotonic()
            counts = progress[:]
            note(f"  {name} +{time.time() - start:5.0f} s: " + ", ".join(
                f"{what} {count:,}" + (f"/{total:,}" if index == 0 else "")
                for index, (what, count) in enumerate(zip(PROGRESS, counts))))
    return tallies


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def capacity_lanes(concurrency: int) -> Lanes:
    """`concurrency` lanes, each sending its terminals' days back to back."""
    return lambda keys: [[(key, 0.0) for key in keys[index::concurrency]] for index in range(concurrency)]


def steady_lanes(window_s: float, seed: int) -> Lanes:
    """A lane per terminal, each starting at a random moment within the window."""
    rng = random.Random(seed)
    return lambda keys: [[(key, rng.uniform(0, window_s))] for key in keys]


def burst_lanes(keys: list[TerminalKey]) -> list[Lane]:
    """A lane per terminal, all at the start."""
    return [[(key, 0.0)] for key in keys]


# -- the run ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sizes:
    steady: int         # terminals
    window: float       # seconds the steady terminals start within
    burst: int          # terminals
    capacity: int       # days per capacity run


SIZES = {False: Sizes(steady=2000, window=60.0, burst=3000, capacity=1000),
         True: Sizes(steady=200, window=6.0, burst=300, capacity=200)}


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200/300 terminals, 200 per capacity run: a try-out")
    parser.add_argument("--scenario", nargs="+", choices=("capacity", "steady", "burst"),
                        default=["capacity", "steady", "burst"])
    parser.add_argument("--workers", type=int, default=1, help="the centre's workers in steady and burst "
                                                                "(default: %(default)s)")
    parser.add_argument("--concurrency", type=int, help="uploads at once in a capacity run (default: 8 a worker, "
                                                         "its 4 admitted and 4 in line)")
    parser.add_argument("--procs", type=int, default=4, help="load generator processes, at least (default: "
                                                              "%(default)s)")
    parser.add_argument("--threads", type=int, default=150, help="terminal threads per load generator process, at "
                                                                 "most (default: %(default)s)")
    parser.add_argument("--deadline-s", type=float, default=900.0, help="a burst's terminals give up after this")
    parser.add_argument("--serve-arg", action="append", default=[], metavar="ARG",
                        help="one more argument for `evaluator centre serve` (repeat), e.g. --serve-arg=--flag")
    parser.add_argument("--pg", help="PostgreSQL URL (default: EVALUATOR_TEST_PG_URL, else deploy/postgres.sh)")
    parser.add_argument("--seed", type=int, default=1)
    return parser.parse_args()


def main() -> int:
    args = parse()
    # Stopped (SIGTERM): unwind, so the centre is stopped and the scratch database dropped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))   # thousands of sockets, here and in the centre
    args.pg = args.pg or postgres_url()
    size = SIZES[args.quick]
    goals: list[tuple[str, bool]] = []
    failed = False
    with tempfile.TemporaryDirectory(prefix="bench-centre-") as tmp:
        folder, capacity = Path(tmp), {}
        runs = (1, 2) if "capacity" in args.scenario else ()
        if "burst" in args.scenario and args.workers not in runs:
            runs = (*runs, args.workers)
        for workers in runs:
            concurrency = args.concurrency or 8 * workers
            capacity[workers] = scenario(args, folder, f"capacity-w{workers}", workers, size.capacity,
                                         capacity_lanes(concurrency), 600.0)
            print(f"== capacity, --workers {workers}: {size.capacity:,} days through {concurrency} "
                  "concurrent uploads, back to back")
            describe(capacity[workers])
            failed |= bool(capacity[workers].problems)
        if "capacity" in args.scenario:
            print("== capacity")
            goals += capacity_goals(capacity)
        if "steady" in args.scenario:
            outcome = scenario(args, folder, "steady", args.workers, size.steady,
                               steady_lanes(size.window, args.seed), size.window + 300.0)
            print(f"== steady: {size.steady:,} terminals, each at a random moment within {size.window:g} s; "
                  f"--workers {args.workers}")
            describe(outcome)
            goals += steady_goals(outcome)
            failed |= bool(outcome.problems)
        if "burst" in args.scenario:
            outcome = scenario(args, folder, "burst", args.workers, size.burst, burst_lanes, args.deadline_s)
            print(f"== burst: {size.burst:,} terminals at the same instant, the terminal's client and retry policy "
                  f"({POLICY}); --workers {args.workers}")
            describe(outcome)
            goals += burst_goals(outcome, capacity[args.workers])
            failed |= bool(outcome.problems)
    return verdict(goals, failed)


if __name__ == "__main__":
    sys.exit(main())
