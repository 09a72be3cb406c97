"""Alerts in-process, on each backend: the outbox rows the real ingest queues, their delivery to a real SMTP server
(aiosmtpd, plain, STARTTLS and implicit TLS with a CA of the test's own) and a real HTTP receiver, retries with
backoff against a dead server, the daily digest, the console's view of failures and the duty CLI.

The end to end (a real `evaluator centre serve --config` process, a real signed batch) is test_alerts_serve.py.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, update

from centre import callbacks, cityconfig
from centre.alerts import delivery, digest, duty, status, webhook
from centre.alerts.model import Channel, DeliveryState
from centre.alerts.settings import AlertSettings
from centre.cityconfig import CityConfig
from centre.db.engine import open_engine
from centre.db.loop_tables import alert_deliveries, cases
from centre.db.rows import utcnow
from contract import canonical_json, iso_utc
from tests.centre.alertkit import alerts_config, http_receiver, make_certs, smtp_server
from tests.centre.casekit import MONDAY, WEST, engine_fixture, terminal
from tests.centre.conftest import free_port

PHONE = "13800138000"
engine_on_each_backend = engine_fixture()


def settings(smtp_port: int | None, url: str | None, **extra: Any) -> AlertSettings:
    return AlertSettings.model_validate(alerts_config(smtp_port, url, **extra))


@pytest.fixture
def install() -> Iterator[Any]:
    """Install a city config for the ingest's queue (cityconfig.current()); the defaults again afterwards."""
    def put(alerts: AlertSettings) -> None:
        cityconfig.install(CityConfig(alerts=alerts))
    yield put
    cityconfig.install(cityconfig.DEFAULT)


def rows(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(row) for row in conn.execute(select(alert_deliveries).order_by(alert_deliveries.c.id))
                .mappings()]


def case_id(engine: Engine, rating_uuid: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(cases.c.id).where(cases.c.rating_uuid == rating_uuid)).scalar_one())


def test_a_bad_review_queues_one_row_per_channel_and_a_good_one_none(engine, install):
    install(settings(2525, "http://127.0.0.1:9/hook"))
    with_duty, without = terminal(engine, "u-duty"), terminal(engine, "u-none", WEST)
    duty.set_duty(engine, "u-duty", "duty@unit.test", "王经理")
    with_duty.rate(5)
    assert rows(engine) == []
    bad = with_duty.rate(1, reasons=("slow", "attitude"))
    without.rate(2)
    queued = rows(engine)
    assert [(row["channel"], row["target"], row["unit_id"]) for row in queued] == [
        ("email", "duty@unit.test", "u-duty"), ("webhook", "http://127.0.0.1:9/hook", "u-duty"),
        ("webhook", "http://127.0.0.1:9/hook", "u-none")]   # no duty address: no e-mail
    assert all(row["kind"] == "bad_review" and row["attempts"] == 0 and row["next_attempt_at"] == iso_utc(MONDAY)
               for row in queued)
    mail, post = queued[0]["payload"], queued[1]["payload"]
    link = f"https://centre.test/console/cases/{case_id(engine, bad)}"
    assert link in mail["text"] and "非常不满意" in mail["subject"] and "u-duty" in mail["subject"]
    assert mail["text"].index("办理效率低") < mail["text"].index("Too slow".lower())   # Chinese first, English below
    assert post["event"] == "bad_review" and post["link"] == link and post["level"] == 1
    assert sorted(post["reasons"]) == ["attitude", "slow"] and post["counter_id"] == "c-1" and post["rectify_due_at"]


def test_no_alert_names_the_citizen_even_when_a_number_was_left(engine, install):
    install(settings(2525, "http://127.0.0.1:9/hook"))
    unit = terminal(engine, "u-phone")
    duty.set_duty(engine, "u-phone", "duty@unit.test", "王经理")
    bad = unit.rate(1)
    data = {"protocol": 1, "device_id": unit.device_id, "sent_at": iso_utc(MONDAY), "callbacks": [
        {"id": 1, "rating_uuid": bad, "phone": PHONE, "consent_version": "0123456789abcdef",
         "requested_at": iso_utc(MONDAY)}]}
    assert callbacks.store_callbacks(engine, unit.device_id, canonical_json(data)).stored == [1]
    later = datetime.combine((utcnow() + timedelta(days=30)).date(), time(4), UTC)   # 12:00 in Shanghai
    assert digest.queue_digests(engine, later, settings(2525, None, digest={"enabled": True})) == 1
    queued = rows(engine)
    # the bad review's e-mail and post, the call-back's (its deadline starts: news to the unit), a digest
    assert [row["kind"] for row in queued] == ["bad_review", "bad_review", "callback", "callback", "digest"]
    assert PHONE not in json.dumps([row["payload"] for row in queued], ensure_ascii=False)


