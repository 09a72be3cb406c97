"""The terminals' side of bench/centre_load.py: a day's batch per terminal, and processes of threads that
upload them through the terminal's own signing client (sync.client.CentreClient) and retry policy.

A generator process gets lanes: each lane is one thread that runs its terminals one after the other, each
from its own moment after the common start. A terminal's upload is what a terminal's sync attempt sends
(sync.uploader.SyncWorker): its day's ratings, reasons and events in one gzipped, signed batch, then a
heartbeat. After a TransientError it waits as the terminal does (sync.uploader.transient_wait: the centre's
Retry-After and a random share of it, else full jitter) and tries again, the batch only until it is
acknowledged (the outbox then holds nothing more to send, so the next attempt is the heartbeat alone).
"""
from __future__ import annotations

import os
import random
import resource
import sys
import threading
import time
import uuid as uuid_mod
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from multiprocessing.sharedctypes import SynchronizedArray
from typing import Any

import requests

from contract import GENESIS_HASH, PROTOCOL_VERSION, Heartbeat, canonical_json, canonical_object, iso_utc, rating_hash
from kiosk import BUILD_DATE, __version__
from kiosk.config import SyncSettings
from kiosk.store.ids import rating_uuid
from sync.client import CentreClient, Credentials, GzipBody, SyncError, TransientError
from sync.uploader import transient_wait

RATINGS_PER_DAY = 200
LEVELS = (5, 5, 4, 5, 3, 4, 5, 2, 5, 1)      # a plausible mix, bad reviews included
REASONS = ("attitude", "slow", "wait", "unclear", "extra_trips", "environment")
DAY = timedelta(hours=9)                     # the ratings of the day end a few minutes before the run
STACK_BYTES = 1 << 20                        # per terminal thread: thousands of them
SWITCH_INTERVAL_S = 0.5                      # a generator's GIL switch interval (CPython's default: 0.005)
PROGRESS = ("uploads done", "gave up", "ingest requests", "client timeouts", "ingest non-2xx or faults")


@dataclass(frozen=True)
class TerminalKey:
    """An enrolled terminal: its key and where the centre placed it."""

    device_id: str
    secret: str
    unit_id: str
    counter_id: str


@dataclass
class Day:
    """One terminal's day: the batch's JSON but for `sent_at` (taken when sending), gzipped ahead for the
    first send; a retry gzips it again, as the terminal's uploader prepares a batch again."""

    key: TerminalKey
    head: bytes
    uuids: frozenset[str]
    last_hash: str
    reasons: int
    events: int
    first: GzipBody | None = None

    def body(self) -> bytes:
        prepared, self.first = self.first or GzipBody(self.head), None
        return prepared.finish(canonical_json(iso_utc(datetime.now(UTC))) + b"}")

    def heartbeat(self, offset_s: float | None) -> Heartbeat:
        return Heartbeat(device_id=self.key.device_id, sent_at=iso_utc(datetime.now(UTC)), app_version=__version__,
                         queue_depth=0, oldest_unsynced_at=None, last_seq=len(self.uuids), last_hash=self.last_hash,
                         verify_ok=True, clock_offset_s=offset_s,
                         panel={"connected": True, "port": "/dev/ttyUSB0", "model": "EVP-1", "firmware": "1.4"})


def build_day(key: TerminalKey, rng: random.Random, end: datetime) -> Day:
    """200 chained ratings over a working day (a third solicited), reasons for the bad ones, the day's events."""
    start, boot, mono0 = end - DAY, str(uuid_mod.UUID(int=rng.getrandbits(128))), rng.randrange(10 ** 12)
    step = DAY / RATINGS_PER_DAY
    ratings: list[dict[str, Any]] = []
    reasons: list[dict[str, Any]] = []
    events = [_event(1, "started", start, start, mono0, boot, {"version": __version__}),
              _event(2, "staff_sign_in", start, start, mono0, boot, {"staff_id": "E1023", "source": "panel"})]
    prev = GENESIS_HASH
    for seq in range(1, RATINGS_PER_DAY + 1):
        moment = start + step * seq - timedelta(seconds=rng.uniform(0, 60))
        solicited, level = seq % 3 == 0, LEVELS[rng.randrange(len(LEVELS))]
        case_no = f"2026A-{seq:04d}" if solicited else None
        if solicited:
            events.append(_event(len(events) + 1, "solicited", moment - timedelta(seconds=8), start, mono0, boot,
                                 {"case_no": case_no, "staff_id": "E1023"}))
        row = {"uuid": rating_uuid(moment), "seq": seq, "device_id": key.device_id, "unit_id": key.unit_id,
               "counter_id": key.counter_id, "staff_id": "E1023", "case_no": case_no, "level": level,
               "channel": "panel" if seq % 4 else "touch", "mode": "solicited" if solicited else "open",
               "recorded_at": iso_utc(moment), "mono_ns": _mono(moment, start, mono0), "boot_id": boot,
               "clock_suspect": moment < BUILD_DATE, "app_version": __version__, "prev_hash": prev}
        row["hash"] = prev = rating_hash(row)
        ratings.append(row)
        for code in rng.sample(REASONS, 2 if level == 1 else 1) if level <= 2 else ():
            reasons.append({"id": len(reasons) + 1, "rating_uuid": row["uuid"], "code": code,
                            "recorded_at": iso_utc(moment + timedelta(seconds=6))})
        if seq % 25 == 0:
            events.append(_event(len(events) + 1, "suppressed", moment + timedelta(seconds=2), start, mono0, boot,
                                 {"level": level, "channel": "panel", "why": "cooldown"}))
    events.append(_event(len(events) + 1, "staff_sign_out", end, start, mono0, boot, {"staff_id": "E1023"}))
    members = canonical_object({"protocol": canonical_json(PROTOCOL_VERSION),
                                "device_id": canonical_json(key.device_id), "ratings": canonical_json(ratings),
                                "reasons": canonical_json(reasons), "events": canonical_json(events)})
    head = members[:-1] + b',"sent_at":'      # sent_at sorts last: appended when sending, as the uploader does
    return Day(key, head, frozenset(row["uuid"] for row in ratings), prev, len(reasons), len(events), GzipBody(head))


