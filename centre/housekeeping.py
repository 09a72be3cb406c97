"""The centre's background work, in the process that runs `evaluator centre serve`: once per centre.

With --workers N that is the parent process, which starts the workers and serves no request itself
(centre/serving.py), so the work runs once however many workers serve. It is:
- delivering the alerts' outbox (centre/alerts/delivery.py), every second: a cheap indexed query on
  next_attempt_at, so an alert goes out within a second or two of the ingest that queued it;
- queuing the daily digest once its local time has come (centre/alerts/digest.py);
- the cases' sweeps (centre/cases/sweeps.py): escalating cases past their deadlines, erasing the numbers of
  cases closed long enough ago;
- publishing each unit's yesterday as a digest once its local midnight and the grace have passed, and a newer
  digest of a recent day that late ratings reached (centre/public/digests.py publish_due): checked every few
  minutes (three cheap queries when all is published), each day published once whatever restarts;
- joining complaints filed before their rating reached the centre to its case (centre/public/complaintcases.py
  join_waiting), and marking receipts looked up too early as found (centre/public/receipt.py mark_found), every
  sweep interval;
- the integrity signals' daily run, once a night, over the four weeks ending yesterday (centre/integrity/
  analysis.py analyse_daily), on a lane of its own: its minute of work holds up no sweep. The day it last
  finished is kept in `housekeeping_marks`, so a restart (a deploy, a crash) does not run it again.

Each lane is a thread of its own (the e-mail lane, the webhook lane, the cases lane, the public lane), so a mail
server that does not answer (a timeout a pass) holds neither the webhook nor the sweeps. Only the alerts' lanes
begin at once: the others first wait START_GRACE_S, while a start's workers are spawned. A task that fails is
logged once, with its trace, and its recovery once; it never stops the lane or the server. `stop` ends every
lane at its next wait (at once, or after the send in progress, which its timeout bounds).
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import Engine, select, update

from centre.alerts import delivery, digest
from centre.alerts.model import Channel
from centre.cases import sweeps
from centre.cases.settings import CaseSettings
from centre.cityconfig import CityConfig
from centre.db.rows import utcnow
from centre.db.tables import housekeeping_marks
from centre.integrity import analysis as integrity_analysis
from centre.public import complaintcases, receipt
from centre.public import digests as public_digests
from contract import iso_utc

log = logging.getLogger("centre.housekeeping")

DELIVERY_EVERY_S = 1.0      # alerts out within ~1 s of their ingest
DIGEST_EVERY_S = 30.0       # the digest's hour is checked this often
PUBLISH_EVERY_S = 300.0     # the published digests' check (a day is due once, after midnight and the grace)
SWEEP_EVERY_S = 60.0        # deadlines are whole days: a minute late escalates nobody late enough to matter
STOP_TIMEOUT_S = 10.0
START_GRACE_S = 15.0        # the other lanes' first run after a start, at the latest
INTEGRITY_EVERY_S = 600.0   # whether the integrity signals' nightly run is due
SWEEPS = ("escalate", "erase_numbers")   # centre.cases.sweeps' functions, (engine, now, settings)


@dataclass
class Task:
    """Something done every `every_s` seconds; `failing` remembers a failure, so it is logged once."""

    name: str
    every_s: float
    run: Callable[[datetime], object]
    due_at: float = 0.0
    failing: bool = False


@dataclass
class Lane:
    """Tasks run one after the other on one thread."""

    name: str
    tasks: list[Task] = field(default_factory=list)


class Housekeeping:
    """The lanes of one centre; `start` once the server's logging is set up, `stop` when it has stopped."""

    def __init__(self, engine: Engine, config: CityConfig, clock: Callable[[], datetime] = utcnow,
                 delivery_every_s: float = DELIVERY_EVERY_S, digest_every_s: float = DIGEST_EVERY_S,
                 sweep_every_s: float = SWEEP_EVERY_S, publish_every_s: float = PUBLISH_EVERY_S):
        self.engine = engine
        self.publish_every_s = publish_every_s
        self.config = config
        self.clock = clock
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []
        self.digest_done: date | None = None
        self.integrity_done: date | None = None
        self.lanes = self._lanes(delivery_every_s, digest_every_s, sweep_every_s)

    def _lanes(self, delivery_every_s: float, digest_every_s: float, sweep_every_s: float) -> list[Lane]:
        alerts = self.config.alerts
        lanes = [Lane(f"alerts-{channel.value}", [Task(f"deliver {channel.value}", delivery_every_s,
                                                       self._deliverer(channel))])
                 for channel in delivery.enabled_channels(alerts)]
        cases = Lane("cases", [Task(name, sweep_every_s, self._sweep(name)) for name in SWEEPS])
        if alerts.digest.enabled and alerts.smtp.enabled:
            cases.tasks.insert(0, Task("digest", digest_every_s, self._digest))
        public = Lane("public", [Task("publish digests", self.publish_every_s, self._publish_digests),
                                 # complaints filed before their rating arrived; receipts looked up too early
                                 Task("join waiting complaints", sweep_every_s,
                                      lambda now: complaintcases.join_waiting(self.engine, now, self.config.public)),
                                 Task("mark receipts found", sweep_every_s,
                                      lambda now: receipt.mark_found(self.engine, now))])
        integrity = Lane("integrity", [Task("integrity analysis", INTEGRITY_EVERY_S, self._integrity)])
        return [*lanes, cases, public, integrity]

    def start(self) -> None:
        # Only the alerts' lanes begin at once: at a start, the workers being spawned need the CPU more than a
        # sweep does (uvicorn kills a worker that has not answered its health check within 5 s).
        for task in (task for lane in self.lanes if not lane.name.startswith("alerts-") for task in lane.tasks):
            task.due_at = time.monotonic() + min(task.every_s, START_GRACE_S)
        for lane in self.lanes:
            thread = threading.Thread(target=self._run, args=(lane,), name=f"housekeeping-{lane.name}", daemon=True)
            thread.start()
            self.threads.append(thread)
        log.info("housekeeping started: %s", ", ".join(task.name for lane in self.lanes for task in lane.tasks))

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout_s)
        still = [thread.name for thread in self.threads if thread.is_alive()]
        if still:   # a send still waiting on its timeout: the threads are daemons, the process ends anyway
            log.warning("housekeeping: %s still busy at stop", ", ".join(still))

    def _run(self, lane: Lane) -> None:
        # Timed by time.monotonic(): a wall clock set back never stalls a lane.
        while not self.stopping.is_set():
            for task in lane.tasks:
                if self.stopping.is_set():
                    return
                if time.monotonic() >= task.due_at:
                    self._once(task)
                    task.due_at = time.monotonic() + task.every_s
            wait = min(task.due_at for task in lane.tasks) - time.monotonic()
            self.stopping.wait(max(0.0, wait))

    def _once(self, task: Task) -> None:
        try:
            task.run(self.clock())
        except Exception:
            if not task.failing:
                log.exception("housekeeping: %s failed (told once; its recovery will be told)", task.name)
            task.failing = True
            return
        if task.failing:
            log.info("housekeeping: %s works again", task.name)
            task.failing = False

    def _deliverer(self, channel: Channel) -> Callable[[datetime], object]:
        def run(now: datetime) -> object:
            return delivery.deliver_due(self.engine, now, self.config.alerts, channels=(channel,))
        return run

    def _digest(self, now: datetime) -> None:
        day = digest.digest_day(now, self.config.alerts)
        if day is None or day == self.digest_done:
            return
        queued = digest.queue_digests(self.engine, now, self.config.alerts)
        self.digest_done = day
        if queued:
            log.info("digest of %s: %d e-mail(s) queued", day.isoformat(), queued)

    def _publish_digests(self, now: datetime) -> None:
        settings = self.config.public
        done = public_digests.publish_due(self.engine, now, settings.digest_grace_hours, settings.digest_days_back)
        made = [item for item in done if item.outcome in (public_digests.Outcome.PUBLISHED,
                                                          public_digests.Outcome.REPUBLISHED)]
        if made:
            public_digests.log.info("published %d digest(s) of units' days", len(made))

    def _integrity(self, now: datetime) -> None:
        if self.integrity_done is None:      # a restart: the day the last process finished, if any
            self.integrity_done = _read_day(self.engine, INTEGRITY_MARK)
        yesterday = integrity_analysis.daily_due(now, self.integrity_done)
        if yesterday is None:
            return
        done = integrity_analysis.analyse_daily(self.engine, yesterday, self.config.integrity)
        self.integrity_done = yesterday
        _write_day(self.engine, INTEGRITY_MARK, yesterday, now)
        log.info("integrity signals over the 4 weeks to %s: %d finding(s), %d new flag(s), in %.1f s",
                 yesterday.isoformat(), len(done.findings), done.created, done.seconds)

    def _sweep(self, name: str) -> Callable[[datetime], object]:
        sweep: Callable[[Engine, datetime, CaseSettings], object] = getattr(sweeps, name)

        def run(now: datetime) -> object:
            return sweep(self.engine, now, self.config.cases)
        return run


@contextmanager
def running(engine: Engine, config: CityConfig) -> Iterator[Housekeeping]:
    """The housekeeping of `config`, started, and stopped when the block ends (the server has stopped)."""
    keeper = Housekeeping(engine, config)
    keeper.start()
    try:
        yield keeper
    finally:
        keeper.stop()


# The integrity signals' daily run covers weeks of ratings (minutes of CPU in a big city): done once a day, not
# again at each restart, so the day it last finished is kept in the database.
INTEGRITY_MARK = "integrity_daily"


def _read_day(engine: Engine, name: str) -> date | None:
    with engine.connect() as conn:
        value = conn.execute(select(housekeeping_marks.c.value).where(housekeeping_marks.c.name == name)).scalar()
    return date.fromisoformat(value) if value else None


def _write_day(engine: Engine, name: str, day: date, now: datetime) -> None:
    with engine.begin() as conn:
        values = {"value": day.isoformat(), "updated_at": iso_utc(now)}
        if not conn.execute(update(housekeeping_marks).where(housekeeping_marks.c.name == name)
                            .values(**values)).rowcount:
            conn.execute(housekeeping_marks.insert().values(name=name, **values))
