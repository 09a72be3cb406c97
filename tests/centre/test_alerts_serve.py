"""Alerts end to end: a real `evaluator centre serve --config FILE` process, a device enrolled through it, a
signed batch with a bad review and then the signed call-back request its citizen left; each alert reaches a real
SMTP server (aiosmtpd) and a real HTTP receiver within 5 s. A dead mail server delays neither the ingest nor the
webhook, and its e-mail is retried with backoff until the server is there. With --workers N (PostgreSQL) the
housekeeping runs once, in the parent.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import Engine, select

from centre.alerts import duty
from centre.db.loop_tables import alert_deliveries
from contract import iso_utc
from tests.centre.alertkit import alerts_config, http_receiver, smtp_server, write_config
from tests.centre.conftest import (
    TIMEOUT,
    Collector,
    Device,
    free_port,
    pg_url_or_skip,
    scratch_pg_database,
    start_centre,
)

WITHIN_S = 5.0


@pytest.fixture(params=["sqlite", "postgresql"])
def centre_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of the test's own: the centres here run with a config of the test's own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'centre.db'}"
        return
    url = pg_url_or_skip()
    with scratch_pg_database(url) as scratch:
        yield scratch


def enrolled(centre: Collector, unit: str) -> Device:
    code = centre.code(unit, "c-1", unit_name="东区政务服务中心", counter_name="3号窗口")
    answer = requests.post(centre.url + "/v1/enroll", json={"code": code, "app_version": "0.1.0"}, timeout=TIMEOUT)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    return Device(centre, body["device_id"], body["secret"], body["config"], unit, "c-1")


def bad_review(device: Device, level: int = 1) -> str:
    rating = device.rating(level)
    reason = {"id": device.seq, "rating_uuid": rating["uuid"], "code": "attitude", "recorded_at": rating["recorded_at"]}
    answer = device.ingest(device.batch([rating], reasons=[reason]))
    assert answer.status_code == 200 and answer.json()["accepted"] == [rating["uuid"]], answer.text
    return str(rating["uuid"])


def call_back(device: Device, rating_uuid: str) -> None:
    """The citizen left a number on the terminal: its signed call-back request."""
    now = iso_utc(datetime.now(UTC))
    answer = device.request("POST", "/v1/callbacks", {"protocol": 1, "device_id": device.device_id, "sent_at": now,
                                                      "callbacks": [{"id": 1, "rating_uuid": rating_uuid,
                                                                     "phone": "13800138000",
                                                                     "consent_version": "0123456789abcdef",
                                                                     "requested_at": now}]})
    assert answer.status_code == 200 and answer.json()["stored"] == [1], answer.text


def rows(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(alert_deliveries).order_by(alert_deliveries.c.id)))


def email_rows(engine: Engine) -> list[Any]:
    return [row for row in rows(engine) if row.channel == "email"]


def wait_for(holds: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline, pause = time.monotonic() + timeout_s, threading.Event()
    while not holds():
        assert time.monotonic() < deadline, "not in time"
        pause.wait(0.05)


def test_a_bad_review_and_its_call_back_reach_the_duty_manager_and_the_robot_within_5_s(centre_db: str,
                                                                                         tmp_path: Path):
    port = free_port()
    with smtp_server(port) as box, http_receiver() as receiver:
        config = write_config(tmp_path / "centre.yaml", alerts_config(port, receiver.url))
        with start_centre(centre_db, "--config", str(config), strict=True) as centre:
            device = enrolled(centre, "u-e2e")
            duty.set_duty(centre.engine, "u-e2e", "duty@unit.test", "王经理")
            started = time.monotonic()
            rated = bad_review(device)
            _, recipients, mail = box.next(WITHIN_S)
            posted = receiver.next(WITHIN_S)
            assert time.monotonic() - started < WITHIN_S
            assert "housekeeping started" in "".join(centre.log)
            started = time.monotonic()
            call_back(device, rated)    # the deadline to call starts: the unit hears of it too
            _, _, called = box.next(WITHIN_S)
            called_post = receiver.next(WITHIN_S).json()
            assert time.monotonic() - started < WITHIN_S
    assert "回访请求" in called["Subject"] and "13800138000" not in called.get_content()
    assert called_post["event"] == "callback" and called_post["contact_due_at"] and called_post["joined"] is True
    assert recipients == ["duty@unit.test"]
    assert "东区政务服务中心" in mail["Subject"] and "3号窗口" in mail["Subject"] and "服务态度差" in mail.get_content()
    body = posted.json()
    assert body["unit_name"] == "东区政务服务中心" and body["level"] == 1 and body["reasons"] == ["attitude"]
    assert body["link"] == f"https://centre.test/console/cases/{body['case_id']}"


def test_a_dead_mail_server_delays_nothing_and_is_retried_until_it_answers(centre_db: str, tmp_path: Path):
    port = free_port()   # nobody listens there until the end
    with http_receiver() as receiver:
        config = write_config(tmp_path / "centre.yaml", alerts_config(port, receiver.url))
        with start_centre(centre_db, "--config", str(config)) as centre:
            device = enrolled(centre, "u-dead")
            duty.set_duty(centre.engine, "u-dead", "duty@unit.test", "王经理")
            started = time.monotonic()
            bad_review(device)
            receiver.next(WITHIN_S)
            assert time.monotonic() - started < WITHIN_S
            wait_for(lambda: (rows := email_rows(centre.engine)) and rows[0].attempts >= 1)
            first = email_rows(centre.engine)[0]
            wait_for(lambda: email_rows(centre.engine)[0].attempts >= 3)   # 0.5 s, then 1 s (the cap) apart
            again = email_rows(centre.engine)[0]
            assert again.next_attempt_at > first.next_attempt_at and again.delivered_at is None
            assert f"127.0.0.1:{port}" in again.last_error
            bad_review(device, 2)   # the retries hold no later alert back
            receiver.next(WITHIN_S)
            with smtp_server(port) as box:
                assert {box.next(WITHIN_S)[1][0], box.next(WITHIN_S)[1][0]} == {"duty@unit.test"}
            wait_for(lambda: all(row.delivered_at for row in email_rows(centre.engine)))
            scraped = requests.get(centre.url + "/metrics", timeout=TIMEOUT).text
    assert 'evaluator_alerts_delivered_total{channel="webhook",kind="bad_review"} 2.0' in scraped
    assert 'evaluator_alerts_delivered_total{channel="email",kind="bad_review"} 2.0' in scraped
    assert _value(scraped, 'evaluator_alerts_failed_total{channel="email"}') >= 2


def _value(scraped: str, series: str) -> float:
    line = next(line for line in scraped.splitlines() if line.startswith(series + " "))
    return float(line.rsplit(" ", 1)[1])


def test_with_several_workers_the_housekeeping_runs_once(tmp_path: Path):
    url = pg_url_or_skip("several workers need PostgreSQL")
    with http_receiver() as receiver, scratch_pg_database(url) as db:
        config = write_config(tmp_path / "centre.yaml", alerts_config(None, receiver.url))
        with start_centre(db, "--config", str(config), workers=2, strict=True) as centre:
            device = enrolled(centre, "u-workers")
            for level in (1, 2, 1):
                bad_review(device, level)
            cases = sorted(receiver.next(WITHIN_S).json()["case_id"] for _ in range(3))
            wait_for(lambda: all(row.delivered_at for row in rows(centre.engine)))   # recorded after the answer
            attempts = [row.attempts for row in rows(centre.engine)]
            scraped = requests.get(centre.url + "/metrics", timeout=TIMEOUT).text
        log = "".join(centre.log)
    assert len(set(cases)) == 3 and receiver.posted.empty() and attempts == [1, 1, 1]
    assert log.count("housekeeping started") == 1
    # The parent's counters join the workers' in the multiprocess folder: whichever worker answers sees them.
    assert 'evaluator_alerts_delivered_total{channel="webhook",kind="bad_review"} 3.0' in scraped