def test_alerts_are_delivered_to_a_real_smtp_server_and_a_real_receiver(engine, install, monkeypatch):
    monkeypatch.setenv("ALERT_TEST_SECRET", "s3cret")
    port = free_port()
    with smtp_server(port) as box, http_receiver() as receiver:
        config = settings(port, receiver.url, webhook={"signing": "hmac", "secret_env": "ALERT_TEST_SECRET"})
        install(config)
        unit = terminal(engine, "u-real")
        duty.set_duty(engine, "u-real", "duty@unit.test", "王经理")
        unit.rate(2, reasons=("wait",))
        outcome = delivery.deliver_due(engine, MONDAY, config)
        sender, recipients, mail = box.next()
        posted = receiver.next()
    assert outcome == delivery.PassOutcome(delivered=2)
    assert (sender, recipients) == ("pingjia@centre.test", ["duty@unit.test"])
    text = mail.get_content()
    assert "不满意" in mail["Subject"] and "等候时间长" in text and "Reasons: long wait" in text
    assert mail["Message-ID"].startswith("<alert-")
    timestamp = posted.headers["x-evaluator-timestamp"]
    assert posted.headers["x-evaluator-signature"] == webhook.signature("s3cret", timestamp, posted.body)
    assert posted.json()["unit_id"] == "u-real" and posted.headers["x-evaluator-delivery"]
    assert all(row["delivered_at"] == iso_utc(MONDAY) and row["next_attempt_at"] is None and row["attempts"] == 1
               for row in rows(engine))
    assert delivery.deliver_due(engine, MONDAY + timedelta(hours=1), config) == delivery.PassOutcome()


def test_a_dead_smtp_server_is_retried_with_backoff_and_holds_nothing_else(engine, install):
    port = free_port()   # nobody listens there (yet)
    with http_receiver() as receiver:
        config = settings(port, receiver.url, retry={"first_backoff_s": 60, "max_backoff_s": 600})
        install(config)
        unit = terminal(engine, "u-dead")
        duty.set_duty(engine, "u-dead", "duty@unit.test", "王经理")
        unit.rate(1)
        unit.rate(2)
        outcome = delivery.deliver_due(engine, MONDAY, config)
        assert receiver.next().json()["level"] in (1, 2) and receiver.next()
    assert outcome == delivery.PassOutcome(delivered=2, failed=2)   # both posts went, both e-mails failed
    mails = [row for row in rows(engine) if row["channel"] == "email"]
    assert all(row["attempts"] == 1 and f"127.0.0.1:{port}" in row["last_error"] for row in mails)
    assert {row["next_attempt_at"] for row in mails} == {iso_utc(MONDAY + timedelta(seconds=60))}
    now = MONDAY
    for attempts, wait_s in ((2, 120), (3, 240)):   # doubling
        now = datetime.fromisoformat(mails[0]["next_attempt_at"])
        assert delivery.deliver_due(engine, now - timedelta(seconds=1), config) == delivery.PassOutcome()
        assert delivery.deliver_due(engine, now, config).failed == 2
        mails = [row for row in rows(engine) if row["channel"] == "email"]
        assert all(row["attempts"] == attempts for row in mails)
        assert {row["next_attempt_at"] for row in mails} == {iso_utc(now + timedelta(seconds=wait_s))}
    with smtp_server(port) as box:
        later = datetime.fromisoformat(mails[0]["next_attempt_at"])
        assert delivery.deliver_due(engine, later, config).delivered == 2
        assert {box.next()[1][0], box.next()[1][0]} == {"duty@unit.test"}
    assert all(row["delivered_at"] == iso_utc(later) and row["last_error"] is None and row["attempts"] == 4
               for row in rows(engine) if row["channel"] == "email")