def _mono(moment: datetime, start: datetime, mono0: int) -> int:
    return mono0 + int((moment - start).total_seconds() * 1e9)


def _event(row_id: int, kind: str, moment: datetime, start: datetime, mono0: int, boot: str,
           detail: dict[str, Any]) -> dict[str, Any]:
    return {"id": row_id, "kind": kind, "recorded_at": iso_utc(moment), "mono_ns": _mono(moment, start, mono0),
            "boot_id": boot, "detail": detail}


@dataclass
class Tally:
    """What the terminals saw; merged over threads and processes."""

    statuses: Counter[str] = field(default_factory=Counter)   # "ingest 200", "ingest ReadTimeout", "heartbeat 503"
    ingest_ok_s: list[float] = field(default_factory=list)    # each ingest answered 2xx: send to ack
    upload_s: list[float] = field(default_factory=list)       # each terminal: its start to its heartbeat answered
    done_at: list[float] = field(default_factory=list)        # each terminal: seconds after the common start
    failures: Counter[str] = field(default_factory=Counter)   # terminals that did not finish, by why
    accepted: int = 0
    duplicate: int = 0
    acks: int = 0              # ingest answers received (each one a batch the centre did for a client still there)
    retries: int = 0
    longest_wait_s: float = 0.0     # the longest a terminal was to wait before trying again
    retry_after_s: list[float] = field(default_factory=list)   # each Retry-After the centre told
    days: dict[str, tuple[int, int, int]] = field(default_factory=dict)   # device: its day's ratings, reasons, events
    finished: set[str] = field(default_factory=set)          # devices whose day was acknowledged and heartbeat answered
    timeline: Counter[tuple[str, int]] = field(default_factory=Counter)   # ingest answers: (2xx|503|other, second)
    cpu_s: float = 0.0

    def merge(self, other: Tally) -> None:
        for name in ("statuses", "failures", "days", "finished", "timeline"):
            getattr(self, name).update(getattr(other, name))
        for name in ("ingest_ok_s", "upload_s", "done_at", "retry_after_s"):
            getattr(self, name).extend(getattr(other, name))
        for name in ("accepted", "duplicate", "acks", "retries", "cpu_s"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.longest_wait_s = max(self.longest_wait_s, other.longest_wait_s)


class Recorder:
    """A tally shared by one process's threads, and the progress counters shared with the parent."""

    def __init__(self, progress: SynchronizedArray[int]):
        self.tally = Tally()
        self.lock = threading.Lock()
        self.progress = progress
        self.start = time.monotonic()     # the common start, once known

    def bump(self, index: int) -> None:
        with self.progress.get_lock():
            self.progress[index] += 1


class RecordingSession(requests.Session):
    """A terminal's HTTP session (settings resolved once, as sync.client's) that counts each answer or fault."""

    def __init__(self, recorder: Recorder):
        super().__init__()
        self.trust_env = False
        self.recorder = recorder

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        what = "ingest" if str(url).endswith("/v1/ingest") else "heartbeat"
        try:
            response = super().request(method, url, *args, **kwargs)
        except requests.RequestException as exc:
            self._count(what, type(exc).__name__, timeout=isinstance(exc, requests.Timeout), failed=True)
            raise
        self._count(what, str(response.status_code), timeout=False, failed=response.status_code >= 300)
        return response

    def _count(self, what: str, outcome: str, timeout: bool, failed: bool) -> None:
        second = int(time.monotonic() - self.recorder.start)
        kind = "other" if failed and outcome != "503" else ("503" if failed else "2xx")
        with self.recorder.lock:
            self.recorder.tally.statuses[f"{what} {outcome}"] += 1
            if what == "ingest":
                self.recorder.tally.timeline[kind, second] += 1
        if what == "ingest":
            self.recorder.bump(2)
            if failed:
                self.recorder.bump(4)
        if timeout:
            self.recorder.bump(3)


def upload(day: Day, client: CentreClient, sync: SyncSettings, recorder: Recorder, deadline: float) -> str | None:
    """The terminal's attempt until it succeeds; None when done, else why it stopped."""
    attempt, offset_s, acked = 0, None, False
    while True:
        try:
            if not acked:
                started = time.perf_counter()
                ack = client.ingest_gzipped(day.body())
                took = time.perf_counter() - started
                synced = (set(ack.accepted) | set(ack.duplicate)) & day.uuids
                with recorder.lock:
                    recorder.tally.ingest_ok_s.append(took)
                    recorder.tally.acks += 1
                    recorder.tally.accepted += len(ack.accepted)
                    recorder.tally.duplicate += len(ack.duplicate)
                if synced != day.uuids or ack.rejected:
                    return f"ack misses {len(day.uuids - synced)} rating(s), rejects {len(ack.rejected)}"
                acked, offset_s = True, (datetime.fromisoformat(ack.server_time) - datetime.now(UTC)).total_seconds()
            client.heartbeat(day.heartbeat(offset_s))
            return None
        except TransientError as exc:
            # The terminal's one policy (SyncWorker.run's): the centre's Retry-After and a random share of it,
            # else full jitter.
            attempt += 1
            wait = transient_wait(exc, attempt, sync)
            with recorder.lock:
                recorder.tally.retries += 1
                recorder.tally.longest_wait_s = max(recorder.tally.longest_wait_s, wait)
                if exc.retry_after_s is not None:
                    recorder.tally.retry_after_s.append(exc.retry_after_s)
            if time.monotonic() + wait > deadline:
                return "gave up: the next try would be after the bench's deadline"
            time.sleep(wait)
        except SyncError as exc:     # 401/403, 4xx: a real terminal stops and reports
            return f"{type(exc).__name__}: {str(exc)[:80]}"


def run_lane(server: str, lane: list[tuple[Day, float]], start: float, deadline: float, recorder: Recorder) -> None:
    """One thread: each terminal of the lane from its moment (monotonic `start` + offset), one after another."""
    sync = SyncSettings()     # the terminal's defaults: its timeouts and backoff
    session = RecordingSession(recorder)
    try:
        for day, offset in lane:
            time.sleep(max(0.0, start + offset - time.monotonic()))
            began = time.monotonic()
            client = CentreClient(server, Credentials(server, day.key.device_id, day.key.secret),
                                  sync.connect_timeout_s, sync.read_timeout_s, session=session)
            why = upload(day, client, sync, recorder, deadline)
            ended = time.monotonic()
            with recorder.lock:
                if why is None:
                    recorder.tally.finished.add(day.key.device_id)
                    recorder.tally.upload_s.append(ended - began)
                    recorder.tally.done_at.append(ended - start)
                else:
                    recorder.tally.failures[why] += 1
            recorder.bump(0 if why is None else 1)
    finally:
        session.close()


def generator_main(pipe: Connection, server: str, lanes: list[list[tuple[TerminalKey, float]]], seed: int,
                   progress: SynchronizedArray[int]) -> None:
    """A load generator process: build the days (not timed), say ready, wait for the start, run the lanes.

    At the lowest CPU priority (nice 19): terminals are devices of their own, and on a machine of two cores
    their simulation would otherwise take the cores from the centre it measures. In a burst the 3,000 terminals'
    first requests did: the centre's first batches took thirty times their time, it booked the refused
    terminals' returns at that rate (past the 900 s deadline for some) and then sat idle. At nice 19 they run
    on what the centre and PostgreSQL leave; their CPU is still measured and printed.
    A thread waiting for the GIL wakes every switch interval to ask for it: at the default 5 ms, a burst's
    thousands of waiting threads made 190,000 context switches a second, three quarters of both cores in the
    kernel, for a minute (vmstat). The terminal threads block on their sockets, which hands the GIL over anyway,
    so waking them seldom (SWITCH_INTERVAL_S) costs them nothing."""
    os.nice(19)
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    rng, end = random.Random(seed), datetime.now(UTC) - timedelta(minutes=5)
    built = [[(build_day(key, rng, end), offset) for key, offset in lane] for lane in lanes]
    recorder = Recorder(progress)
    for lane in built:
        for day, _ in lane:
            recorder.tally.days[day.key.device_id] = (len(day.uuids), day.reasons, day.events)
    pipe.send("ready")
    start_wall, deadline_s = pipe.recv()
    start = recorder.start = time.monotonic() + (start_wall - time.time())
    threading.stack_size(STACK_BYTES)
    threads = [threading.Thread(target=run_lane, args=(server, lane, start, start + deadline_s, recorder),
                                daemon=True) for lane in built]
    for thread in threads:
        thread.start()
    time.sleep(max(0.0, start - time.monotonic()))
    cpu = _cpu_s()
    for thread in threads:
        thread.join()
    recorder.tally.cpu_s = _cpu_s() - cpu
    pipe.send(recorder.tally)


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
