"""The figures and goals of bench/centre_load.py: what each scenario prints, judged against its goals."""
from __future__ import annotations

import math
import multiprocessing
import sys
from dataclasses import dataclass, field

from bench.centre_fleet import Held
from bench.centre_terminals import RATINGS_PER_DAY, Tally
from bench.common import percentile

GOAL_P99_S, GOAL_DRAIN, GOAL_WASTE, GOAL_RATE = 1.0, 1.5, 0.05, 20_000.0


@dataclass
class Outcome:
    name: str
    terminals: int
    workers: int
    tally: Tally
    seconds: float                     # the start to the last terminal done
    server: dict[str, float]           # /metrics, after minus before
    cpu: dict[str, float]              # CPU s in the window: server, database, generator, machine
    others: list[tuple[str, float]]    # the busiest commands outside this bench meanwhile, CPU s
    held: Held
    problems: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.server.get("evaluator_ratings_ingested_total", 0.0) / self.seconds if self.seconds else 0.0


# -- the report ---------------------------------------------------------------------------------------


def _ms(values: list[float], p: float) -> str:
    return f"{percentile(values, p) * 1000:,.0f}" if values else "—"


def _requests(tally: Tally, what: str) -> int:
    return sum(count for key, count in tally.statuses.items() if key.startswith(what + " "))


def _faults(tally: Tally) -> dict[str, int]:
    """Every answer that is not 2xx, and every client fault (timeouts, refused connections), by kind."""
    return {key: count for key, count in sorted(tally.statuses.items())
            if not (key.split()[1].isdigit() and 200 <= int(key.split()[1]) < 300)}


def _given_up(outcome: Outcome) -> tuple[int, int]:
    """(batches the centre answered whose client had stopped waiting, batches the centre answered)."""
    served = round(outcome.server.get("batches accepted", 0.0))
    return served - outcome.tally.acks, served


def describe(outcome: Outcome) -> None:
    """The figures every scenario prints."""
    tally, done = outcome.tally, len(outcome.tally.done_at)
    print(f"  uploads done                {done:,} of {outcome.terminals:,}"
          + "".join(f"; {count:,} {why}" for why, count in tally.failures.items()))
    new = outcome.server.get("evaluator_ratings_ingested_total", 0)
    print(f"  ratings/s                   {outcome.rate:,.0f}  ({new:,.0f} new ratings, the start to the last upload "
          f"done: {outcome.seconds:.1f} s)")
    print(f"  batch latency ms            p50 {_ms(tally.ingest_ok_s, 50)}, p99 {_ms(tally.ingest_ok_s, 99)}, "
          f"max {_ms(tally.ingest_ok_s, 100)}  ({len(tally.ingest_ok_s):,} ingests answered; send to ack)")
    print(f"  upload time ms              p50 {_ms(tally.upload_s, 50)}, p99 {_ms(tally.upload_s, 99)}  "
          "(a terminal's start to its heartbeat answered, retries and waits included)")
    faults = _faults(tally)
    print("  non-2xx and client faults   " + (", ".join(f"{key}: {count:,}" for key, count in faults.items())
                                              or "none"))
    ingest, beats = _requests(tally, "ingest"), _requests(tally, "heartbeat")
    print(f"  requests per upload         {ingest / max(done, 1):.2f} ingest + {beats / max(done, 1):.2f} heartbeat "
          f"({ingest + beats:,} requests, {tally.retries:,} retries, the longest wait before one "
          f"{tally.longest_wait_s:,.1f} s)")
    _timeline(tally, outcome.seconds)
    wasted, served = _given_up(outcome)
    again = served * RATINGS_PER_DAY - new
    print(f"  work for clients gone       {wasted:,} of the {served:,} batches the centre answered "
          f"({wasted / max(served, 1):.1%}); ratings processed again as duplicates: {again:,.0f}")
    refused = {key.split()[1]: count for key, count in outcome.server.items() if key.startswith("refused ") and count}
    told = tally.retry_after_s
    print(f"  centre's admission control  {sum(refused.values()):,.0f} refused with 503 + Retry-After "
          f"({', '.join(f'{why} {count:,.0f}' for why, count in refused.items()) or 'none'}), "
          f"{outcome.server.get('evaluator_admission_dropped_total', 0):,.0f} dropped unread (client gone in line)"
          + (f"; Retry-After s p50 {percentile(told, 50):,.0f}, p99 {percentile(told, 99):,.0f}, "
             f"max {max(told):,.0f}" if told else ""))
    print(f"  database sessions opened    {outcome.server.get('database sessions', 0):,.0f} while the clock ran "
          "(new backends: a worker's pool opens up to 15 as the load asks and keeps them)")
    verdict = "ok" if not outcome.problems else "FAILED: " + "; ".join(outcome.problems)
    held = outcome.held
    print(f"  exactly once                {held.ratings:,} ratings, {held.reasons:,} reasons, {held.events:,} events: "
          f"{held.days:,} days whole and once ({held.unacknowledged:,} of them never acknowledged), chained: {verdict}")
    cpu = outcome.cpu
    other = cpu["machine"] - cpu["server"] - cpu["database"] - cpu["generator"]
    print(f"  CPU s                       centre {cpu['server']:.1f}, database {cpu['database']:.1f}, load generator "
          f"{cpu['generator']:.1f}, others on the machine {other:.1f}  (machine busy {cpu['machine']:.1f} of "
          f"{multiprocessing.cpu_count() * cpu['window']:.1f} in the {cpu['window']:.1f} s measured)")
    seen = sum(seconds for _, seconds in outcome.others)
    print("  others                      " + "; ".join(f"{command} {seconds:.1f}" for command, seconds
                                                      in outcome.others[:3] if seconds >= 0.1)
          + f"; {max(0.0, other - seen):.1f} in processes that ended meanwhile or in the kernel")