def test_attempts_run_out_and_the_console_sees_what_failed(engine, install):
    port = free_port()
    config = settings(port, "http://127.0.0.1:9/hook?key=ROBOTKEY", retry={"max_attempts": 2})
    install(config)
    unit = terminal(engine, "u-gone")
    duty.set_duty(engine, "u-gone", "duty@unit.test", "王经理")
    unit.rate(1)
    delivery.deliver_due(engine, MONDAY, config)
    with engine.connect() as conn:
        problems = status.delivery_problems(conn, MONDAY - timedelta(days=1))
        retrying = status.deliveries(conn, status.DeliveryFilters(state=DeliveryState.RETRYING))
    assert [(item.channel, item.target, item.retrying, item.gave_up) for item in problems] == [
        (Channel.EMAIL, "duty@unit.test", 1, 0), (Channel.WEBHOOK, "http://127.0.0.1:9/hook?…", 1, 0)]
    assert retrying.total == 2 and "ROBOTKEY" not in repr(retrying) + repr(problems)
    outcome = delivery.deliver_due(engine, MONDAY + timedelta(hours=1), config)
    assert outcome == delivery.PassOutcome(failed=2, gave_up=2)
    assert all(row["gave_up_at"] and row["next_attempt_at"] is None and row["attempts"] == 2 for row in rows(engine))
    assert delivery.deliver_due(engine, MONDAY + timedelta(days=1), config) == delivery.PassOutcome()
    with engine.connect() as conn:
        gone = status.deliveries(conn, status.DeliveryFilters(state=DeliveryState.GAVE_UP, unit_ids=["u-gone"]))
        assert [item.gave_up for item in status.delivery_problems(conn, MONDAY - timedelta(days=1))] == [1, 1]
    assert gone.total == 2 and all(item.last_error for item in gone.rows)


def test_a_webhook_answer_decides_what_fails(engine, install):
    with http_receiver(status=500) as receiver:
        config = settings(None, receiver.url)
        install(config)
        unit = terminal(engine, "u-hook")
        unit.rate(1)
        unit.rate(1)
        # A 5xx is the receiver's state: the second post of the pass is not tried.
        assert delivery.deliver_due(engine, MONDAY, config) == delivery.PassOutcome(failed=2)
        receiver.next()
        assert receiver.posted.empty()
        assert {row["last_error"] for row in rows(engine)} == {f"{receiver.url}: HTTP 500 ok"}
        receiver.status[0] = 400   # a 4xx is about the post: each is tried
        assert delivery.deliver_due(engine, MONDAY + timedelta(hours=1), config).failed == 2
        receiver.next(), receiver.next()
        receiver.status[0] = 204
        assert delivery.deliver_due(engine, MONDAY + timedelta(hours=2), config).delivered == 2


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_starttls_and_implicit_tls_with_a_login(tmp_path: Path, certs, install, monkeypatch, security):
    sqlite_engine = open_engine(f"sqlite:///{tmp_path / 'centre.db'}")
    monkeypatch.setenv("ALERT_TEST_SMTP_PASSWORD", "mail-pass")
    port = free_port()
    smtp = {"security": security, "ca_file": str(certs.ca_file), "username": "pingjia",
            "password_env": "ALERT_TEST_SMTP_PASSWORD"}
    config = settings(port, None, smtp=smtp)
    install(config)
    unit = terminal(sqlite_engine, f"u-{security}")
    duty.set_duty(sqlite_engine, f"u-{security}", "duty@unit.test", "王经理")
    with smtp_server(port, security=security, certs=certs, login=("pingjia", "mail-pass")) as box:
        unit.rate(1)
        assert delivery.deliver_due(sqlite_engine, MONDAY, config).delivered == 1
        assert box.next()[1] == ["duty@unit.test"]
        monkeypatch.setenv("ALERT_TEST_SMTP_PASSWORD", "wrong")
        unit.rate(1)
        assert delivery.deliver_due(sqlite_engine, MONDAY, config).failed == 1   # the login refused
    refused = rows(sqlite_engine)[-1]["last_error"]
    assert "535" in refused and "mail-pass" not in refused and "wrong" not in refused
    untrusted = settings(port, None, smtp={**smtp, "ca_file": None})   # the system's CAs never signed it
    with smtp_server(port, security=security, certs=certs):
        assert delivery.deliver_due(sqlite_engine, MONDAY + timedelta(days=1), untrusted).failed == 1
    assert "CERTIFICATE_VERIFY_FAILED" in rows(sqlite_engine)[-1]["last_error"]


