"""The housekeeping's lanes on a real database, on a clock of the test's own: the digest queued once at its hour,
the cases' sweeps run, a failing task told once and its recovery once, and a clean stop."""
from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from centre.alerts import duty
from centre.alerts.settings import AlertSettings
from centre.cityconfig import CityConfig
from centre.db.engine import open_engine
from centre.db.loop_tables import alert_deliveries
from centre.db.tables import housekeeping_marks
from centre.housekeeping import Housekeeping
from centre.integrity.analysis import CITY_ZONE
from contract import iso_utc
from tests.centre.alertkit import alerts_config
from tests.centre.casekit import MONDAY, case_of, kinds, terminal
from tests.centre.conftest import free_port

WAIT_S = 5.0


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    found = open_engine(f"sqlite:///{tmp_path / 'centre.db'}")
    yield found
    found.dispose()


@pytest.fixture
def told() -> Iterator[queue.Queue[logging.LogRecord]]:
    """The housekeeping's log records, as they come."""
    records: queue.Queue[logging.LogRecord] = queue.Queue()

    class Handler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.put(record)

    logger, handler = logging.getLogger("centre.housekeeping"), Handler(logging.INFO)
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    yield records
    logger.removeHandler(handler)
    logger.setLevel(level)


def next_message(records: queue.Queue[logging.LogRecord]) -> logging.LogRecord:
    return records.get(timeout=WAIT_S)


def config(**alerts: object) -> CityConfig:
    return CityConfig(alerts=AlertSettings.model_validate(alerts_config(free_port(), None, **alerts)))


def test_the_digest_at_its_hour_once_and_the_sweeps(engine: Engine, told):
    unit = terminal(engine, "u-keep")
    duty.set_duty(engine, "u-keep", "duty@unit.test", "王经理")
    case = case_of(engine, unit.rate(1))
    # Tuesday 24 March, 09:00 in Shanghai: the rectification (15 working days: by 23 March) is overdue, and the
    # digest's hour has come.
    later = MONDAY + timedelta(days=22, hours=-1)
    keeper = Housekeeping(engine, config(digest={"enabled": True, "at_local": "08:30"}), clock=lambda: later,
                          digest_every_s=0.05, sweep_every_s=0.05)
    keeper.start()
    try:
        assert "digest" in next_message(told).getMessage()   # started: …, digest, escalate, erase_numbers
        assert next_message(told).getMessage() == "digest of 2026-03-24: 1 e-mail(s) queued"
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(alert_deliveries)
                                .where(alert_deliveries.c.kind == "digest")).scalar_one() == 1
        assert keeper.digest_done == later.date()
        deadline, pause = time.monotonic() + WAIT_S, threading.Event()
        while "escalated" not in kinds(engine, case["id"]):   # the sweep after the digest, on the same lane
            assert time.monotonic() < deadline, "not escalated"
            pause.wait(0.02)
    finally:
        keeper.stop()
    assert not any(thread.is_alive() for thread in keeper.threads)
    assert told.empty()   # nothing failed, and the digest was not queued twice


def test_a_failing_task_is_told_once_and_its_recovery_once(engine: Engine, told):
    broken, calls, many = [True], [0], threading.Event()

    def clock() -> datetime:   # what each task asks first: while broken, every task fails
        calls[0] += 1
        if calls[0] >= 40:
            many.set()
        if broken[0]:
            raise RuntimeError("the clock is broken")
        return MONDAY

    keeper = Housekeeping(engine, config(), clock=clock, delivery_every_s=0.01, sweep_every_s=0.01,
                          publish_every_s=0.01)
    keeper.start()
    try:
        # started; e-mail delivery, escalate, erase_numbers, publish digests (centre/public/digests.py), join
        # waiting complaints (centre/public/complaintcases.py), mark receipts found (centre/public/receipt.py) failed
        first = [next_message(told) for _ in range(7)]
        failures = [record for record in first if record.levelno == logging.ERROR]
        assert len(failures) == 6 and all(record.exc_info and "failed (told once" in record.getMessage()
                                           for record in failures)
        assert many.wait(WAIT_S) and told.empty()   # dozens of failures since: none told again
        broken[0] = False
        recovered = {next_message(told).getMessage() for _ in range(6)}
        assert recovered == {"housekeeping: deliver email works again", "housekeeping: escalate works again",
                             "housekeeping: erase_numbers works again", "housekeeping: publish digests works again",
                             "housekeeping: join waiting complaints works again",
                             "housekeeping: mark receipts found works again"}
    finally:
        keeper.stop()
    assert not any(thread.is_alive() for thread in keeper.threads) and told.empty()


def test_the_integrity_run_is_done_once_a_day_and_not_again_after_a_restart(engine: Engine, told):
    """The nightly run's day is kept in the database: a second process (a restart, a deploy) finds it done and
    analyses nothing; the next day is due again."""
    now = datetime(2025, 6, 10, 3, 0, tzinfo=CITY_ZONE)      # after the run's hour, in the city's zone
    first = Housekeeping(engine, CityConfig(), clock=lambda: now)
    first._integrity(now)
    assert first.integrity_done == now.date() - timedelta(days=1)
    assert [r.getMessage() for r in _drain(told) if "integrity signals" in r.getMessage()]
    again = Housekeeping(engine, CityConfig(), clock=lambda: now)
    again._integrity(now)                           # restarted the same night: nothing to do
    assert again.integrity_done == first.integrity_done
    assert not [r for r in _drain(told) if "integrity signals" in r.getMessage()]
    later = now + timedelta(days=1)
    again._integrity(later)
    assert again.integrity_done == later.date() - timedelta(days=1)
    assert [r for r in _drain(told) if "integrity signals" in r.getMessage()]
    with engine.connect() as conn:
        marks = conn.execute(select(housekeeping_marks.c.name, housekeeping_marks.c.value,
                                    housekeeping_marks.c.updated_at)).all()
    assert marks == [("integrity_daily", (later.date() - timedelta(days=1)).isoformat(), iso_utc(later))]


def _drain(records: queue.Queue[logging.LogRecord]) -> list[logging.LogRecord]:
    found = []
    while not records.empty():
        found.append(records.get_nowait())
    return found
