"""What a unit hears of at once besides a bad review, on each backend: a call-back request (it opens a case, or
starts the open case's one-working-day call-back deadline) and a complaint (it opens the rating's case or joins
the open one), each as outbox rows of their own kind, through the real call-back and complaint functions; never
the citizen's number nor the complaint's words; each kind switched off per channel; delivered to a real SMTP
server (aiosmtpd)."""
from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, select

from centre import callbacks, cityconfig
from centre.alerts import delivery, duty
from centre.alerts.settings import AlertSettings
from centre.cityconfig import CityConfig
from centre.db.loop_tables import alert_deliveries
from centre.public.complaint import Filed
from contract import canonical_json, iso_utc
from tests.centre.alertkit import alerts_config, smtp_server
from tests.centre.casekit import MONDAY, Terminal, case_of, engine_fixture, terminal
from tests.centre.complaintkit import LATER, complain, link_of
from tests.centre.conftest import free_port

PHONE = "13800138000"
WORDS = "柜台的李某某推诿，我叫张三"      # the citizen's own words, which may name them
HOOK = "http://127.0.0.1:9/hook"
engine_on_each_backend = engine_fixture()


@pytest.fixture
def install() -> Iterator[Any]:
    """Install a city config's alerts for the queue (cityconfig.current()); the defaults again afterwards."""
    def put(smtp_port: int | None = 2525, **extra: Any) -> AlertSettings:
        alerts = AlertSettings.model_validate(alerts_config(smtp_port, HOOK, **extra))
        cityconfig.install(CityConfig(alerts=alerts))
        return alerts
    yield put
    cityconfig.install(cityconfig.DEFAULT)


def queued(engine: Engine) -> list[tuple[str, str, dict[str, Any]]]:
    """(kind, channel, payload) of each outbox row, oldest first."""
    with engine.connect() as conn:
        return [(row.kind, row.channel, row.payload) for row in conn.execute(
            select(alert_deliveries).order_by(alert_deliveries.c.id))]


def unit_with_duty(engine: Engine, unit_id: str = "u-news") -> Terminal:
    device = terminal(engine, unit_id)
    duty.set_duty(engine, unit_id, "duty@unit.test", "王经理")
    return device


def call_back(engine: Engine, device: Terminal, rating_uuid: str, row_id: int) -> None:
    data = {"protocol": 1, "device_id": device.device_id, "sent_at": iso_utc(MONDAY), "callbacks": [
        {"id": row_id, "rating_uuid": rating_uuid, "phone": PHONE, "consent_version": "0123456789abcdef",
         "requested_at": iso_utc(MONDAY)}]}
    assert callbacks.store_callbacks(engine, device.device_id, canonical_json(data)).stored == [row_id]


def test_a_call_back_on_a_bad_review_tells_the_unit_its_deadline_once(engine, install):
    install()
    device = unit_with_duty(engine)
    bad = device.rate(1)
    [(_, _, mail), (_, _, post)] = queued(engine)
    assert "群众未留电话，无需回访" in mail["text"] and post["contact_due_at"] is None
    call_back(engine, device, bad, 1)
    news = queued(engine)[2:]
    assert [(kind, channel) for kind, channel, _ in news] == [("callback", "email"), ("callback", "webhook")]
    [(_, _, mail), (_, _, post)] = news
    case = case_of(engine, bad)
    assert case["contact_due_at"] and post["contact_due_at"] == case["contact_due_at"]
    assert post["event"] == "callback" and post["joined"] is True and post["case_id"] == case["id"]
    assert mail["subject"].startswith(f"【满意度评价】回访请求 #{case['id']}")
    assert "回访期限自现在起计算" in mail["text"] and "deadline runs from now" in mail["text"]
    call_back(engine, device, bad, 2)                 # a second number for the case: no news
    assert len(queued(engine)) == 4
    assert PHONE not in json.dumps([payload for _, _, payload in queued(engine)], ensure_ascii=False)


def test_a_call_back_on_a_good_rating_opens_a_case_and_alerts(engine, install):
    install()
    device = unit_with_duty(engine)
    good = device.rate(5, reasons=())
    assert queued(engine) == []
    call_back(engine, device, good, 1)
    [(kind, _, mail), (_, _, post)] = queued(engine)
    assert kind == "callback" and post["joined"] is False and post["level"] == 5
    assert "回访工单" in mail["subject"] and "要求回访，已开立工单" in mail["text"]
    assert "评价原因：未选择原因" in mail["text"] and "差评" not in mail["text"]   # a good rating has no 差评原因
    assert post["text"].startswith("回访提醒：")


def test_a_complaint_alerts_whether_it_opens_or_joins_and_never_quotes_itself(engine, install):
    install()
    device = unit_with_duty(engine)
    good, bad = device.rate(4, reasons=()), device.rate(2)
    assert complain(engine, link_of(engine, device, good), WORDS, phone=PHONE) is Filed.STORED
    opened = queued(engine)[2:]          # after the bad review's two
    assert [(kind, channel) for kind, channel, _ in opened] == [("complaint", "email"), ("complaint", "webhook")]
    assert "投诉工单" in opened[0][2]["subject"] and opened[1][2]["joined"] is False
    assert opened[1][2]["contact_due_at"] == case_of(engine, good)["contact_due_at"]   # a number left: it runs
    assert opened[1][2]["opened_at"] == iso_utc(LATER)
    assert complain(engine, link_of(engine, device, bad), WORDS, n=1) is Filed.STORED
    joined = queued(engine)[4:]
    assert [kind for kind, _, _ in joined] == ["complaint", "complaint"]
    assert "投诉并入工单" in joined[0][2]["subject"] and joined[1][2]["joined"] is True
    assert joined[1][2]["opened_at"] == iso_utc(MONDAY)        # the bad review's case, opened before
    assert joined[1][2]["text"].startswith("投诉提醒：")
    everything = json.dumps([payload for _, _, payload in queued(engine)], ensure_ascii=False)
    assert PHONE not in everything and "张三" not in everything and "推诿" not in everything


def test_each_kind_is_switched_off_per_channel(engine, install):
    install(complaint_email=False, callback_webhook=False, bad_review_email=False, bad_review_webhook=False)
    device = unit_with_duty(engine)
    bad, good = device.rate(1), device.rate(5, reasons=())
    assert queued(engine) == []
    call_back(engine, device, bad, 1)
    assert complain(engine, link_of(engine, device, good)) is Filed.STORED
    assert [(kind, channel) for kind, channel, _ in queued(engine)] == [("callback", "email"),
                                                                       ("complaint", "webhook")]


def test_a_complaints_alert_reaches_a_real_smtp_server(engine, install):
    port = free_port()
    with smtp_server(port) as box:
        settings = install(port)
        device = unit_with_duty(engine, "u-mail")
        assert complain(engine, link_of(engine, device, device.rate(3, reasons=()))) is Filed.STORED
        outcome = delivery.deliver_due(engine, LATER, settings)
        _sender, recipients, mail = box.next()
    assert outcome.delivered == 1 and recipients == ["duty@unit.test"]   # the webhook's dead port: a retry
    assert "投诉工单" in mail["Subject"] and "Read the complaint in the case." in mail.get_content()