def _timeline(tally: Tally, seconds: float) -> None:
    """Ingest answers as the run went, in about a dozen steps: when the centre took the batches, when it refused."""
    step = max(1, math.ceil(seconds / 12))
    steps = int(seconds // step) + 1
    for kind in ("2xx", "503", "other"):
        counts = [0] * steps
        for (which, second), count in tally.timeline.items():
            if which == kind and second >= 0:
                counts[min(steps - 1, second // step)] += count
        if any(counts):
            print(f"  {'ingest ' + kind + ' per ' + str(step) + ' s':27} " + " ".join(f"{count:,}" for count in counts))


def steady_goals(outcome: Outcome) -> list[tuple[str, bool]]:
    tally = outcome.tally
    errors = sum(_faults(tally).values()) + sum(tally.failures.values())     # each retry follows one of these
    expected = outcome.terminals * RATINGS_PER_DAY
    p99 = percentile(tally.ingest_ok_s, 99) if tally.ingest_ok_s else float("inf")
    return [(f"steady: {errors:,} errors (goal 0)", errors == 0),
            (f"steady: {outcome.held.ratings:,} ratings held once each (goal exactly {expected:,})",
             not outcome.problems and outcome.held.ratings == expected),
            (f"steady: p99 batch latency {p99 * 1000:,.0f} ms (goal ≤ {GOAL_P99_S * 1000:,.0f} ms)", p99 <= GOAL_P99_S)]


def burst_goals(outcome: Outcome, capacity: Outcome) -> list[tuple[str, bool]]:
    ideal = outcome.terminals * RATINGS_PER_DAY / capacity.rate
    ratio = outcome.seconds / ideal
    wasted, served = _given_up(outcome)
    share = wasted / max(served, 1)
    everyone = len(outcome.tally.done_at) == outcome.terminals
    print(f"  work-conserving time        {ideal:.1f} s ({outcome.terminals * RATINGS_PER_DAY:,} ratings ÷ "
          f"{capacity.rate:,.0f}/s, the capacity of --workers {capacity.workers} measured in this run): "
          f"drained in {ratio:.2f}× that")
    drained = (f"drained in {outcome.seconds:.1f} s = {ratio:.2f}×" if everyone else
               f"NOT drained: {len(outcome.tally.done_at):,} of {outcome.terminals:,} terminals done in "
               f"{outcome.seconds:.1f} s = {ratio:.2f}×")
    return [(f"burst: exactly once ({outcome.held.days:,} days held whole and once)", not outcome.problems),
            (f"burst: {drained} the work-conserving {ideal:.1f} s (goal ≤ {GOAL_DRAIN}×)",
             everyone and ratio <= GOAL_DRAIN),
            (f"burst: {share:.1%} of the centre's batches for clients that had given up "
             f"(goal ≤ {GOAL_WASTE:.0%})", share <= GOAL_WASTE)]


def capacity_goals(runs: dict[int, Outcome]) -> list[tuple[str, bool]]:
    """The table of the capacity runs, the 2-to-1 ratio and its bound here, and what more cores would give."""
    cores = multiprocessing.cpu_count()
    print(f"  {'':12} {'ratings/s':>10} {'p50 ms':>7} {'p99 ms':>7}   CPU s per 10,000 ratings: centre, database, "
          "load generator; cores busy")
    cost: dict[int, tuple[float, float]] = {}
    for workers, run in sorted(runs.items()):
        new = max(run.server.get("evaluator_ratings_ingested_total", 0.0), 1.0)
        centre, database, generator = (run.cpu[key] / new * 10_000 for key in ("server", "database", "generator"))
        cost[workers] = (centre / 10_000, database / 10_000)
        print(f"  --workers {workers:<2} {run.rate:10,.0f} {_ms(run.tally.ingest_ok_s, 50):>7} "
              f"{_ms(run.tally.ingest_ok_s, 99):>7}   {centre:.2f}, {database:.2f}, {generator:.2f}; "
              f"{_ours(run):.2f} of {cores} (others {(run.cpu['machine'] / run.cpu['window']) - _ours(run):.2f})")
    if 1 in runs and 2 in runs:
        busy = _ours(runs[1])
        print(f"  2-to-1 ratio {runs[2].rate / runs[1].rate:.2f}×; on this machine at most {cores} cores ÷ {busy:.2f} "
              f"busy at --workers 1 = {cores / busy:.2f}× (the centre, PostgreSQL and the load generator share the "
              "cores; less when other work takes some)")
    _project(cost)
    best = max(runs.values(), key=lambda run: run.rate)
    return [(f"capacity: {best.rate:,.0f} ratings/s at --workers {best.workers} (goal ≥ {GOAL_RATE:,.0f})",
             best.rate >= GOAL_RATE)]


def _ours(run: Outcome) -> float:
    """Cores the centre, the database and the load generator kept busy over the measured window."""
    return (run.cpu["server"] + run.cpu["database"] + run.cpu["generator"]) / run.cpu["window"]


def _project(cost: dict[int, tuple[float, float]]) -> None:
    """More cores, if CPU is all that binds: the CPU each rating costs the centre and the database, measured."""
    if 1 in cost:
        print(f"  one worker is one Python process, at most one core (the GIL): ≤ {1 / cost[1][0]:,.0f} ratings/s "
              "however many cores")
    centre, database = cost[max(cost)]
    for cores in (4, 8, 16):
        workers = max(1, round(cores * centre / (centre + database)))
        print(f"  {cores:2} cores for the centre and its database, the terminals elsewhere: ≈ "
              f"{cores / (centre + database):,.0f} ratings/s with --workers {workers}")
    print("  (linear in the CPU per rating measured here; not measured: PostgreSQL's commit flushes (this test "
          "cluster runs with fsync off), row locks on the rollup rows a unit's counters share, the 15 database "
          "connections a worker keeps)")


def verdict(goals: list[tuple[str, bool]], failed: bool) -> int:
    print("== goals")
    for text, met in goals:
        print(f"  {text}: {'met' if met else 'MISSED'}")
    if failed:
        print("EXACTLY-ONCE CHECK FAILED: the figures mean nothing", file=sys.stderr)
        return 2
    met = all(ok for _, ok in goals)
    print("goals met" if met else "GOALS MISSED")
    return 0 if met else 1