def test_the_digest_is_queued_once_a_day_at_its_local_time(engine, install):
    config = settings(2525, None, digest={"enabled": True, "at_local": "08:30", "city_emails": ["city@office.test"],
                                          "district_emails": {WEST: ["west@office.test"]}})
    install(config)
    unit = terminal(engine, "u-digest", WEST)
    duty.set_duty(engine, "u-digest", "duty@unit.test", "王经理")
    quiet = terminal(engine, "u-quiet", WEST)
    duty.set_duty(engine, "u-quiet", "quiet@unit.test", "李经理")
    unit.rate(1)   # Monday 10:00: rectification due in 15 working days
    quiet.rate(5)
    with engine.begin() as conn:   # one case due within a working day, in the unit's calendar
        conn.execute(update(cases).values(rectify_due_at=iso_utc(MONDAY + timedelta(days=1, hours=14))))
    unit.rate(2)
    tuesday_early = MONDAY + timedelta(hours=22)   # Tuesday 08:00 in Shanghai
    assert digest.queue_digests(engine, tuesday_early, config) == 0
    tuesday = tuesday_early + timedelta(minutes=45)
    assert digest.queue_digests(engine, tuesday, config) == 3   # the unit (not the quiet one), the district, the city
    assert digest.queue_digests(engine, tuesday + timedelta(hours=5), config) == 0   # once a day
    queued = {row["target"]: row for row in rows(engine) if row["kind"] == "digest"}
    assert set(queued) == {"duty@unit.test", "west@office.test", "city@office.test"}
    text = queued["duty@unit.test"]["payload"]["text"]
    assert "临近 1" in queued["duty@unit.test"]["payload"]["subject"] and text.count("#") == 2   # one case, twice
    assert queued["duty@unit.test"]["unit_id"] == "u-digest" and queued["city@office.test"]["unit_id"] is None
    wednesday = tuesday + timedelta(days=1)   # the case is overdue now; a new day, a new digest
    assert digest.queue_digests(engine, wednesday, config) == 3
    latest = [row for row in rows(engine) if row["target"] == "duty@unit.test"][-1]["payload"]
    assert "逾期 1" in latest["subject"] and "OVERDUE" in latest["text"]


def test_the_citys_digest_goes_to_the_webhook_too_once_a_day(engine, install):
    with http_receiver() as receiver:
        config = settings(None, receiver.url, digest={"enabled": True, "at_local": "08:30"})   # no e-mail at all
        install(config)
        unit = terminal(engine, "u-robot")
        unit.rate(1)
        with engine.begin() as conn:   # due within a working day
            conn.execute(update(cases).values(rectify_due_at=iso_utc(MONDAY + timedelta(days=1, hours=14))))
        unit.rate(2)
        tuesday = MONDAY + timedelta(hours=22, minutes=45)   # Tuesday 08:45 in Shanghai
        assert digest.queue_digests(engine, tuesday, config) == 1
        assert digest.queue_digests(engine, tuesday + timedelta(hours=5), config) == 0   # once a day
        assert delivery.deliver_due(engine, tuesday, config).delivered == 3   # two bad reviews' posts, the digest
        posts = [receiver.next().json() for _ in range(3)]
    [post] = [post for post in posts if post["event"] == "digest"]
    assert (post["day"], post["overdue"], post["near"], post["more"]) == ("2026-03-03", 0, 1, 0)
    assert post["text"].startswith("工单期限提醒 2026-03-03：逾期 0 件，临近 1 件。")
    assert [case["deadline"] for case in post["cases"]] == ["rectify"] and post["cases"][0]["link"].endswith(
        f"/console/cases/{post['cases'][0]['case_id']}")
    off = settings(None, "http://127.0.0.1:9/hook", digest={"enabled": True, "webhook": False})
    assert digest.queue_digests(engine, tuesday + timedelta(days=1), off) == 0


def test_the_duty_cli(tmp_path: Path, capsys):
    from centre.cli import main

    url = f"sqlite:///{tmp_path / 'centre.db'}"
    engine = open_engine(url)
    terminal(engine, "u-cli")
    assert main(["duty", "set", "--unit", "u-cli", "--email", "duty@unit.test", "--name", "王经理", "--db", url]) == 0
    assert main(["duty", "set", "--unit", "u-cli", "--email", "new@unit.test", "--name", "李经理", "--db", url]) == 0
    assert main(["duty", "list", "--json", "--db", url]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].endswith("(replaced)") and json.loads(out[2])[0]["email"] == "new@unit.test"
    assert main(["duty", "set", "--unit", "nowhere", "--email", "a@b.test", "--name", "x", "--db", url]) == 2
    assert main(["duty", "set", "--unit", "u-cli", "--email", "not-an-address", "--name", "x", "--db", url]) == 2
    errors = capsys.readouterr().err
    assert "unit 'nowhere' is not registered" in errors and "--email: not an e-mail address" in errors
    assert main(["duty", "remove", "--unit", "u-cli", "--db", url]) == 0
    assert duty.list_duty(engine) == []
