"""The centre's side of bench/centre_load.py: a scratch PostgreSQL database, a real `evaluator centre serve`
process on loopback, the registry and the enrollment of thousands of terminals, the CPU each party used,
and the exactly-once check of what the centre holds afterwards."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
import uuid as uuid_mod
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, and_, create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from bench.centre_terminals import TerminalKey
from bench.common import LoopbackServer
from centre.db.tables import conflicts, devices, events, ratings, reasons
from centre.enroll import create_code
from centre.registry.importer import import_file
from contract import GENESIS_HASH
from kiosk import __version__
from sync.client import CentreClient

ROOT = Path(__file__).resolve().parent.parent
COUNTERS_PER_UNIT = 20       # a city's service halls, twenty counters each
ENROLL_THREADS = 8
TICK = os.sysconf("SC_CLK_TCK")


def postgres_url() -> str:
    """EVALUATOR_TEST_PG_URL when set, else the server deploy/postgres.sh starts (or finds) on 127.0.0.1."""
    url = os.environ.get("EVALUATOR_TEST_PG_URL")
    if url:
        return url
    done = subprocess.run(["bash", str(ROOT / "deploy" / "postgres.sh")], capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0 or not done.stdout.strip():
        raise SystemExit(f"no PostgreSQL: deploy/postgres.sh said:\n{done.stderr}")
    return done.stdout.strip().splitlines()[-1]


@contextmanager
def scratch_database(base_url: str) -> Iterator[str]:
    """A database of its own on the server of `base_url`, dropped afterwards."""
    base = make_url(base_url)
    name = f"bench_centre_{os.getpid()}_{uuid_mod.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        _drop(admin, name)
        admin.dispose()


def _drop(admin: Engine, name: str) -> None:
    """Drop the database; an autovacuum worker (the superuser's, which FORCE may not end) delays it a little."""
    for attempt in range(20):
        try:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            return
        except DBAPIError as exc:
            if attempt == 19:
                print(f"could not drop database {name}: {exc.orig}", file=sys.stderr)
            time.sleep(1)


class Centre(LoopbackServer):
    """`evaluator centre serve --workers N` on a free loopback port, its log in `folder`."""

    def __init__(self, db_url: str, folder: Path, workers: int, extra: list[str]):
        self.database = make_url(db_url).database or ""
        super().__init__(lambda port: ["-m", "centre.cli", "serve", "--db", db_url, "--host", "127.0.0.1",
                                       "--port", str(port), "--workers", str(workers), *extra],
                         lambda port: folder / f"centre-{port}.log", start_timeout_s=60)

    def metrics(self) -> dict[str, float]:
        """The ingest counters of /metrics (all workers summed): batches answered, new ratings, seconds, and the
        admission control's refusals (by reason) and drops."""
        found: dict[str, float] = {}
        body = requests.get(self.url + "/metrics", timeout=30).text
        for family in text_string_to_metric_families(body):
            for sample in family.samples:
                if sample.name == "evaluator_batches_total":
                    found[f"batches {sample.labels['outcome']}"] = sample.value
                elif sample.name == "evaluator_admission_refused_total":
                    found[f"refused {sample.labels['reason']}"] = sample.value
                elif sample.name in ("evaluator_ratings_ingested_total", "evaluator_batch_seconds_sum",
                                     "evaluator_admission_dropped_total"):
                    found[sample.name] = sample.value
        return found



def enroll_fleet(engine: Engine, server: str, count: int, folder: Path, prefix: str) -> list[TerminalKey]:
    """Register `count` counters (units of twenty) from a generated sheet, as `unit import` does; then per
    counter a one-time code (in-process) and the terminal's own enrollment call to the centre's route."""
    sheet = folder / f"registry-{prefix}.csv"
    places = [(f"{prefix}-u{index // COUNTERS_PER_UNIT:03d}", f"c{index % COUNTERS_PER_UNIT:02d}")
              for index in range(count)]
    sheet.write_text("district,sector,unit_id,unit_name,counter_id,counter_name\n" + "".join(
        f"bench,education,{unit},{unit},{counter},{counter}\n" for unit, counter in places), encoding="utf-8")
    import_file(engine, sheet)

    def enroll(place: tuple[str, str]) -> TerminalKey:
        client = CentreClient(server)
        try:
            answer = client.enroll(create_code(engine, *place), __version__)
        finally:
            client.close()
        return TerminalKey(answer.device_id, answer.secret, answer.config.unit["id"], answer.config.counter["id"])

    with ThreadPoolExecutor(ENROLL_THREADS) as pool:
        return list(pool.map(enroll, places))


# -- CPU ------------------------------------------------------------------------------------------


def _stat(pid: int) -> tuple[str, int, float, float] | None:
    """(comm, ppid, own CPU s, reaped children's CPU s) of a process; None when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    comm, rest = raw[raw.index("(") + 1:raw.rindex(")")], raw[raw.rindex(")") + 2:].split()
    return comm, int(rest[1]), (int(rest[11]) + int(rest[12])) / TICK, (int(rest[13]) + int(rest[14])) / TICK


def _all_stats() -> dict[int, tuple[str, int, float, float]]:
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _stat(int(entry))) is not None:
            found[int(entry)] = stat
    return found


def _tree(stats: dict[int, tuple[str, int, float, float]], root: int) -> set[int]:
    """The root and its live descendants."""
    members, grew = {root} & set(stats), True
    while grew:
        more = {pid for pid, stat in stats.items() if stat[1] in members} - members
        members |= more
        grew = bool(more)
    return members


class DatabaseCpu:
    """CPU s of the PostgreSQL processes working for one database (its backends, its autovacuum workers: their
    titles name it), sampled twice a second from a thread, so that a backend which ends meanwhile (the centre's
    pool closes the connections it opened beyond its five) still counts, but for its last half second."""

    def __init__(self, database: str):
        self._names = re.compile(rf"\b{re.escape(database)}\b")
        self._mine: dict[int, bool] = {}
        self._first: dict[int, float] = {}
        self._last: dict[int, float] = {}
        self._stop = threading.Event()
        self._sample(first=True)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self._sample()

    def _sample(self, first: bool = False) -> None:
        for entry in os.listdir("/proc"):
            pid = int(entry) if entry.isdigit() else 0
            if not pid or self._mine.get(pid) is False or (stat := _stat(pid)) is None:
                continue
            if pid not in self._mine:
                try:
                    title = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
                except OSError:
                    continue
                self._mine[pid] = stat[0] == "postgres" and bool(self._names.search(title.replace("\0", " ")))
            if self._mine[pid]:
                self._first.setdefault(pid, stat[2] if first else 0.0)
                self._last[pid] = stat[2]

    def stop(self) -> float:
        """The CPU s used since this was made."""
        self._stop.set()
        self._thread.join()
        self._sample()
        return sum(self._last[pid] - self._first[pid] for pid in self._last)

    @property
    def pids(self) -> set[int]:
        return set(self._last)


@dataclass(frozen=True)
class CpuSnapshot:
    """CPU seconds so far: the centre's processes, the whole machine, and each live process."""

    server: float
    machine: float
    each: dict[int, tuple[str, float]]     # every live process: its command and own CPU s
    ours: frozenset[int]                    # the centre's processes


def cpu_snapshot(server_pid: int) -> CpuSnapshot:
    stats = _all_stats()
    fields = Path("/proc/stat").read_text().split()[1:8]
    user, nice, system, _idle, _iowait, irq, softirq = map(int, fields)
    tree = _tree(stats, server_pid)
    # The centre's processes, and the workers it reaped (none, unless one was restarted).
    server = sum(stats[pid][2] for pid in tree) + (stats[server_pid][3] if server_pid in stats else 0.0)
    return CpuSnapshot(server, (user + nice + system + irq + softirq) / TICK,
                       {pid: (stat[0], stat[2]) for pid, stat in stats.items()}, frozenset(tree))


def busiest_others(before: CpuSnapshot, after: CpuSnapshot, ours: set[int]) -> list[tuple[str, float]]:
    """The CPU used meanwhile outside this bench by each command (of processes alive at the end), most first."""
    mine = ours | before.ours | after.ours
    used: dict[str, float] = {}
    for pid, (command, cpu) in after.each.items():
        if pid not in mine:
            used[command] = used.get(command, 0.0) + cpu - before.each.get(pid, (command, 0.0))[1]
    return sorted(used.items(), key=lambda item: -item[1])


def sessions_opened(engine: Engine) -> int:
    """Connections made to this database so far (PostgreSQL's count, flushed within a second or so)."""
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT sessions FROM pg_stat_database WHERE datname = current_database()"))
                   .scalar_one())


