"""Backlog → collector: the uploader's ratings/s on a 100,000-rating backlog, and its peak memory on 1,000,000.

A real collector process serves on 127.0.0.1; terminals are provisioned
against it as `evaluator provision` does. Measured in the same run:
- `sync.uploader.Uploader` (batches of 500, gzip, signed) draining 100,000
  pending ratings: wall time and ratings/s;
- the baseline, a naive uploader sending one signed POST per rating (the same
  Uploader and CentreClient with batches of one, each marked synced), on a
  sample of 2,000 ratings from its own store and device; ratio = real / naive;
- the collector alone: the same number of ratings from a third device, read,
  encoded and gzipped beforehand and sent by a bare sign-POST-ack loop, one
  batch in flight: the ceiling any uploader could reach on this machine;
- peak RSS (VmHWM: the peak of its own address space) of an uploader
  process draining a 1,000,000-rating backlog, beside a child that imports
  the same modules and opens the same store without sending anything.
A drain of 1,000,000 that is not done after 300 s ends once its peak has
held for 100 batches, and the report says so (`--max-drain-s 0`: drain it all).
Afterwards the collector must hold exactly the drained ratings, chained and
once each, and the device must have nothing else pending; if not: exit 2.
Goals: ≥ 20,000 ratings/s, peak RSS ≤ 100 MB, ≥ 100× the naive uploader.
Run: .venv/bin/python bench/sync_backlog.py [--quick]   (a full run takes minutes)
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests

from contract import PROTOCOL_VERSION, canonical_json, canonical_object, iso_utc, rating_hash
from evaluator.terminal import open_store
from kiosk import BUILD_DATE, __version__
from kiosk.config import Settings, load
from kiosk.store import _INSERT_RATING, Identity, RatingStore
from kiosk.store.ids import rating_uuid
from kiosk.store.outbox import Cursor, Outbox
from kiosk.store.tables import Channel
from sync.client import GZIP_LEVEL, CentreClient, Credentials
from sync.provision import provision
from sync.uploader import Uploader

GOAL_RATE, GOAL_RSS_MB, GOAL_RATIO = 20_000.0, 100.0, 100.0
LEVELS = (5, 5, 4, 5, 3, 4, 5, 2, 5, 1)     # a plausible mix, bad reviews included
STEP_MS = 1                                 # recorded_at/mono_ns step between generated ratings
PLATEAU_BATCHES = 100                       # a bounded drain stops only after the peak held this long
T0 = time.monotonic()
ROLE = "bench"                              # stderr lines say which process wrote them


def note(message: str) -> None:
    print(f"[{ROLE} {time.monotonic() - T0:7.1f} s] {message}", file=sys.stderr, flush=True)


def peak_rss_kib() -> tuple[int, int]:
    """(VmRSS, VmHWM) of this process in KiB."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