# -- exactly once ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Held:
    ratings: int
    reasons: int
    events: int
    days: int              # terminals whose whole day is held
    unacknowledged: int    # of them, terminals that never had the ack (gave up): a day stored all the same


def exactly_once(engine: Engine, days: dict[str, tuple[int, int, int]], finished: set[str]) -> tuple[Held, list[str]]:
    """What the centre holds from these terminals, and every way it is not exactly once: each terminal's day
    held whole (its ratings seq 1…n once each, every reason and event once) or, for one that gave up before
    its ack, not at all; every rating chained to its predecessor; no conflict; a heartbeat from each finished."""
    with engine.connect() as conn:
        per = {row[0]: tuple(row[1:]) for row in conn.execute(
            select(ratings.c.delivered_by, func.count(), func.count(ratings.c.seq.distinct()),
                   func.min(ratings.c.seq), func.max(ratings.c.seq)).group_by(ratings.c.delivered_by))}
        rows: dict[str, dict[str, int]] = {
            name: dict(conn.execute(select(table.c.device_id, func.count()).group_by(table.c.device_id)).all())
            for name, table in (("reasons", reasons), ("events", events))}
        previous = ratings.alias("previous")
        broken = conn.execute(select(func.count()).select_from(ratings.outerjoin(previous, and_(
            previous.c.delivered_by == ratings.c.delivered_by, previous.c.seq == ratings.c.seq - 1)))
            .where(func.coalesce(previous.c.hash, GENESIS_HASH) != ratings.c.prev_hash)).scalar_one()
        conflicted = conn.execute(select(func.count()).select_from(conflicts)).scalar_one()
        heard = set(conn.execute(select(devices.c.id).where(devices.c.last_heartbeat.is_not(None))).scalars())
    whole = {device for device, (count, _, _) in days.items()
             if per.get(device) == (count, count, 1, count)
             and (rows["reasons"].get(device, 0), rows["events"].get(device, 0)) == days[device][1:]}
    wrong = [device for device in days if device not in whole and (device in finished or device in per)]
    problems = [f"{len(wrong)} terminal(s) whose day is not held whole and once, e.g. "
                f"{[(device, per.get(device)) for device in wrong[:2]]}"] if wrong else []
    if broken:
        problems.append(f"{broken} rating(s) do not chain to their predecessor")
    if conflicted:
        problems.append(f"{conflicted} conflict(s) recorded")
    if finished - heard:
        problems.append(f"{len(finished - heard)} finished terminal(s) without a heartbeat")
    held = Held(sum(per.get(device, (0,))[0] for device in days), sum(rows["reasons"].get(d, 0) for d in days),
                sum(rows["events"].get(d, 0) for d in days), len(whole), len(whole - finished))
    return held, problems