class OtherLoad:
    """CPU seconds the machine spent on anything but this bench (itself, its children, its collector).

    Two cores are shared with whatever else runs here: a figure taken while
    other work ran is said to be so.
    """

    def __init__(self, collector_pid: int):
        self._pid = collector_pid

    def _now(self) -> tuple[float, float]:
        tick = os.sysconf("SC_CLK_TCK")
        user, nice, system, _idle, _iowait, irq, softirq = map(int, Path("/proc/stat").read_text().split()[1:8])
        collector = Path(f"/proc/{self._pid}/stat").read_text().rsplit(")", 1)[1].split()
        ours = sum(resource.getrusage(who).ru_utime + resource.getrusage(who).ru_stime
                   for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
        return (user + nice + system + irq + softirq) / tick, ours + (int(collector[11]) + int(collector[12])) / tick

    def __enter__(self) -> OtherLoad:
        self._start = self._now()
        return self

    def __exit__(self, *_exc: Any) -> None:
        machine, ours = self._now()
        self.seconds = max(0.0, (machine - self._start[0]) - (ours - self._start[1]))


# -- fixture generation, not measured ---------------------------------------------------


def fill_store(settings: Settings, count: int) -> None:
    """`count` pending ratings, exactly the rows RatingStore.append_rating writes, but in one transaction.

    The first rating is a real `append_rating` (its clock set back so the last
    generated one is not in the future); the rest continue its chain with the
    store's own INSERT statement and `rating_hash`. Only this fill runs with
    synchronous=OFF: one fsync per rating would take hours for 1,000,000.
    """
    start = datetime.now(UTC) - timedelta(milliseconds=STEP_MS * count)
    identity = Identity(settings.device.id, settings.unit.id, settings.counter.id)
    store = RatingStore(settings.store.path, identity, busy_timeout_ms=settings.store.busy_timeout_ms,
                        clock=lambda: start)
    try:
        store.append_rating(LEVELS[0], Channel.PANEL, "open")
        seed = store.recent_ratings(1)[0]
    finally:
        store.close()
    conn = sqlite3.connect(settings.store.path, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("PRAGMA cache_size = -262144")     # 256 MiB: the uuid index is random-access
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(_INSERT_RATING, _chain_after(seed, count - 1))
        conn.execute("COMMIT")
    finally:
        conn.close()


def _chain_after(seed: dict[str, Any], count: int) -> Iterator[dict[str, Any]]:
    """The fields append_rating would compute for the next `count` presses, `STEP_MS` apart."""
    first = datetime.fromisoformat(seed["recorded_at"])
    prev_hash = seed["hash"]
    for i in range(1, count + 1):
        moment = first + timedelta(milliseconds=STEP_MS * i)
        row = {
            "uuid": rating_uuid(moment), "seq": seed["seq"] + i,
            "device_id": seed["device_id"], "unit_id": seed["unit_id"], "counter_id": seed["counter_id"],
            "staff_id": None, "case_no": None, "item_code": None, "level": LEVELS[i % len(LEVELS)],
            "channel": Channel.PANEL.value, "mode": "open", "recorded_at": iso_utc(moment),
            "mono_ns": seed["mono_ns"] + STEP_MS * 1_000_000 * i, "boot_id": seed["boot_id"],
            "clock_suspect": moment < BUILD_DATE, "app_version": __version__, "prev_hash": prev_hash,
        }
        row["hash"] = prev_hash = rating_hash(row)
        if i % 200_000 == 0:
            note(f"  generated {i:,}/{count:,}")
        yield row


# -- the collector and the terminals ------------------------------------------------------


class Collector:
    """A real `centre.cli serve` process on a free loopback port."""

    def __init__(self, folder: Path):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.path = folder / "collector.db"
        self.db = f"sqlite:///{self.path}"
        self.url = f"http://127.0.0.1:{port}"
        self._log = open(folder / "collector.log", "w")
        self.process = subprocess.Popen(self._cli("serve", "--host", "127.0.0.1", "--port", str(port)),
                                        stdout=self._log, stderr=self._log, cwd=ROOT)
        deadline = time.monotonic() + 30
        while not self._healthy():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"collector did not start:\n{(folder / 'collector.log').read_text()}")
            time.sleep(0.05)

    def _cli(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "centre.cli", *args, "--db", self.db]

    def _healthy(self) -> bool:
        try:
            return requests.get(self.url + "/healthz", timeout=1).status_code == 200
        except requests.ConnectionError:
            return False

    def run(self, *args: str) -> str:
        done = subprocess.run(self._cli(*args), capture_output=True, text=True, timeout=600, cwd=ROOT)
        if done.returncode not in (0, 1):
            raise SystemExit(f"collector {args[0]} failed: {done.stderr}")
        return done.stdout

    def held(self, device_id: str) -> tuple[int, int, int]:
        """(rows, distinct seqs, max seq) the collector's database holds for a device."""
        with sqlite3.connect(f"file:{self.path}?mode=ro", uri=True) as conn:
            return conn.execute("SELECT count(*), count(DISTINCT seq), coalesce(max(seq), 0) FROM ratings "
                                "WHERE device_id = ?", (device_id,)).fetchone()

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self._log.close()


def terminal(collector: Collector, folder: Path, counter: str) -> Path:
    """A provisioned terminal config in its own folder, as `evaluator provision` leaves it."""
    folder.mkdir()
    config = folder / "config.yaml"
    config.write_text("sync: {batch_size: 500}\n", encoding="utf-8")
    sheet = folder / "registry.csv"     # an enrollment code names a registered unit and counter
    sheet.write_text(f"district,sector,unit_id,unit_name,counter_id,counter_name\nbench,education,bench-unit,"
                     f"bench-unit,{counter},{counter}\n", encoding="utf-8")
    collector.run("unit", "import", str(sheet))
    code = collector.run("enroll-code", "--unit", "bench-unit", "--counter", counter).strip()
    provision(load(config), collector.url, code, config)
    return config


class Sender:
    """What the sync process holds: settings, store, outbox, a signed client."""

    def __init__(self, config: Path):
        self.settings = load(config)
        self.store = open_store(self.settings)
        self.outbox = Outbox(self.store)
        sync = self.settings.sync
        self.credentials = Credentials.load(sync.state_dir)
        self.client = CentreClient(self.credentials.server, self.credentials, sync.connect_timeout_s,
                                   sync.read_timeout_s)
        self.uploader = Uploader(self.outbox, self.client, self.credentials.device_id, sync.batch_size)

    def close(self) -> None:
        self.client.close()
        self.store.close()


def naive_drain(sender: Sender) -> int:
    """The baseline: the same uploader with batches of one, i.e. one signed POST per rating, each marked synced."""
    naive = Uploader(sender.outbox, sender.client, sender.credentials.device_id, batch_size=1)
    result = naive.drain()
    check(not result.duplicate and not result.rejected, f"naive drain: {result}")
    return result.accepted


def progress_printer(label: str, every: int) -> Any:
    """A progress callback noting, every `every` ratings, the rate so far and over the last stretch."""
    last = {"done": 0, "at": time.perf_counter()}
    started = last["at"]

    def progress(done: int, total: int) -> None:
        if done - last["done"] >= every or done >= total:
            now = time.perf_counter()
            note(f"  {label}: {done:,}/{total:,} ratings, {done / (now - started):,.0f}/s "
                 f"(last {done - last['done']:,}: {(done - last['done']) / (now - last['at']):,.0f}/s)")
            last.update(done=done, at=now)
    return progress


# -- the child processes (peak RSS) --------------------------------------------------------


class _Enough(Exception):
    """Raised from the progress callback to end a bounded drain (the uploader applies the acks it has)."""


def child_main(mode: str, config: Path, max_s: float) -> int:
    """`--child drain|idle CONFIG`: one JSON line on stdout; progress on stderr."""
    global ROLE
    ROLE = f"child {mode}"
    sender = Sender(config)
    out: dict[str, Any] = {"mode": mode}
    try:
        if mode == "drain":
            out.update(_child_drain(sender, max_s))
    finally:
        sender.close()
    out["vm_rss_kib"], out["vm_hwm_kib"] = peak_rss_kib()
    print(json.dumps(out), flush=True)
    return 0


def _child_drain(sender: Sender, max_s: float) -> dict[str, Any]:
    """Drain all of it, or, with `max_s`, stop once that time is up and the peak has not moved for a while."""
    started, trace = time.perf_counter(), []
    backlog = sender.outbox.depth().ratings
    report = progress_printer("memory drain", 100_000)
    state = {"done": 0, "batches": 0, "hwm": 0, "hwm_batch": 0}

    def progress(done: int, total: int) -> None:
        state["done"], state["batches"] = done, state["batches"] + 1
        rss, hwm = peak_rss_kib()
        if hwm > state["hwm"]:
            state["hwm"], state["hwm_batch"] = hwm, state["batches"]
        if state["batches"] % 50 == 0:
            trace.append((done, rss))
        report(done, total)
        flat = state["batches"] - state["hwm_batch"] >= PLATEAU_BATCHES
        if max_s and time.perf_counter() - started > max_s and flat:
            raise _Enough

    stopped = False
    try:
        sender.uploader.drain(progress=progress)
    except _Enough:
        stopped = True
    seconds = time.perf_counter() - started
    # What left the queue, from the store: a batch may have been acknowledged (and marked) after the
    # last progress call. The parent checks that the collector holds exactly these.
    state["done"] = backlog - sender.outbox.depth().ratings
    note(f"  memory drain: {state['done']:,} ratings in {seconds:.1f} s, peak last rose at batch "
         f"{state['hwm_batch']} of {state['batches']}")
    return {"drained": state["done"], "batches": state["batches"], "seconds": seconds, "stopped_early": stopped,
            "rss_trace": trace, "hwm_batch": state["hwm_batch"]}


def run_child(mode: str, config: Path, max_s: float) -> dict[str, Any]:
    """The child's JSON line, with its VmHWM: the peak RSS of its own address space since exec.

    Not ru_maxrss: Linux carries the pre-exec peak over exec, and a (v)forked
    child's pre-exec address space is this parent's.
    """
    done = subprocess.run([sys.executable, __file__, "--child", mode, str(config), "--max-drain-s", str(max_s)],
                          stdout=subprocess.PIPE, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"child {mode} failed with exit {done.returncode}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- the run ---------------------------------------------------------------------------------


class Failed(Exception):
    """A correctness check failed: the figures mean nothing."""


def check(condition: bool, message: str) -> None:
    if not condition:
        raise Failed(message)


def check_integrity(collector: Collector, expected: dict[str, int]) -> None:
    report = json.loads(collector.run("integrity", "--json"))
    found = {item["device_id"]: item for item in report["devices"]}
    for device_id, count in expected.items():
        item = found.get(device_id)
        check(item is not None, f"collector does not know {device_id}")
        check((item["ratings_held"], item["last_seq"], item["gaps"], item["chain_breaks"], item["conflicts"])
              == (count, count, [], [], 0), f"collector holds for {device_id}: {item}")


def prepare(collector: Collector, folder: Path, name: str, counter: str, count: int) -> Path:
    config = terminal(collector, folder / name, counter)
    started = time.perf_counter()
    fill_store(load(config), count)
    note(f"filled {name} with {count:,} ratings in {time.perf_counter() - started:.1f} s (fixture, not measured)")
    return config


def measure(config: Path, count: int, send: Any) -> tuple[float, str]:
    """Seconds for `send(sender)` to empty a verified store of `count` ratings; and the device id."""
    sender = Sender(config)
    try:
        verified = sender.store.verify()
        check(verified.ok and verified.checked == count, f"the generated store does not verify: {verified}")
        started = time.perf_counter()
        sent = send(sender)
        seconds = time.perf_counter() - started
        check(sent == count and sender.outbox.depth().ratings == 0, f"sent {sent} of {count}, or some still pending")
        return seconds, sender.credentials.device_id
    finally:
        sender.close()


def real_drain(sender: Sender) -> int:
    """The measured path: `Uploader.drain`, exactly as `evaluator sync --once` runs it."""
    total = sender.outbox.depth().ratings
    result = sender.uploader.drain(progress=progress_printer("uploader", max(1, total // 10)))
    check(not result.duplicate and not result.rejected, f"drain: {result}")
    return result.accepted


def collector_floor(config: Path, count: int) -> tuple[float, str]:
    """Seconds for the collector alone to take `count` ratings, and the device id.

    The batches are read, encoded and gzipped beforehand (not timed) and sent one at a time by a
    bare loop: sign, POST, ack. No uploader could drain faster against this collector on this machine.
    """
    sender = Sender(config)
    try:
        bodies, after = [], Cursor()
        sent_at = canonical_json(iso_utc(datetime.now(UTC)))
        while batch := sender.outbox.next_encoded(sender.settings.sync.batch_size, after):
            bodies.append(gzip.compress(canonical_object({
                "protocol": canonical_json(PROTOCOL_VERSION), "device_id": canonical_json(sender.credentials.device_id),
                "sent_at": sent_at, "ratings": batch.ratings_json, "reasons": b"[]", "events": b"[]"}),
                compresslevel=GZIP_LEVEL))
            after = batch.after
        started, accepted = time.perf_counter(), 0
        for body in bodies:
            accepted += len(sender.client.ingest_gzipped(body).accepted)
        seconds = time.perf_counter() - started
        check(accepted == count, f"collector alone accepted {accepted} of {count}")
        return seconds, sender.credentials.device_id
    finally:
        sender.close()


def measure_memory(collector: Collector, config: Path, backlog: int, max_s: float) -> dict[str, Any]:
    idle_kib = run_child("idle", config, 0)["vm_hwm_kib"]
    note(f"import + open store only: peak RSS {idle_kib * 1024 / 1e6:.1f} MB")
    drain = run_child("drain", config, max_s)
    drain_kib = drain["vm_hwm_kib"]
    note(f"uploader child exited: peak RSS {drain_kib * 1024 / 1e6:.1f} MB; checking the collector and the store")
    device_id = Credentials.load(load(config).sync.state_dir).device_id
    rows, seqs, last = collector.held(device_id)
    drained = drain["drained"]
    check((rows, seqs, last) == (drained, drained, drained), f"collector holds {rows} rows/{seqs} seqs/max {last} "
          f"for {device_id}, the uploader drained {drained}")
    if not drain["stopped_early"]:
        check(drained == backlog, f"memory drain sent {drained} of {backlog}")
    sender = Sender(config)
    try:
        pending = sender.outbox.depth().ratings
    finally:
        sender.close()
    check(pending == backlog - drained, f"{pending} pending, expected {backlog - drained}")
    return {"idle_kib": idle_kib, "drain_kib": drain_kib, **drain}


def summarise(args: argparse.Namespace, naive_s: float, real_s: float, floor_s: float, memory: dict[str, Any],
              others: dict[str, OtherLoad]) -> int:
    naive_rate, real_rate = args.naive / naive_s, args.ratings / real_s
    ratio = real_rate / naive_rate
    idle_mb, drain_mb = memory["idle_kib"] * 1024 / 1e6, memory["drain_kib"] * 1024 / 1e6
    print(f"collector on 127.0.0.1 (SQLite), same machine ({os.cpu_count()} CPUs); batches of 500, gzip, signed")
    print(f"{'':42} {'ratings':>10} {'wall s':>8} {'ratings/s':>10}")
    print(f"{'naive: one signed POST per rating':42} {args.naive:>10,} {naive_s:8.2f} {naive_rate:10,.0f}")
    print(f"{'uploader: drain backlog':42} {args.ratings:>10,} {real_s:8.2f} {real_rate:10,.0f}")
    print(f"{'collector alone: pre-built batches':42} {args.ratings:>10,} {floor_s:8.2f} "
          f"{args.ratings / floor_s:10,.0f}  (the ceiling here)")
    print(f"ratio to naive: {ratio:.1f}×  (goal ≥ {GOAL_RATIO:.0f}×)")
    print(f"{'peak RSS (VmHWM), MB':42} {'backlog':>10}")
    print(f"{'import + open store only':42} {args.backlog:>10,} {idle_mb:8.1f}")
    print(f"{'uploader draining':42} {args.backlog:>10,} {drain_mb:8.1f}  (+{drain_mb - idle_mb:.1f})")
    samples = memory["rss_trace"]
    picked = samples[::max(1, len(samples) // 6)][:6]
    picked += [sample for sample in samples[-1:] if sample not in picked]
    trace = ", ".join(f"{done // 1000:,}k: {kib * 1024 / 1e6:.1f}" for done, kib in picked)
    print(f"  RSS (MB) as the drain went: {trace or '(fewer than 50 batches)'}")
    if memory["stopped_early"]:
        print(f"  drain STOPPED after {memory['drained']:,} of {args.backlog:,} ratings "
              f"({memory['seconds']:.0f} s, --max-drain-s {args.max_drain_s:g}), the peak unchanged over the last "
              f"{memory['batches'] - memory['hwm_batch']} batches; the rest stayed pending")
    else:
        print(f"  full drain: {memory['drained']:,} ratings in {memory['seconds']:.1f} s "
              f"({memory['drained'] / memory['seconds']:,.0f}/s)")
    print("CPU-s used meanwhile by other processes on this machine: " + ", ".join(
        f"{name} {load.seconds:.1f}" for name, load in others.items()) + "  (≫ 0: figures disturbed)")
    goals = [(f"{real_rate:,.0f} ratings/s (goal ≥ {GOAL_RATE:,.0f})", real_rate >= GOAL_RATE),
             (f"peak RSS {drain_mb:.1f} MB (goal ≤ {GOAL_RSS_MB:.0f})", drain_mb <= GOAL_RSS_MB),
             (f"{ratio:.1f}× naive (goal ≥ {GOAL_RATIO:.0f}×)", ratio >= GOAL_RATIO)]
    for text, met in goals:
        print(f"{text}: {'met' if met else 'MISSED'}")
    met = all(ok for _, ok in goals)
    print("goals met" if met else "GOALS MISSED")
    return 0 if met else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ratings", type=int, default=100_000, help="backlog for the ratings/s figure")
    parser.add_argument("--backlog", type=int, default=1_000_000, help="backlog for the peak RSS figure")
    parser.add_argument("--naive", type=int, default=2_000, help="ratings sent one per POST (the baseline)")
    parser.add_argument("--max-drain-s", type=float, default=300.0,
                        help="end the memory drain after this long, once its peak has held for "
                             f"{PLATEAU_BATCHES} batches (default: %(default)g; 0: drain it all)")
    parser.add_argument("--quick", action="store_true", help="20,000 / 100,000 / 500: a try-out")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "CONFIG"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child_main(args.child[0], Path(args.child[1]), args.max_drain_s)
    if args.quick:
        args.ratings, args.backlog, args.naive = 20_000, 100_000, 500
    with tempfile.TemporaryDirectory(prefix="bench-sync-") as tmp:
        folder = Path(tmp)
        collector = Collector(folder)
        try:
            return run(args, folder, collector)
        except Failed as exc:
            print(f"CORRECTNESS FAILED: {exc}", file=sys.stderr)
            return 2
        finally:
            collector.close()


def run(args: argparse.Namespace, folder: Path, collector: Collector) -> int:
    note(f"collector at {collector.url}, files in {folder}")
    naive_config = prepare(collector, folder, "naive", "c-1", args.naive)
    real_config = prepare(collector, folder, "uploader", "c-2", args.ratings)
    others = {name: OtherLoad(collector.process.pid)
              for name in ("naive", "uploader", "collector alone", "memory drain")}
    with others["naive"]:
        naive_s, naive_id = measure(naive_config, args.naive, naive_drain)
    note(f"naive: {args.naive:,} ratings in {naive_s:.1f} s")
    with others["uploader"]:
        real_s, real_id = measure(real_config, args.ratings, real_drain)
    note(f"uploader: {args.ratings:,} ratings in {real_s:.1f} s")
    floor_config = prepare(collector, folder, "floor", "c-4", args.ratings)
    with others["collector alone"]:
        floor_s, floor_id = collector_floor(floor_config, args.ratings)
    note(f"collector alone: {args.ratings:,} ratings in {floor_s:.1f} s")
    check_integrity(collector, {naive_id: args.naive, real_id: args.ratings, floor_id: args.ratings})
    note("collector integrity: all three devices complete, chained, no duplicates")
    memory_config = prepare(collector, folder, "memory", "c-3", args.backlog)
    with others["memory drain"]:
        memory = measure_memory(collector, memory_config, args.backlog, args.max_drain_s)
    note(f"memory drain checked: {memory['drained']:,} held once each, "
         f"{args.backlog - memory['drained']:,} pending")
    return summarise(args, naive_s, real_s, floor_s, memory, others)


if __name__ == "__main__":
    sys.exit(main())
